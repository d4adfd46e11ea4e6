"""Fitting a request to the answering model's context window.

A model reads its prompt and writes its answer in one window of tokens. When the alias
says how large that window is (``context_window``, or a local model's ``n_ctx``), the
prompt is counted with the model's own tokenizer (or an estimate for a remote one) and:

* retrieved passages are left out, weakest first, until the prompt leaves room for the
  answer: the request's ``max_tokens`` or the alias's default, whichever is smaller (a
  client asking for "as much as you can" keeps its sources);
* ``max_tokens`` is capped at the room left, so the backend never fails on it (an answer
  cut there ends with ``finish_reason: length``);
* a conversation that leaves less than ``MIN_ANSWER_TOKENS`` even without passages is
  refused with a 400 (``context_length_exceeded``) saying how far over it is.

Without a known window nothing is changed: the backend is the judge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from charter.core.chat import ChatRequest, Passage
from charter.core.errors import ContextOverflowError

MIN_ANSWER_TOKENS = 16


@dataclass(frozen=True)
class Fitted:
    request: ChatRequest
    passages: tuple[Passage, ...]  # those the prompt kept
    left_out: int  # passages dropped to fit
    prompt_tokens: int  # 0 when the window is not known


def fit(build: Callable[[Sequence[Passage]], ChatRequest], passages: Sequence[Passage], *,
        window: int | None, count: Callable[[str], int], requested: int | None,
        default: int, alias: str) -> Fitted:
    """The request ``build(passages)`` makes, fitted to ``window`` tokens."""
    kept = list(passages)
    request = build(kept)
    if window is None:
        return Fitted(request, tuple(kept), 0, 0)
    wanted = requested or default
    reserve = min(wanted, default)
    used = _tokens(request, count)
    while kept and used + reserve > window:
        kept.pop()  # passages come best first: the weakest goes
        request = build(kept)
        used = _tokens(request, count)
    room = window - used
    if room < MIN_ANSWER_TOKENS:
        raise ContextOverflowError(
            f"the conversation takes about {used:,} tokens and model alias {alias!r} reads "
            f"{window:,} in all, its answer included; shorten the conversation (or leave out "
            "earlier turns) and send it again")
    return Fitted(replace(request, max_tokens=min(wanted, room)), tuple(kept),
                  len(passages) - len(kept), used)


def _tokens(request: ChatRequest, count: Callable[[str], int]) -> int:
    return sum(count(m.content) for m in request.messages)
