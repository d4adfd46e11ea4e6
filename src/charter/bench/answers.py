"""Grounded answering: answered-and-cited rate, abstention quality, composition time.

A set is JSONL: ``{"question", "kind": "answerable" | "offtopic" | "ontopic",
"document": file name or null, "answer": optional phrase}``. Each question goes through
the whole spine (``Gateway.ask``) on a knowledge base built from the given folders. An
answer counts as answered-and-cited when it is not an abstention and one of its
citations points at the expected document; with an ``answer`` phrase, as answered with
the fact when the answer also contains that phrase.

``squad=DIR`` builds the set and the knowledge base from the answerability data's test
articles (held out of the answerability model's training): every paragraph is a
document, every question of those articles a case, impossible ones ``ontopic``.

Each method (``overlap``: the word-overlap rules; ``model``: the answerability model)
runs the same set on the same knowledge base, so the figures sit side by side.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.core.principal import local_admin
from charter.core.routes import FAST
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.runtime import Runtime
from charter.spine.request import AskRequest

ABSTENTIONS = (NO_SOURCES, NOT_FOUND)
METHODS = ("overlap", "model")


@dataclass(frozen=True)
class Case:
    question: str
    kind: str
    document: str | None
    answer: str | None = None


def load_cases(path: Path) -> list[Case]:
    if not path.is_file():
        raise InvalidInputError(f"development set {path} not found")
    cases = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("kind") not in ("answerable", "offtopic", "ontopic"):
            raise InvalidInputError(f"{path}:{number}: kind must be answerable, offtopic or ontopic")
        cases.append(Case(row["question"], row["kind"], row.get("document"), row.get("answer")))
    return cases


def squad_set(data: Path, folder: Path) -> list[Case]:
    """Write the test articles' paragraphs into ``folder`` (one Markdown file each, titled
    with its article) and return their questions as cases."""
    from charter.judgement.tasks import answerability

    _, _, test = answerability.split(answerability.load_squad(data))
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for article in test:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", article.title).strip("-")
        title = article.title.replace("_", " ")
        for i, context in enumerate(article.contexts):
            (folder / f"{slug}-p{i:03d}.md").write_text(f"# {title}\n\n{context}\n")
        for q in article.questions:
            if q.answer_start is None:
                cases.append(Case(q.text, "ontopic", None))
            else:
                cases.append(Case(q.text, "answerable", f"{slug}-p{q.paragraph:03d}.md"))
    return cases


def _use(rt: Runtime, model: str, method: str) -> None:
    """Point the answering alias at the extractive composer with ``method``."""
    alias = rt.aliases.get(model, kind="chat")
    if alias.backend != "extractive":
        return
    rt.aliases.add(AliasConfig(alias.name, alias.backend, alias.model,
                               {**alias.options, "answerability": method}), replace=True)


def _score(rows: list[tuple[Case, bool, list[str], str, float]]) -> dict[str, Any]:
    answerable = [r for r in rows if r[0].kind == "answerable"]
    answered_cited = sum(1 for c, ab, cited, _, _ in answerable if not ab and c.document in cited)
    with_phrase = [r for r in answerable if r[0].answer]
    answered_fact = sum(1 for c, ab, cited, text, _ in with_phrase
                        if not ab and c.document in cited and c.answer
                        and c.answer.lower() in text.lower())
    abstained = [r for r in rows if r[1]]
    correct_abstentions = sum(1 for r in abstained if r[0].kind != "answerable")

    def recall(kind: str) -> float | None:
        group = [r for r in rows if r[0].kind == kind]
        return round(sum(1 for r in group if r[1]) / len(group), 4) if group else None

    compose = [r[4] for r in rows]
    misses = [
        {"question": c.question, "kind": c.kind, "expected": c.document, "cited": cited,
         "answer": answer[:160]}
        for c, ab, cited, answer, _ in rows
        if (c.kind == "answerable" and (ab or c.document not in cited))
        or (c.kind != "answerable" and not ab)
    ]
    return {
        "answered_cited": round(answered_cited / len(answerable), 4) if answerable else None,
        "answered_with_fact": (round(answered_fact / len(with_phrase), 4)
                               if with_phrase else None),
        "abstain_precision": round(correct_abstentions / len(abstained), 4) if abstained else None,
        "abstain_recall_offtopic": recall("offtopic"),
        "abstain_recall_ontopic": recall("ontopic"),
        "compose_p50_ms": round(statistics.median(compose), 2) if compose else None,
        "counts": {k: sum(1 for r in rows if r[0].kind == k)
                   for k in ("answerable", "offtopic", "ontopic")},
        "misses": misses,
    }


def run(settings: Settings, devset: Path | None, folders: list[Path], *, model: str = FAST,
        squad: Path | None = None, methods: tuple[str, ...] = METHODS,
        artifact: Path | None = None,
        log: Callable[[str], None] = lambda _: None) -> dict[str, dict[str, Any]]:
    """``{method: figures}`` for each method, on one knowledge base; ``artifact`` is an
    answerability model file to use instead of the shipped one."""
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise InvalidInputError(f"unknown method(s) {', '.join(bad)}; use {', '.join(METHODS)}")
    work = Path(tempfile.mkdtemp(prefix="charter-bench-answers-"))
    try:
        if squad is not None:
            folders = [work / "squad"]
            cases = squad_set(squad, folders[0])
        elif devset is not None:
            cases = load_cases(devset)
        else:
            raise InvalidInputError("give a development set (--devset) or --squad DIR")
        rt = Runtime.open(settings.with_overrides(data_dir=str(work / "data"), database_url=""))
        try:
            if artifact is not None:
                from charter.judgement.artifact import Artifact

                rt.judgement.save(Artifact.load(artifact), author="bench", note=str(artifact))
            ingestor = Ingestor(rt.db, rt.embedder())
            for folder in folders:
                report = ingestor.add([folder], IngestOptions(
                    chunk_size=settings.kb_chunk_size, chunk_overlap=settings.kb_chunk_overlap))
                log(f"ingested {folder}: {report.summary()}")
            out: dict[str, dict[str, Any]] = {}
            for method in methods:
                _use(rt, model, method)
                rows = []
                for case in cases:
                    result = rt.gateway.ask(AskRequest([ChatMessage("user", case.question)],
                                                       principal=local_admin(), model=model))
                    # Notes (such as a neutralised passage) may follow an abstention.
                    abstained = result.answer.startswith(ABSTENTIONS)
                    cited = [c.location.split(":", 1)[0] for c in result.citations]
                    rows.append((case, abstained, cited, result.answer,
                                 result.timing.backend_ms))
                out[method] = _score(rows)
                log(f"{method}: {json.dumps({k: v for k, v in out[method].items() if k != 'misses'})}")
        finally:
            rt.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
