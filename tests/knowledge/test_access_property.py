"""Property: search never scores, returns or counts a chunk beyond the asker's clearance.

Random documents (classification, groups) and random principals (clearance, groups),
every search mode, on SQLite and on PostgreSQL: zero leaks, and nothing visible is lost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.core.principal import CLEARANCE_LEVELS, Principal
from charter.knowledge.chunking import Chunk
from charter.knowledge.search import Searcher
from charter.knowledge.store import DocumentWrite, open_store
from charter.store.db import Database
from tests.knowledge.helpers import HashEmbedder

# Group names from the whole alphabet a name may use, with look-alikes that a pattern
# match would confuse ("_" is a LIKE wildcard, "." a regex one).
NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_."
LOOK_ALIKES = ["hr", "hr_1", "hr-1", "hrx1", "hr.1", "h_", "ha", "_", "-", "a.b", "a_b", "a-b"]
group_name = st.one_of(st.sampled_from(LOOK_ALIKES),
                       st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=5))

doc_strategy = st.tuples(st.sampled_from(CLEARANCE_LEVELS),
                         st.lists(group_name, max_size=2, unique=True))
principal_strategy = st.tuples(st.sampled_from(CLEARANCE_LEVELS),
                               st.lists(group_name, max_size=3, unique=True))


def visible(principal: Principal, classification: str, groups: list[str]) -> bool:
    if CLEARANCE_LEVELS.index(classification) > CLEARANCE_LEVELS.index(principal.clearance):
        return False
    return not groups or "*" in principal.groups or bool(set(groups) & principal.groups)


def fill(db: Database, docs: list[tuple[str, list[str]]]) -> None:
    store = open_store(db)
    store.remove([d.id for d in store.list()])
    emb = HashEmbedder()
    writes = []
    for i, (classification, groups) in enumerate(docs):
        body = f"quarterly budget report number {i} for the planning committee"
        chunk = Chunk(0, body, "", None, 0, len(body))
        writes.append(DocumentWrite(f"mem://doc{i}", "prop", f"doc{i}", f"h{i}", classification,
                                    groups, (), "txt", len(body), [chunk],
                                    np.asarray(emb.embed([body]))))
    store.ensure_index(emb.model_id, emb.dimension)
    store.write_documents(writes)


def check(db: Database, docs, principals) -> None:  # noqa: ANN001
    fill(db, docs)
    searcher = Searcher(db, HashEmbedder())
    # Always include a principal who may see everything (the search's unfiltered fast path).
    for clearance, groups in [*principals, ("restricted", ["*"])]:
        principal = Principal("p", clearance=clearance, groups=frozenset(groups))
        allowed = {f"mem://doc{i}" for i, (c, g) in enumerate(docs) if visible(principal, c, g)}
        for mode in ("bm25", "dense", "hybrid"):
            hits = searcher.search(principal, "quarterly budget report planning", k=50, mode=mode)
            uris = {h.uri for h in hits}
            assert uris <= allowed, f"leak in {mode}: {sorted(uris - allowed)}"
            assert uris == allowed, f"{mode} lost visible documents"


PROPERTY = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
DOCS = st.lists(doc_strategy, min_size=1, max_size=12)
PRINCIPALS = st.lists(principal_strategy, min_size=1, max_size=4)


@PROPERTY
@given(docs=DOCS, principals=PRINCIPALS)
def test_no_leaks_sqlite(tmp_path: Path, docs, principals) -> None:  # noqa: ANN001
    db = Database(f"sqlite:///{tmp_path / 'acl.db'}")
    db.upgrade()
    try:
        check(db, docs, principals)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def pg_db(pg_server: str):  # noqa: ANN201
    import uuid

    import psycopg

    name = "acl_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.replace("postgresql://", "postgresql+psycopg://").replace("/postgres?", f"/{name}?")
    db = Database(url)
    db.upgrade()
    yield db
    db.dispose()


@pytest.mark.integration
@PROPERTY
@given(docs=DOCS, principals=PRINCIPALS)
def test_no_leaks_postgres(pg_db: Database, docs, principals) -> None:  # noqa: ANN001
    check(pg_db, docs, principals)
