"""Loading and chunking one file in a process of its own, under hard limits.

The loaders' limits (``LoadLimits``) are checked between pages, blocks and rows; they
cannot interrupt one long call into a parser (lxml, pypdf's decompression), and the
parsing holds the interpreter lock of the process it runs in. Background uploads
therefore load in a fresh child process (``spawn``: no copy of the server's threads or
models) with its address space capped at ``kb_job_memory_mb`` and killed after
``kb_load_seconds``: whatever a file does, the server's memory and its other requests'
latency are untouched, and the upload ends with a ``LimitError`` naming the setting.
"""

from __future__ import annotations

import multiprocessing
import resource
from pathlib import Path
from typing import Any

from charter.core.errors import CharterError
from charter.knowledge.chunking import Chunk, chunk_document
from charter.knowledge.loaders import (
    LimitError,
    LoadedDocument,
    LoaderError,
    LoadLimits,
    RecordOptions,
    load,
)

STARTUP_S = 30.0  # a child's own start (interpreter and imports), before the limit runs

Loaded = list[tuple[LoadedDocument, list[Chunk]]]


def _worker(conn: Any, path: str, records: RecordOptions, limits: LoadLimits, size: int,
            overlap: int, memory_mb: int) -> None:
    limit = memory_mb << 20
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)  # a process may not raise its own hard limit
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError) as exc:
        conn.send(("unstarted", f"the process that reads uploads could not cap its memory "
                                f"({exc})"))
        conn.close()
        return
    conn.send(("started", None))  # the interpreter and imports are up: the clock starts
    try:
        docs = load(Path(path), records, limits)
        out = [(d, chunk_document(d, size=size, overlap=overlap)) for d in docs]
        conn.send(("ok", out))
    except MemoryError:
        conn.send(("limit", _memory_message(memory_mb)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, never raised there
        # A parser that ran out of memory often says only "unknown error" (lxml): a
        # failure after the process came near its cap is reported as the cap.
        if _peak_bytes() >= limit // 2:
            conn.send(("limit", _memory_message(memory_mb)))
        elif isinstance(exc, LoaderError):
            conn.send(("limit" if isinstance(exc, LimitError) else "error", exc.message))
        else:
            conn.send(("error", f"cannot read the file ({type(exc).__name__})"))
    finally:
        conn.close()


def _memory_message(memory_mb: int) -> str:
    return (f"reading the file needed more than {memory_mb:,} MiB, over the limit set by "
            "kb_job_memory_mb; split the file, or raise the setting")


def _peak_bytes() -> int:
    """This process's peak virtual size (what RLIMIT_AS caps)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024
    return 0


class LoaderProcessError(CharterError):
    """The child process that reads a file could not be started (not the file's fault)."""

    status = 503
    code = "loader_unavailable"


def load_isolated(path: Path, records: RecordOptions, limits: LoadLimits, *, size: int,
                  overlap: int, memory_mb: int) -> Loaded:
    """``load`` and ``chunk_document`` for ``path`` in a child process (see the module)."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_worker, name="charter-load", daemon=True,
                        args=(send, str(path), records, limits, size, overlap, memory_mb))
    child.start()
    send.close()
    try:
        _await_start(receive, child)
        if not receive.poll(limits.seconds):
            raise LimitError(f"reading the file took more than {limits.seconds:g} s, over "
                             "the limit set by kb_load_seconds; split the file, or raise "
                             "the setting")
        try:
            kind, payload = receive.recv()
        except EOFError:  # the child died without a word: killed for memory
            raise LimitError(_memory_message(memory_mb)) from None
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
    if kind == "ok":
        return payload  # type: ignore[no-any-return]
    raise (LimitError if kind == "limit" else LoaderError)(payload)


def _await_start(receive: Any, child: Any) -> None:
    """Wait (at most ``STARTUP_S``) for the child's "started": the file's clock starts
    only then, so a slow start is never blamed on the file, nor a file on the start."""
    try:
        if not receive.poll(STARTUP_S):
            raise LoaderProcessError(
                f"the process that reads uploads did not start within {STARTUP_S:g} s (the "
                "server is overloaded); nothing was changed: try again")
        kind, payload = receive.recv()
    except EOFError:  # died before it could say a word (an import failed, or a signal)
        child.join(timeout=5)
        raise LoaderProcessError(
            f"the process that reads uploads stopped while starting, before it read the "
            f"file (exit code {child.exitcode}); the server log has its error") from None
    if kind != "started":
        raise LoaderProcessError(f"{payload}; nothing was changed")
