"""Grounded answering on a development set: answered-and-cited rate, abstention quality.

The set is JSONL: ``{"question", "kind": "answerable" | "offtopic" | "ontopic",
"document": file name or null}``. Each question goes through the whole spine
(``Gateway.ask``) on a knowledge base built from the given folders. An answer counts as
answered-and-cited when it is not an abstention and one of its citations points at the
expected document.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.core.principal import local_admin
from charter.core.chat import ChatMessage
from charter.backends.extractive import NO_SOURCES, NOT_FOUND
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from charter.core.routes import FAST
from charter.spine.request import AskRequest
from charter.knowledge.ingest import IngestOptions, Ingestor
from charter.runtime import Runtime

ABSTENTIONS = (NO_SOURCES, NOT_FOUND)


@dataclass(frozen=True)
class Case:
    question: str
    kind: str
    document: str | None


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
        cases.append(Case(row["question"], row["kind"], row.get("document")))
    return cases


def run(settings: Settings, devset: Path, folders: list[Path], *, model: str = FAST,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    cases = load_cases(devset)
    work = Path(tempfile.mkdtemp(prefix="charter-bench-answers-"))
    try:
        rt = Runtime.open(settings.with_overrides(data_dir=str(work), database_url=""))
        ingestor = Ingestor(rt.db, rt.embedder())
        for folder in folders:
            report = ingestor.add([folder], IngestOptions(chunk_size=settings.kb_chunk_size,
                                                          chunk_overlap=settings.kb_chunk_overlap))
            log(f"ingested {folder}: {report.summary()}")
        rows = []
        for case in cases:
            result = rt.gateway.ask(AskRequest([ChatMessage("user", case.question)],
                                               principal=local_admin(), model=model))
            # Notes (such as a neutralised passage) may follow an abstention.
            abstained = result.answer.startswith(ABSTENTIONS)
            cited = [c.location.split(":", 1)[0] for c in result.citations]
            rows.append((case, abstained, cited, result.answer))
        rt.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    answerable = [r for r in rows if r[0].kind == "answerable"]
    answered_cited = sum(1 for c, ab, cited, _ in answerable if not ab and c.document in cited)
    abstained = [r for r in rows if r[1]]
    correct_abstentions = sum(1 for r in abstained if r[0].kind != "answerable")

    def recall(kind: str) -> float:
        group = [r for r in rows if r[0].kind == kind]
        return sum(1 for r in group if r[1]) / len(group) if group else 0.0

    misses = [
        {"question": c.question, "kind": c.kind, "expected": c.document, "cited": cited,
         "answer": answer[:160]}
        for c, ab, cited, answer in rows
        if (c.kind == "answerable" and (ab or c.document not in cited))
        or (c.kind != "answerable" and not ab)
    ]
    return {
        "answered_cited": round(answered_cited / len(answerable), 4) if answerable else 0.0,
        "abstain_precision": round(correct_abstentions / len(abstained), 4) if abstained else 0.0,
        "abstain_recall_offtopic": round(recall("offtopic"), 4),
        "abstain_recall_ontopic": round(recall("ontopic"), 4),
        "counts": {k: sum(1 for r in rows if r[0].kind == k)
                   for k in ("answerable", "offtopic", "ontopic")},
        "misses": misses,
    }
