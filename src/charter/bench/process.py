"""CPU time and peak memory of a server process and every process under it (Linux /proc).

A server's CPU per request is the CPU its process tree spent over a run divided by the
requests; workers started by the server (``--workers N``, LiteLLM's ``--num_workers``)
are its descendants and are counted, and so are children that already exited (the
kernel adds their time to the parent's ``cutime``/``cstime``).
"""

from __future__ import annotations

import os
from pathlib import Path

from charter.core.errors import CharterError

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    return raw[raw.rindex(")") + 2:].split()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of the tree under ``pid``, exited children included."""
    if not Path("/proc").is_dir():
        raise CharterError("CPU per request is read from /proc, which this system lacks")
    total = 0
    for p in tree(pid):
        fields = _stat(p)
        if fields is not None:  # fields 14-17 of stat: utime stime cutime cstime
            total += sum(int(x) for x in fields[11:15])
    return total / _TICKS


def peak_rss_mb(pid: int) -> float:
    """The sum over the tree of each process's peak resident memory (VmHWM), in MiB."""
    total_kb = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return round(total_kb / 1024, 1)
