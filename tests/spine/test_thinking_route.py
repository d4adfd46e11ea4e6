"""The thinking route through the gateway on the offline defaults: each part searched
inside the asker's access, citations resolved against every passage the parts read,
streamed like the whole answer, recorded in the audit trail; ``auto`` sends compound
questions to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.core.chat import ChatMessage
from charter.core.principal import Principal, local_admin
from charter.knowledge.ingest import IngestOptions
from charter.runtime import Runtime
from charter.services import documents
from charter.spine.request import AskRequest, Delta
from charter.core.result import Result

USER = Principal("u-plain", frozenset({"user"}), "internal", frozenset(), "free")
HR = Principal("u-hr", frozenset({"user"}), "internal", frozenset({"hr"}), "free")
TWO_PARTS = ("How many days of annual leave do full-time staff get, and where can "
             "bicycles be parked?")
SECRET_PART = ("How many days of annual leave do full-time staff get, and what is the "
               "salary band for senior engineers?")


@pytest.fixture
def kb(runtime: Runtime, tmp_path: Path) -> Runtime:
    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "leave.md").write_text(
        "# Leave\n\nFull-time staff get 25 days of annual leave per calendar year. "
        "Leave requests go through the HR portal.")
    (folder / "bikes.md").write_text(
        "# Cycling to work\n\nBicycles can be parked in the basement garage on level -1. "
        "Showers are on the ground floor.")
    documents.add(runtime, local_admin(), [folder], IngestOptions())
    secret = tmp_path / "hr"
    secret.mkdir()
    (secret / "salaries.md").write_text(
        "# Salary bands\n\nThe salary band for senior engineers is 91,500 to 104,000 euros.")
    documents.add(runtime, local_admin(), [secret], IngestOptions(groups=("hr",)))
    return runtime


def ask(rt: Runtime, question: str, who: Principal = USER, model: str = "thinking") -> Result:
    return rt.gateway.ask(AskRequest([ChatMessage("user", question)], principal=who,
                                     model=model))


def test_both_parts_are_answered_and_cited_where_one_quick_answer_covers_one(
        kb: Runtime) -> None:
    result = ask(kb, TWO_PARTS)
    assert "25 days" in result.answer and "basement garage" in result.answer
    assert {c.location.split(":")[0] for c in result.citations} == {"leave.md", "bikes.md"}
    record = kb.audit.records(request_id=result.request_id)[0].payload
    assert record["strategy"].startswith("thinking: 2 part(s), 2 answered")
    assert len(record["retrieval"]["passages"]) >= 2 and record["route"]["name"] == "thinking"


def test_a_part_about_a_document_the_asker_may_not_read_is_not_answered_from_it(
        kb: Runtime) -> None:
    plain = ask(kb, SECRET_PART)
    assert "25 days" in plain.answer and "91,500" not in plain.answer
    assert all(c.location.split(":")[0] != "salaries.md" for c in plain.citations)
    record = kb.audit.records(request_id=plain.request_id)[0].payload
    stored = {c["uid"] for c in kb.documents.chunks_of(kb.documents.find(
        next(d.uri for d in kb.documents.list() if d.uri.endswith("salaries.md"))).id)}
    assert not stored & set(record["retrieval"]["passages"])
    member = ask(kb, SECRET_PART, who=HR)
    assert "91,500" in member.answer
    assert "salaries.md" in {c.location.split(":")[0] for c in member.citations}


def test_the_stream_gives_the_same_answer_with_its_citations(kb: Runtime) -> None:
    whole = ask(kb, TWO_PARTS)
    events = list(kb.gateway.ask_stream(AskRequest([ChatMessage("user", TWO_PARTS)],
                                                   principal=USER, model="thinking")))
    *deltas, final = events
    assert all(isinstance(d, Delta) for d in deltas) and isinstance(final, Result)
    assert "".join(d.text for d in deltas).strip() == final.answer.strip() == whole.answer
    assert [c.location for c in final.citations] == [c.location for c in whole.citations]


def test_auto_sends_a_compound_question_to_thinking_and_a_simple_one_to_fast(
        kb: Runtime) -> None:
    compound = ask(kb, TWO_PARTS, model="auto")
    assert compound.route.name == "thinking" and "compound question in 2 parts" in \
        compound.route.reason
    simple = ask(kb, "Where can bicycles be parked?", model="auto")
    assert simple.route.name == "fast"
