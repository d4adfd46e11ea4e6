"""The charter, enforced: input screening, passage screening and output screening.

Uses the approved charter version from the database (re-read when a new version is
approved), the layered classifier, Presidio-based PII redaction and the injection
detector. Every decision carries the charter version that made it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from charter.core.principal import Principal
from charter.core.chat import ChatMessage, ChatRequest, Passage, question_of
from charter.backends.base import ChatModel, Embedder
from charter.policy.classify import CategoryModel, Classification, PolicyClassifier
from charter.policy.injection import InjectionDetector, InjectionVerdict
from charter.policy.pii import PiiDetector, Span
from charter.policy.pii_model import EntityTagger
from charter.policy.gates import is_own_reply, own_replies
from charter.policy.schema import Charter, parse_charter
from charter.core.result import Decision
from charter.policy.screen import (
    NEUTRALISED,
    InputScreen,
    OutputScreen,
    PassageScreen,
    redacted_request,
)
from charter.policy.versions import PolicyRepository
from charter.store.db import Database


@dataclass(frozen=True)
class Assessment:
    classification: Classification
    spans: list[Span]
    redacted: str
    injection: InjectionVerdict
    vector: list[float] | None = None


# Characters of a streamed answer held back while the charter redacts answers: longer
# than any entity it redacts (a card number with spaces, an IBAN, an e-mail address).
ANSWER_HOLD = 64
# How strict each action is: a conversation's decision is its strictest part's.
SEVERITY = {"allow": 0, "safe_complete": 1, "hold_for_review": 2, "refuse": 3}
# Earlier parts of conversations are assessed again on every turn; their assessments are
# kept (per charter version) for this many distinct texts.
EARLIER_PARTS_CACHED = 4096
OTHER_VERSIONS_KEPT = 4  # assessors of charter versions other than the enforced one
# Redactions for external backends are kept for texts up to this long (4,096 of them at
# most: a few tens of MB however many large messages callers send).
REDACTION_CACHED_CHARS = 8192


class Assessor:
    """Everything input screening computes for one text, with one embedding call."""

    def __init__(self, charter: Charter, embedder: Embedder | None,
                 judge: ChatModel | None = None, injection: InjectionDetector | None = None,
                 version: int = 0, model: CategoryModel | None = None,
                 pii_model: EntityTagger | None = None) -> None:
        self.charter = charter
        self.version = version
        self.model_id = model.id if model is not None else None
        self.pii_model_id = pii_model.id if pii_model is not None else None
        self.own_replies = own_replies(charter)
        self.embedder = embedder
        self.classifier = PolicyClassifier(charter, embedder, judge=judge, model=model)
        self.pii = PiiDetector(list(charter.pii.entities), tagger=pii_model)
        self.injection = injection or InjectionDetector(embedder)

    def assess(self, text: str) -> Assessment:
        redacted, spans = self.pii.redact(text)
        # Classify without the personal details: whose address is in a request should not
        # change what kind of request it is.
        neutral = self.pii.neutral(text, spans)
        vector = self.embedder.embed_queries([neutral])[0] if self.embedder is not None else None
        classification = self.classifier.classify(neutral, vector)
        verdict = self.injection.check_vector(text, vector)
        return Assessment(classification, spans, redacted, verdict, vector)

    def decision(self, found: Assessment) -> Decision:
        """What the charter decides about one assessed text."""
        result, charter = found.classification, self.charter
        if result.category is None:
            return Decision(action="allow", tier="minimal",
                            evidence=f"{result.layer}: {result.evidence}",
                            confidence=round(result.confidence, 3), policy_version=self.version)
        category = charter.category(result.category)
        return Decision(
            action=charter.action_for(category), tier=category.tier, category=category.id,
            reason=category.reason or category.description,
            alternatives=tuple(category.alternatives),
            evidence=f"{result.layer}: {result.evidence}",
            confidence=round(result.confidence, 3), policy_version=self.version,
            safe_completion=category.safe_completion or None,
            answer_with_model=category.answer_with_model,
        )


def conversation_parts(messages: Sequence[ChatMessage],
                       instructions: str = "") -> list[tuple[str, str]]:
    """Every client-supplied text of a request but its question, named for the user:
    system messages, earlier user turns, assistant turns the client sent, instructions."""
    question_at = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    parts = []
    for i, m in enumerate(messages):
        if i == question_at or not m.content.strip():
            continue
        what = {"system": "a system message", "user": "an earlier message",
                "assistant": "an assistant turn the client sent"}[m.role]
        parts.append((f"{what} (message {i + 1})", m.content))
    if instructions.strip():
        parts.append(("the custom instructions", instructions))
    return parts


def _part_key(assessor: Assessor, text: str) -> tuple[int, str | None, str | None, str]:
    """What an earlier part's decision depends on: the charter version, both models, the
    text."""
    return (assessor.version, assessor.model_id, assessor.pii_model_id,
            hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class _Part:
    """An earlier part of a conversation, as screening decided it."""

    decision: Decision
    injection: str | None


class CharterScreen:
    """Screens requests and answers against the approved charter."""

    def __init__(self, db: Database, embedder: Callable[[], Embedder | None], *,
                 judge: Callable[[], ChatModel | None] | None = None,
                 model: Callable[[], CategoryModel | None] | None = None,
                 pii_model: Callable[[], EntityTagger | None] | None = None) -> None:
        self.policies = PolicyRepository(db)
        self._embedder_factory = embedder
        self._judge_factory = judge
        self._model_factory = model
        self._pii_model_factory = pii_model
        self._lock = threading.Lock()
        self._version = -1
        self._charter: Charter | None = None
        self._assessor: Assessor | None = None
        self._injection: InjectionDetector | None = None
        # Redactions for external backends, by (detector, text digest); the detector is
        # kept with each so an id reused by a later detector never matches.
        self._redactions: OrderedDict[tuple[int, str], tuple[PiiDetector, str]] = OrderedDict()
        self._earlier: OrderedDict[tuple[int, str | None, str | None, str], _Part] = OrderedDict()
        # Assessors of versions other than the enforced one (a rollout's challenger).
        self._others: OrderedDict[tuple[int, str | None, str | None], Assessor] = OrderedDict()

    def _current(self) -> tuple[int, Charter, PolicyClassifier, PiiDetector, InjectionDetector]:
        a = self.assessor()
        return self._version, a.charter, a.classifier, a.pii, a.injection

    def assessor(self) -> Assessor:
        """The assessor of the approved charter version with the active charter and PII
        models; built again when any of them changes."""
        number = self.policies.active_number()
        model = self._model_factory() if self._model_factory else None
        model_id = model.id if model is not None else None
        pii_model = self._pii_model_factory() if self._pii_model_factory else None
        pii_id = pii_model.id if pii_model is not None else None
        with self._lock:
            current = self._assessor
            if (number != self._version or current is None or current.model_id != model_id
                    or current.pii_model_id != pii_id):
                _, charter = self.policies.active()
                judge = self._judge_factory() if self._judge_factory else None
                embedder = self._embedder_factory()
                self._assessor = Assessor(charter, embedder, judge,
                                          self._injection_locked(embedder),
                                          version=number, model=model, pii_model=pii_model)
                self._version = number
            return self._assessor

    def assessor_for(self, number: int) -> Assessor:
        """An assessor of charter version ``number`` (approved or not: an evaluation may
        measure a proposal, a rollout serves it to its challenger arm) with the models the
        served one uses; the last few are kept, as the served one is."""
        if number == self.policies.active_number():
            return self.assessor()
        model = self._model_factory() if self._model_factory else None
        pii_model = self._pii_model_factory() if self._pii_model_factory else None
        key = (number, model.id if model is not None else None,
               pii_model.id if pii_model is not None else None)
        with self._lock:
            kept = self._others.get(key)
        if kept is not None:
            return kept
        version = self.policies.get(number)
        charter = parse_charter(version.yaml, f"charter version {number}")
        embedder = self._embedder_factory()
        with self._lock:
            injection = self._injection_locked(embedder)
        built = Assessor(charter, embedder,
                         self._judge_factory() if self._judge_factory else None,
                         injection, version=number, model=model, pii_model=pii_model)
        with self._lock:
            self._others[key] = built
            while len(self._others) > OTHER_VERSIONS_KEPT:
                self._others.popitem(last=False)
        return built

    @property
    def charter(self) -> Charter:
        return self._current()[1]

    def screen_input(self, principal: Principal, messages: Sequence[ChatMessage], *,
                     instructions: str = "", version: int | None = None) -> InputScreen:
        """The conversation against the charter: the question, and every other text the
        client supplied (``conversation_parts``); the strictest decision wins, and when an
        earlier part decides, the reason says which."""
        assessor = self.assessor() if version is None else self.assessor_for(version)
        question = question_of(messages)
        found = assessor.assess(question)
        decision = assessor.decision(found)
        injection = found.injection.evidence if found.injection.flagged else None
        # On the next turn this question is an earlier part: keep what was decided.
        self._keep(assessor, question, _Part(decision, injection))
        for where, text in conversation_parts(messages, instructions):
            if is_own_reply(text, assessor.own_replies):
                continue  # Charter's own refusal or hold text, sent back in the history
            part = self._earlier_decision(assessor, text)
            if part.injection and injection is None:
                injection = f"{where}: {part.injection}"
            if SEVERITY[part.decision.action] > SEVERITY[decision.action]:
                decision = replace(
                    part.decision, reason=f"{part.decision.reason} (in {where})",
                    evidence=f"{where}: {part.decision.evidence}")
        # What the audit trail and the review queue store: redacted unless the charter
        # says the audit may hold personal data (``pii.redact_in_audit: false``).
        stored = found.redacted if assessor.charter.pii.redact_in_audit else question
        return InputScreen(decision, messages, redacted_question=stored,
                           pii=tuple(sorted({s.entity for s in found.spans})),
                           injection=injection, vector=found.vector,
                           vector_model=(assessor.embedder.query_model_id
                                         + (NEUTRALISED if found.spans else ""))
                           if assessor.embedder else None)

    def _earlier_decision(self, assessor: Assessor, text: str) -> _Part:
        key = _part_key(assessor, text)
        with self._lock:
            hit = self._earlier.get(key)
            if hit is not None:
                self._earlier.move_to_end(key)
                return hit
        found = assessor.assess(text)
        part = _Part(assessor.decision(found),
                     found.injection.evidence if found.injection.flagged else None)
        self._keep(assessor, text, part)
        return part

    def _keep(self, assessor: Assessor, text: str, part: _Part) -> None:
        key = _part_key(assessor, text)
        with self._lock:
            self._earlier[key] = part
            self._earlier.move_to_end(key)
            while len(self._earlier) > EARLIER_PARTS_CACHED:
                self._earlier.popitem(last=False)

    def screen_passages(self, passages: Sequence[Passage]) -> PassageScreen:
        if not passages:
            return PassageScreen([])
        _, charter, _, _, injection = self._current()
        # A verdict stored at ingest by this detector version stands; the others (chunks
        # ingested before, or by another version) are screened now, in one batch.
        version = injection.version
        verdicts = [p.check if p.check is not None and p.check.detector == version else None
                    for p in passages]
        missing = [i for i, v in enumerate(verdicts) if v is None]
        if missing:
            fresh = injection.check_passages([passages[i].text for i in missing])
            for i, v in zip(missing, fresh, strict=True):
                verdicts[i] = v
        checked = [(p, v) for p, v in zip(passages, verdicts, strict=True) if v is not None]
        kept = [p for p, v in checked if not v.flagged]
        dropped = tuple(f"{p.passage_id or p.n}: {v.evidence}" for p, v in checked if v.flagged)
        # Renumber so that the model sees [1]..[k] without gaps.
        renumbered = [replace(p, n=i) for i, p in enumerate(kept, start=1)]
        return PassageScreen(renumbered, dropped, (charter.injection_notice,) if dropped else ())

    def passage_checker(self) -> InjectionDetector:
        """What ingestion screens chunks with: the same detector as retrieval (built
        without the charter's models, which ingestion does not need)."""
        with self._lock:
            return self._injection_locked(None)

    def _injection_locked(self, embedder: Embedder | None) -> InjectionDetector:
        """The one injection detector, for every charter version (caller holds the lock)."""
        if self._injection is None:
            self._injection = InjectionDetector(
                embedder if embedder is not None else self._embedder_factory())
        return self._injection

    def screen_output(self, principal: Principal, answer: str,
                      passages: Sequence[Passage]) -> OutputScreen:
        _, charter, _, pii, _ = self._current()
        if charter.pii.redact_in_answers:
            answer, _ = pii.redact(answer)
        return OutputScreen(answer, label=charter.label)

    def redact(self, text: str) -> str:
        return self._current()[3].redact(text)[0]

    def answer_hold(self) -> int:
        return ANSWER_HOLD if self._current()[1].pii.redact_in_answers else 0

    def for_backend(self, request: ChatRequest, *, external: bool) -> ChatRequest:
        """The request as it may leave for the backend: for one outside the organisation
        (an alias marked ``external``), with personal data redacted from every message
        and passage, as the charter's ``pii.redact_for_external_backends`` asks."""
        _, charter, _, pii, _ = self._current()
        if not external or not charter.pii.redact_for_external_backends:
            return request
        return redacted_request(request, lambda t: self._redacted(pii, t))

    def for_external(self, text: str) -> str:
        _, charter, _, pii, _ = self._current()
        if not charter.pii.redact_for_external_backends:
            return text
        return self._redacted(pii, text)

    def _redacted(self, pii: PiiDetector, text: str) -> str:
        """``text`` with personal data redacted by ``pii``; kept per detector for the
        texts seen most recently, since a conversation sends every earlier turn (and the
        same charter layers and passages) again on each request."""
        if not text:
            return text
        if len(text) > REDACTION_CACHED_CHARS:  # long texts are not kept: bounded memory
            return pii.redact(text)[0]
        key = (id(pii), hashlib.sha256(text.encode()).hexdigest())
        with self._lock:
            hit = self._redactions.get(key)
            if hit is not None and hit[0] is pii:
                self._redactions.move_to_end(key)
                return hit[1]
        redacted = pii.redact(text)[0]
        with self._lock:
            self._redactions[key] = (pii, redacted)
            while len(self._redactions) > EARLIER_PARTS_CACHED:
                self._redactions.popitem(last=False)
        return redacted
