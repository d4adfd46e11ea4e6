"""Tokens per second through Charter's llamacpp backend versus llama-cpp-python called directly.

Both sides load the same GGUF with the same context size and threads, get the same
prompt and sampling settings (greedy, same seed, same stop strings), and run
interleaved so that drift in machine load hits both alike. The figure is the ratio
of medians; 1.0 means Charter adds nothing measurable.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

from charter.core.chat import ChatMessage, ChatRequest
from charter.backends.llamacpp import (
    TRANSCRIPT_STOPS,
    LlamaCppChat,
    LlamaCppOptions,
    render_transcript,
    resolve_gguf,
)
from charter.core.config import Settings

PROMPT = "Write two sentences about audit trails."


@dataclass(frozen=True)
class GenerateBench:
    charter_tps: float
    raw_tps: float
    ratio: float
    runs: int
    tokens_per_run: float


def run(settings: Settings, *, model: str = "packaged", runs: int = 5, max_tokens: int = 128,
        prompt: str = PROMPT) -> GenerateBench:
    from llama_cpp import Llama

    path = resolve_gguf(model)
    threads = settings.llamacpp_threads or (os.cpu_count() or 1)
    n_ctx = settings.llamacpp_context
    charter = LlamaCppChat(model, LlamaCppOptions(temperature=0.0, max_tokens=max_tokens,
                                                  n_threads=threads, n_ctx=n_ctx), settings)
    raw = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads, verbose=False)
    text = render_transcript([ChatMessage("user", prompt)])

    def raw_call(seed: int) -> tuple[int, float]:
        t0 = time.perf_counter()
        out = raw.create_completion(text, max_tokens=max_tokens, temperature=0.0, seed=seed,
                                    stop=list(TRANSCRIPT_STOPS))
        return out["usage"]["completion_tokens"], time.perf_counter() - t0

    def charter_call(seed: int) -> tuple[int, float]:
        t0 = time.perf_counter()
        out = charter.complete(ChatRequest([ChatMessage("user", prompt)], max_tokens=max_tokens,
                                           temperature=0.0, seed=seed))
        return out.usage.completion_tokens, time.perf_counter() - t0

    raw_call(0)
    charter_call(0)  # warm both: first calls pay for allocation
    raw_tps: list[float] = []
    charter_tps: list[float] = []
    tokens: list[int] = []
    for i in range(runs):
        order = (raw_call, charter_call) if i % 2 == 0 else (charter_call, raw_call)
        for fn in order:
            n, dt = fn(i + 1)
            (raw_tps if fn is raw_call else charter_tps).append(n / dt)
            tokens.append(n)
    c, r = statistics.median(charter_tps), statistics.median(raw_tps)
    return GenerateBench(round(c, 2), round(r, 2), round(c / r, 4), runs,
                         statistics.mean(tokens))
