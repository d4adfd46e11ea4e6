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
  reads it (it keeps passage ids, never their text).
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
from charter.services import audit, documents
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

