"""Property: no read path returns, counts or quotes a document beyond the caller's access.

Random documents (classification, groups from the whole alphabet a group may use, with
look-alikes a pattern match would confuse) and random callers (clearance, groups drawn
wider still: ``%``, non-ASCII letters, every role), on SQLite and on PostgreSQL. Each
document's text carries a code word of its own, so a leak shows wherever it surfaces.
For every caller, every read path is checked:

- the listing, lookups by id and by id prefix, a document's chunks (services.documents);
- search in each mode, and the passages retrieval hands a model;
- an answer through the gateway (the default extractive answerer quotes its sources):
  its text, its citations and their quotes;
- the knowledge-base counts (reviewers and admins), and the audit trail as each role
  reads it (it keeps passage ids, never their text);
- a held request approved by a reviewer: the review queue and the decided review as the
  reviewer reads them, the asker's own reviews with their answer (within the asker's
  access as it is now), and the feedback and route log that retraining reads.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.core.chat import ChatMessage
from charter.core.config import Settings
from charter.core.errors import ForbiddenError, NotFoundError
from charter.core.principal import CLEARANCE_LEVELS, Principal
from charter.knowledge.chunking import Chunk
from charter.knowledge.store import DocumentWrite
from charter.runtime import Runtime
from charter.services import audit, documents, feedback, reviews
from charter.spine.request import AskRequest

DOC_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_."  # what a document group may hold
CALLER_EXTRA = "%_.éßж*"  # what a caller's groups are never matched by, as patterns
LOOK_ALIKES = ["hr", "hr_1", "hr-1", "hrx1", "hr.1", "h_", "h%", "ha", "_", "%", "-",
               "a.b", "a_b", "a-b", "hré"]
doc_group = st.one_of(st.sampled_from([g for g in LOOK_ALIKES if set(g) <= set(DOC_ALPHABET)]),
                      st.text(alphabet=DOC_ALPHABET, min_size=1, max_size=4))
caller_group = st.one_of(st.sampled_from(LOOK_ALIKES),
                         st.text(alphabet=DOC_ALPHABET + CALLER_EXTRA, min_size=1, max_size=4))
DOCS = st.lists(st.tuples(st.sampled_from(CLEARANCE_LEVELS),
                          st.lists(doc_group, max_size=2, unique=True)), min_size=1, max_size=8)
CALLERS = st.lists(st.tuples(st.sampled_from(CLEARANCE_LEVELS),
                             st.lists(caller_group, max_size=3, unique=True),
                             st.sampled_from(["user", "reviewer", "admin"])),
                   min_size=1, max_size=3)
PROPERTY = settings(max_examples=15, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
QUESTION = "What does the quarterly budget report for the planning committee say?"
# Held for review by the default charter (automated decisions), and retrieves the same.
HELD = ("Decide which planning committee staff should be laid off according to the "
        "quarterly budget report.")
CODE = re.compile(r"\bzq\d+x\b")


def _code(i: int) -> str:
    return f"zq{i}x"


def _visible(caller: Principal, classification: str, groups: list[str]) -> bool:
    if CLEARANCE_LEVELS.index(classification) > CLEARANCE_LEVELS.index(caller.clearance):
        return False
    return not groups or "*" in caller.groups or bool({g.lower() for g in groups}
                                                      & caller.groups)


def _fill(rt: Runtime, docs: list[tuple[str, list[str]]]) -> dict[str, int]:
    """Replace the knowledge base with ``docs``; their ids → their index."""
    store = rt.documents
    store.remove([d.id for d in store.list()])
    emb = rt.embedder()
    writes = []
    for i, (classification, groups) in enumerate(docs):
        body = (f"The quarterly budget report number {i} for the planning committee says "
                f"the code word is {_code(i)}.")
        writes.append(DocumentWrite(f"mem://doc{i}", "prop", f"doc{i}", f"h{i}",
                                    classification, groups, (), "txt", len(body),
                                    [Chunk(0, body, "", None, 0, len(body))],
                                    np.asarray(emb.embed([body]))))
    store.ensure_index(emb.model_id, emb.dimension)
    return {d.id: int(d.uri.removeprefix("mem://doc")) for d in store.write_documents(writes)}


def _check(rt: Runtime, docs: list[tuple[str, list[str]]],
           callers: list[tuple[str, list[str], str]]) -> None:
    ids = _fill(rt, docs)
    everyone = ("restricted", ["*"], "admin")  # the unfiltered path, always included
    for clearance, groups, role in [*callers, everyone]:
        caller = Principal(f"p-{uuid.uuid4().hex[:8]}", frozenset({role}), clearance,
                           frozenset(groups), "free")
        allowed = {i for i, (c, g) in enumerate(docs) if _visible(caller, c, g)}
        codes = {_code(i) for i in allowed}
        where = f"{role} {clearance} {sorted(groups)}"

        listed = {ids[d.id] for d in documents.list_documents(rt, caller)}
        assert listed == allowed, f"listing for {where}"
        for doc_id, i in ids.items():
            for key in (doc_id, doc_id[:8]):
                if i in allowed:
                    assert documents.resolve(rt, caller, key).id == doc_id
                else:
                    with pytest.raises(NotFoundError):
                        documents.resolve(rt, caller, key)
            record = rt.documents.get(doc_id)
            if i in allowed:
                assert _code(i) in documents.chunks(rt, caller, record)[0]["text"]
            else:
                with pytest.raises(NotFoundError):
                    documents.chunks(rt, caller, record)

        for mode in ("bm25", "dense", "hybrid"):
            hits = documents.search(rt, caller, QUESTION, k=50, mode=mode)
            assert {int(h.uri.removeprefix("mem://doc")) for h in hits} == allowed, \
                f"{mode} search for {where}"
        passages = rt.retriever.retrieve(caller, QUESTION)
        assert set(CODE.findall(" ".join(p.text for p in passages))) <= codes, where

        result = rt.gateway.ask(AskRequest([ChatMessage("user", QUESTION)], caller))
        quoted = result.answer + " ".join(c.quote + c.document for c in result.citations)
        assert set(CODE.findall(quoted)) <= codes, f"answer for {where}"
        assert {c.document for c in result.citations} <= {f"doc{i}" for i in allowed}

        if role == "user":
            with pytest.raises(ForbiddenError):
                documents.status(rt, caller)
            with pytest.raises(ForbiddenError):
                audit.records(rt, caller)
            continue
        counts = documents.status(rt, caller)["counts"]
        seen = len(docs) if role == "admin" else len(allowed)
        assert counts["documents"] == seen and counts["chunks"] == seen, where
        trail = json.dumps([r.payload for r in audit.records(rt, caller, limit=1000)])
        assert not CODE.search(trail), "the audit trail quotes a document"
    _check_reviews(rt, docs, callers)


def _codes_for(caller: Principal, docs: list[tuple[str, list[str]]]) -> set[str]:
    return {_code(i) for i, (c, g) in enumerate(docs) if _visible(caller, c, g)}


def _check_reviews(rt: Runtime, docs: list[tuple[str, list[str]]],
                   callers: list[tuple[str, list[str], str]]) -> None:
    """A held request asked by the first caller (as a user account) and approved by a
    reviewer with the last caller's clearance and groups."""
    clearance, groups, _ = callers[0]
    name = f"a{uuid.uuid4().hex[:8]}@example.com"
    # An account's groups are narrower than a document's (no dots, none leading with - or _).
    rt.accounts.add_user(name, clearance=clearance,
                         groups=[g for g in groups if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", g)])
    asker = rt.accounts.get_user(name).principal()
    r_clearance, r_groups, _ = callers[-1]
    reviewer = Principal(f"r-{uuid.uuid4().hex[:8]}", frozenset({"user", "reviewer"}),
                         r_clearance, frozenset(r_groups), "free")
    held = rt.gateway.ask(AskRequest([ChatMessage("user", HELD)], asker))
    assert held.decision.action == "hold_for_review", held.decision
    assert not CODE.search(held.answer + json.dumps(held.model_dump()["citations"]))
    review_id = held.decision.review_id
    queue = json.dumps([reviews.public(r, reviewer) for r in reviews.list_reviews(rt, reviewer)])
    assert not CODE.search(queue), "the review queue quotes a document"
    decided = reviews.decide(rt, reviewer, review_id, approve=True, note="ok")
    as_reviewer = json.dumps([reviews.public(decided, reviewer),
                              *(reviews.public(r, reviewer)
                                for r in reviews.list_reviews(rt, reviewer, None))])
    assert not CODE.search(as_reviewer), "a decided review shows its answer to the reviewer"
    mine = json.dumps([reviews.public(r, asker) for r in reviews.mine(rt, asker)])
    assert set(CODE.findall(mine)) <= _codes_for(asker, docs), "the asker's answer"
    feedback.record(rt, asker, decided.request_id, "vote", "up")
    read = json.dumps([f.__dict__ for f in feedback.recent(rt, reviewer)]
                      + [s.__dict__ for s in rt.feedback.samples()])
    assert not CODE.search(read), "feedback or the route log quotes a document"


@pytest.fixture
def rt_sqlite(runtime: Runtime) -> Runtime:
    return runtime


@PROPERTY
@given(docs=DOCS, callers=CALLERS)
def test_no_read_path_leaks_on_sqlite(rt_sqlite: Runtime, docs, callers) -> None:  # noqa: ANN001
    _check(rt_sqlite, docs, callers)


@pytest.fixture
def on_pg(settings: Settings, pg_url: str) -> Iterator[Runtime]:
    rt = Runtime.open(settings.with_overrides(database_url=pg_url))
    yield rt
    rt.close()


@pytest.mark.integration
@PROPERTY
@given(docs=DOCS, callers=CALLERS)
def test_no_read_path_leaks_on_postgres(on_pg: Runtime, docs, callers) -> None:  # noqa: ANN001
    _check(on_pg, docs, callers)


def test_the_code_words_are_found_where_they_are_allowed(rt_sqlite: Runtime) -> None:
    """The property's probe works: an allowed document's code word does surface."""
    _fill(rt_sqlite, [("internal", [])])
    caller = Principal("p-probe", frozenset({"user"}), "internal", frozenset(), "free")
    result = rt_sqlite.gateway.ask(AskRequest([ChatMessage("user", QUESTION)], caller))
    assert _code(0) in result.answer + " ".join(c.quote for c in result.citations)



def test_an_approved_answer_quotes_what_the_asker_may_read(rt_sqlite: Runtime) -> None:
    """The review part's probe: the approved answer does carry the asker's code word, so
    a review payload that showed it to a reviewer without access would fail the property."""
    _fill(rt_sqlite, [("confidential", [])])
    rt_sqlite.accounts.add_user("probe@example.com", clearance="confidential")
    asker = rt_sqlite.accounts.get_user("probe@example.com").principal()
    reviewer = Principal("r-probe", frozenset({"user", "reviewer"}), "public", frozenset(),
                         "free")
    held = rt_sqlite.gateway.ask(AskRequest([ChatMessage("user", HELD)], asker))
    decided = reviews.decide(rt_sqlite, reviewer, held.decision.review_id, approve=True,
                             note="ok")
    assert _code(0) in json.dumps(decided.result)
    assert _code(0) in json.dumps(reviews.public(decided, asker))
    assert _code(0) not in json.dumps(reviews.public(decided, reviewer))
