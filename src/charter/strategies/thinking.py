"""The thinking strategy: plan, research, write, review, revise once.

1. **Plan**: the question is split into the parts it asks (``strategies.plan``).
2. **Research**: one search per part, inside the asker's access (``Research.search``);
   a one-part question uses the passages the gateway already found for it. Passages of
   all parts are pooled and numbered once, so every citation points at one passage.
3. **Write**: the route's model answers each part from that part's passages (the
   extractive composer on the offline defaults, any chat model otherwise), each in its
   own prompt with the request's charter and instructions (``Research.prompt``).
4. **Review**: every sentence is checked against the passages it cites
   (``knowledge.support``); an unsupported sentence is dropped. A part with no
   supported sentence left is missing.
5. **Revise** once: a missing part is searched again, with the subject of the part
   before it when it leans on it (a multi-hop question names its bridge in the earlier
   answer), else with the subject of the whole question, and written again from the old
   and the new passages.

When no search finds a passage (no documents, or none the asker may read), the request
is answered as it came, in one call. The parts' answers are joined in order; a part still missing is named, so the user
knows what the sources did not answer. When no part is answered the answer is the
composer's plain "not found" statement. The run is bounded by an agents ``Budget``
(model steps, searches, tokens, seconds): a step the budget does not allow is not
taken, and the answer is made from what was written, with the bound in the note.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from charter.agents.budget import Spent, exhausted
from charter.agents.spec import Budget
from charter.backends.base import ChatModel
from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatRequest, Completion, Passage, StreamChunk, Usage
from charter.core.routes import THINKING
from charter.knowledge.support import SUPPORTED, claims
from charter.strategies.base import AnsweringModel, Research
from charter.strategies.plan import Part, plan, subject


@dataclass
class _Pool:
    """Passages of every part, numbered once (a passage found twice keeps its number)."""

    passages: list[Passage] = field(default_factory=list)
    _by_key: dict[str, int] = field(default_factory=dict)

    def add(self, found: Sequence[Passage]) -> list[Passage]:
        """``found`` as members of the pool, with their pool numbers."""
        out = []
        for p in found:
            key = p.passage_id or f"{p.document}\n{p.text}"
            n = self._by_key.get(key)
            if n is None:
                n = len(self.passages) + 1
                self._by_key[key] = n
                self.passages.append(replace(p, n=n))
            out.append(self.passages[n - 1])
        return out


@dataclass
class _Draft:
    part: Part
    passages: list[Passage]
    text: str = ""
    kept: list[str] = field(default_factory=list)  # supported sentences, with markers
    dropped: int = 0
    revised: bool = False

    @property
    def answered(self) -> bool:
        return bool(self.kept)


class ThinkingStrategy(AnsweringModel):
    """Answers a question part by part from its own searches (see the module)."""

    name = THINKING

    def __init__(self, model: ChatModel, alias: AliasConfig, research: Research | None, *,
                 budget: Budget, max_parts: int = 4) -> None:
        self.model, self.alias = model, alias
        self.research = research
        self.budget = budget
        self.max_parts = max_parts

    @property
    def generates_in_process(self) -> bool:
        return False  # the answer is assembled from reviewed parts, whole

    # -- the steps ---------------------------------------------------------------------

    def complete(self, request: ChatRequest) -> Completion:
        if self.research is None or request.tools:
            # Nowhere to search, or an agent's step that may call its own tools: one call.
            return self.model.complete(request)
        run = _Run(self, request)
        return run.go()

    def stream(self, request: ChatRequest) -> Iterator[StreamChunk]:
        # Parts are reviewed whole, so the answer streams as one piece once it is ready.
        # The passages come with the text, before it: the gateway checks the text's
        # citations against them as it leaves.
        done = self.complete(request)
        yield StreamChunk(text=done.text, passages=done.passages)
        yield StreamChunk(usage=done.usage, finish_reason=done.finish_reason, note=done.note)


class _Run:
    """One request's plan, searches, drafts and what they spent."""

    def __init__(self, strategy: ThinkingStrategy, request: ChatRequest) -> None:
        self.s = strategy
        assert strategy.research is not None
        self.research: Research = strategy.research
        self.request = request
        self.pool = _Pool()
        self.spent = Spent()
        self.usage = Usage()
        self.stopped: str | None = None
        self.searches = 0

    def _allowed(self, kind: str) -> bool:
        """Whether the budget allows one more step of ``kind`` (``tool``: a search,
        ``model``: a write); the first bound that refused one is kept for the note."""
        reason = exhausted(self.s.budget, self.spent, next_step=kind)
        if reason is not None and self.stopped is None:
            self.stopped = reason
        return reason is None

    def _search(self, query: str) -> list[Passage]:
        began = time.perf_counter()
        found = self.research.search(query)
        self.spent = self.spent.plus(tool_calls=1, seconds=time.perf_counter() - began)
        self.searches += 1
        return self.pool.add(found)

    def _write(self, draft: _Draft) -> None:
        began = time.perf_counter()
        chat = self.research.prompt(draft.part.query, draft.passages,
                                    window=self.s.model.context_window,
                                    count=self.s.model.count_tokens)
        chat = replace(chat, max_tokens=chat.max_tokens or self.request.max_tokens,
                       temperature=self.request.temperature, seed=self.request.seed)
        done = self.s.model.complete(chat)
        self.usage = self.usage + done.usage
        self.spent = self.spent.plus(steps=1, seconds=time.perf_counter() - began,
                                     tokens=done.usage.prompt_tokens
                                     + done.usage.completion_tokens)
        draft.text = done.text
        self._review(draft)

    def _review(self, draft: _Draft) -> None:
        """Keeps the sentences their cited passages support; counts the rest."""
        draft.kept, draft.dropped = [], 0
        for claim in claims(draft.text, self.pool.passages):
            if claim.cites and claim.support >= SUPPORTED:
                marks = "".join(f" [{n}]" for n in claim.cites)
                draft.kept.append(f"{claim.text}{marks}")
            elif claim.text not in (NOT_FOUND, NO_SOURCES):  # the composer's abstention
                draft.dropped += 1

    def _second_query(self, drafts: list[_Draft], i: int) -> str:
        part = drafts[i].part
        before = next((d for d in reversed(drafts[:i]) if d.answered), None)
        if before is not None:  # the earlier answer names what this part is about
            bridge = subject(" ".join(before.kept))
            if bridge:
                return f"{part.ask} ({bridge})"
        whole = subject(self.request.question)
        return f"{part.ask} ({whole})" if whole else part.ask

    def go(self) -> Completion:
        parts = plan(self.request.question, self.s.max_parts) or (
            Part(self.request.question, self.request.question),)
        drafts: list[_Draft] = []
        for part in parts:
            if len(parts) == 1:  # the gateway has searched for this very question
                found = self.pool.add(self.request.passages)
            elif self._allowed("tool"):
                found = self._search(part.query)
            else:
                found = []
            drafts.append(_Draft(part, found))
        if not self.pool.passages and self._allowed("model"):
            return self._unsourced()
        for draft in drafts:
            if draft.passages and self._allowed("model"):
                self._write(draft)
        for i, draft in enumerate(drafts):
            if draft.answered or not (self._allowed("tool") and self._allowed("model")):
                continue
            query = self._second_query(drafts, i)
            more = self._search(query)
            known = {p.n for p in draft.passages}
            fresh = [p for p in more if p.n not in known]
            draft.revised = True
            if fresh and self._allowed("model"):
                draft.passages = [*draft.passages, *fresh]
                draft.part = replace(draft.part, query=query)
                self._write(draft)
        return self._compose(drafts)

    def _unsourced(self) -> Completion:
        """No search found anything (no documents, or none the asker may read): the
        request as it came, in one call, as the quick route would answer it."""
        done = self.s.model.complete(self.request)
        note = (f"thinking: no passages in {self.searches} search(es); answered in one call")
        return replace(done, usage=self.usage + done.usage, note=note)

    def _compose(self, drafts: list[_Draft]) -> Completion:
        answered = [d for d in drafts if d.answered]
        paragraphs, said = [], set()
        for d in drafts:
            if not d.answered:
                paragraphs.append(f"The sources I can see do not answer this part: {d.part.ask}")
                continue
            fresh = [k for k in d.kept if k not in said]  # an earlier part said the rest
            said.update(fresh)
            if fresh:
                paragraphs.append(" ".join(fresh))
        text = "\n\n".join(paragraphs) if answered else NOT_FOUND
        cited = {n for d in answered for c in claims(" ".join(d.kept), self.pool.passages)
                 for n in c.cites}
        note = (f"thinking: {len(drafts)} part(s), {len(answered)} answered; "
                f"{self.searches} search(es), {self.spent.steps} write(s); "
                f"revised {sum(d.revised for d in drafts)}, "
                f"dropped {sum(d.dropped for d in drafts)} unsupported sentence(s)")
        if self.stopped:
            note += f"; stopped early: {self.stopped}"
        # The passages the answer cites first, then the others the parts read.
        ordered = tuple(p for p in self.pool.passages if p.n in cited) + tuple(
            p for p in self.pool.passages if p.n not in cited)
        return Completion(text=text, usage=self.usage, model=self.s.model_id, note=note,
                          passages=ordered)
