"""The pro strategy: N drafts in parallel, then a judge (the thinking model) picks one.

Drafts use different seeds so a deterministic backend still gives distinct drafts when
it can. The judge sees the question and the numbered drafts and answers with a number;
an answer it cannot parse, or a failing judge, falls back to the first draft that did
not fail (and the notes say so). Usage adds up every call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from charter.backends.base import ChatModel
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest, Completion, StreamChunk, Usage
from charter.core.errors import BackendError, CharterError, ContextOverflowError
from charter.core.routes import PRO
from charter.prompt import judge_prompt
from charter.strategies.base import AnsweringModel

_NUMBER = re.compile(r"\b(\d+)\b")


@dataclass(frozen=True)
class ProOutcome:
    completion: Completion
    drafts: int
    chosen: int  # 1-based
    note: str


def run(model: ChatModel, judge: ChatModel, request: ChatRequest, drafts: int = 3) -> ProOutcome:
    seeds = [(request.seed or 0) + i for i in range(drafts)]
    with ThreadPoolExecutor(max_workers=drafts, thread_name_prefix="charter-pro") as pool:
        futures = [pool.submit(model.complete, replace(request, seed=s)) for s in seeds]
        results: list[Completion | CharterError] = []
        for f in futures:
            try:
                results.append(f.result())
            except CharterError as exc:
                results.append(exc)
    ok = [(i, r) for i, r in enumerate(results, start=1) if isinstance(r, Completion)]
    if not ok:
        first = results[0]
        assert isinstance(first, CharterError)
        raise first
    usage = Usage()
    for _, r in ok:
        usage = usage + r.usage
    if len(ok) == 1:
        i, only = ok[0]
        return ProOutcome(replace(only, usage=usage), drafts, i, f"1 of {drafts} drafts succeeded")
    texts = [r.text for _, r in ok]
    try:
        verdict = judge.complete(ChatRequest(
            messages=[ChatMessage("user", judge_prompt(request.question, texts))],
            max_tokens=8, temperature=0.0, seed=request.seed))
        usage = usage + verdict.usage
        m = _NUMBER.search(verdict.text)
        pick = int(m.group(1)) if m else 0
        note = f"judge picked draft {pick} of {len(ok)}"
        if not 1 <= pick <= len(ok):
            pick, note = 1, f"judge reply {verdict.text.strip()[:40]!r} unclear: first draft kept"
    except (BackendError, ContextOverflowError) as exc:  # down, or the drafts do not fit
        pick, note = 1, f"judge failed ({exc.code}): first draft kept"
    idx, chosen = ok[pick - 1]
    return ProOutcome(replace(chosen, usage=usage), drafts, idx, note)


class ProStrategy(AnsweringModel):
    """``drafts`` parallel drafts from the route's alias, judged by the judge alias."""

    name = PRO

    def __init__(self, model: ChatModel, alias: AliasConfig, judge: ChatModel,
                 judge_alias: AliasConfig, *, drafts: int = 3) -> None:
        self.model, self.alias = model, alias
        self.judge, self.judge_alias = judge, judge_alias
        self.drafts = drafts

    @property
    def aliases(self) -> tuple[AliasConfig, ...]:
        return (self.alias, self.judge_alias)

    @property
    def generates_in_process(self) -> bool:
        return False  # drafts run in parallel, whole

    def complete(self, request: ChatRequest) -> Completion:
        outcome = run(self.model, self.judge, request, drafts=self.drafts)
        return replace(outcome.completion, note=outcome.note)

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        # Drafts are judged whole, so the chosen answer streams as one piece.
        done = self.complete(request)
        yield StreamChunk(text=done.text)
        yield StreamChunk(usage=done.usage, finish_reason=done.finish_reason, note=done.note)
