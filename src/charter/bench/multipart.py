"""Compound questions: key-fact recall and citation support, route against route.

A set is JSONL, one compound or multi-hop question a line: ``{"id", "question", "kind",
"parts": [{"ask", "document", "facts": [phrase, ...]}, ...]}`` (see
examples/multipart-devset.jsonl). Each question goes through the whole spine
(``Gateway.ask``) once per route, on one knowledge base built from the given folders,
as an administrator (every document visible).

* **Fact recall**: the share of the set's fact phrases that appear in the answer, as
  whole words, case and hyphen style ignored. A fact phrase the question itself
  contains (a multi-hop question names its bridge) is left out: the question gave it.
* **Parts answered**: parts with every fact in the answer.
* **Answer words** (p50): a longer answer has more chances to contain a fact, so its
  length is reported beside its recall.
* **Support**: the share of the answer's sentences that their cited passages support
  (``knowledge.support``, the same check for every route); the abstention statements
  and "not answered" notes are not claims and are not counted.

Rows are reported for the whole set and by the documents a question draws on (seed
articles only, handbook only, both) and by kind.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.bench.scratch import scratch_runtime
from charter.core.chat import ChatMessage, Passage
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.core.principal import local_admin
from charter.core.routes import FAST, THINKING
from charter.knowledge.support import SUPPORTED, sentences, support
from charter.runtime import Runtime
from charter.spine.request import AskRequest

NOT_CLAIMS = (NOT_FOUND, NO_SOURCES, "The sources I can see do not answer this part")
_CHARS = re.compile(r"chars (\d+)-(\d+)")
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                          "\u2014": "-", "\u00ad": ""})


@dataclass(frozen=True)
class PartCase:
    ask: str
    document: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    kind: str
    parts: tuple[PartCase, ...]

    @property
    def source(self) -> str:
        seed = {p.document.endswith(".txt") for p in self.parts}
        return "mixed" if len(seed) > 1 else "seed" if True in seed else "handbook"


def load(path: Path) -> list[Question]:
    if not path.is_file():
        raise InvalidInputError(f"question set {path} not found")
    out = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            parts = tuple(PartCase(p["ask"], p["document"], tuple(p["facts"]))
                          for p in row["parts"])
            out.append(Question(row["id"], row["question"], row.get("kind", "compound"),
                                parts))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}:{number}: each line needs id, question and parts "
                                    f"with ask, document and facts ({exc})") from None
    if not out:
        raise InvalidInputError(f"question set {path} has no questions")
    return out


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.translate(_HYPHENS).lower()))


def has(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words (case, hyphens ignored)."""
    return f" {_norm(phrase)} " in f" {_norm(text)} "


def _chunks(rt: Runtime) -> dict[tuple[str, int, int], Passage]:
    """Every stored chunk, by (file name, first char, last char): what a citation's
    location names."""
    store = rt.documents
    out = {}
    for doc in store.list():
        name = doc.uri.rsplit("/", 1)[-1]
        for c in store.chunks_of(doc.id):
            out[(name, c["char_start"], c["char_end"])] = Passage(
                0, c["text"], document=doc.title or doc.uri, heading=c.get("heading") or "")
    return out


def _cited(location: str, chunks: dict[tuple[str, int, int], Passage]) -> Passage | None:
    name = location.split(":", 1)[0]
    m = _CHARS.search(location)
    return chunks.get((name, int(m.group(1)), int(m.group(2)))) if m else None


def score_answer(q: Question, answer: str, by_n: dict[int, Passage]) -> dict[str, Any]:
    facts = [(i, f) for i, p in enumerate(q.parts) for f in p.facts if not has(q.question, f)]
    found = [(i, f) for i, f in facts if has(answer, f)]
    parts_answered = sum(
        1 for i, p in enumerate(q.parts)
        if all(has(answer, f) for f in p.facts if not has(q.question, f)))
    claims = [(t, c) for t, c in sentences(answer) if not t.startswith(NOT_CLAIMS)]
    supported = sum(1 for t, c in claims
                    if c and support(t, [by_n[n] for n in c if n in by_n]) >= SUPPORTED)
    return {"facts": len(facts), "found": len(found), "parts": len(q.parts),
            "parts_answered": parts_answered, "sentences": len(claims), "supported": supported,
            "missed": [f for i, f in facts if (i, f) not in found]}


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    facts = sum(r["facts"] for r in rows)
    sents = sum(r["sentences"] for r in rows)
    return {"questions": len(rows),
            "fact_recall": round(sum(r["found"] for r in rows) / facts, 3) if facts else None,
            "parts_answered": round(sum(r["parts_answered"] for r in rows)
                                    / sum(r["parts"] for r in rows), 3),
            "support": round(sum(r["supported"] for r in rows) / sents, 3) if sents else None,
            "sentences": sents,
            "abstained": sum(r["abstained"] for r in rows),
            "answer_words_p50": statistics.median(r["words"] for r in rows),
            "ms_p50": round(statistics.median(r["ms"] for r in rows), 1)}


def run(settings: Settings, devset: Path, folders: Iterable[Path], *,
        routes: tuple[str, ...] = (FAST, THINKING),
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    folders = list(folders)
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise InvalidInputError(f"knowledge folder(s) not found: {', '.join(missing)}; give "
                                "the seed corpus and the handbook with --kb")
    questions = load(devset)
    with scratch_runtime(settings, folders, prefix="charter-bench-multipart-", log=log) as rt:
        chunks = _chunks(rt)
        out: dict[str, Any] = {"routes": {}, "questions": len(questions)}
        for route in routes:
            rows = []
            for q in questions:
                began = time.perf_counter()
                result = rt.gateway.ask(AskRequest([ChatMessage("user", q.question)],
                                                   principal=local_admin(), model=route))
                ms = (time.perf_counter() - began) * 1000
                by_n = {c.n: p for c in result.citations
                        if (p := _cited(c.location, chunks)) is not None}
                row = score_answer(q, result.answer, by_n)
                row.update(id=q.id, source=q.source, kind=q.kind, ms=ms,
                           words=len(result.answer.split()),
                           abstained=result.answer.startswith((NOT_FOUND, NO_SOURCES)))
                rows.append(row)
            groups: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                groups.setdefault(f"source={r['source']}", []).append(r)
                groups.setdefault(f"kind={r['kind']}", []).append(r)
            out["routes"][route] = {
                "all": _summary(rows),
                "by": {k: _summary(v) for k, v in sorted(groups.items())},
                "missed": {r["id"]: r["missed"] for r in rows if r["missed"]}}
            log(f"{route}: {json.dumps(out['routes'][route]['all'])}")
    return out
