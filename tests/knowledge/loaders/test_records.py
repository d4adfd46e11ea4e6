"""Record loaders: each CSV or JSONL row becomes a document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from charter.knowledge.loaders import LoaderError, RecordOptions, load
from charter.knowledge.loaders.records import CsvLoader, JsonlLoader
from tests.knowledge.loaders.conformance import LoaderConformance

FAQ = RecordOptions("answer", "id", "question", ("team",))


class TestCsvLoader(LoaderConformance):
    loader = CsvLoader
    reason = "no column 'answer'"
    records = FAQ

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        p = tmp_path / "faq.csv"
        p.write_text("id,question,answer,team\n7,Where?,In the hall.,ops\n8,When?,At noon.,ops\n")
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "nocol.csv"
        p.write_text("id,question,reply\n7,Where?,In the hall.\n")
        return p


class TestJsonlLoader(LoaderConformance):
    loader = JsonlLoader
    reason = "line 2 is not JSON"
    records = FAQ

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        p = tmp_path / "faq.jsonl"
        p.write_text('{"id": 7, "question": "Where?", "answer": "In the hall.", "team": "ops"}\n\n'
                     '{"id": 8, "question": "When?", "answer": "At noon.", "team": "ops"}\n')
        return p

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:
        p = tmp_path / "bad.jsonl"
        p.write_bytes(b'{"answer": "ok"}\n{broken\n')
        return p


def test_csv_and_jsonl_rows_become_documents(tmp_path: Path) -> None:
    csv_path = tmp_path / "faq.csv"
    csv_path.write_text("id,question,answer,team\n7,Where?,In the hall.,ops\n8,When?,At noon.,ops\n")
    docs = load(csv_path, RecordOptions("answer", "id", "question", ("team",)))
    assert [(d.key, d.title, d.text, d.metadata) for d in docs] == [
        ("7", "Where?", "In the hall.", {"team": "ops"}),
        ("8", "When?", "At noon.", {"team": "ops"})]
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"text": "Row one."}\n\n{"text": "Row two."}\n')
    assert [d.key for d in load(jsonl)] == ["1", "2"]


def test_a_row_without_the_text_column_names_a_bounded_list_of_columns(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps({f"column_{i}_" + "x" * 100: i for i in range(5_000)}) + "\n")
    with pytest.raises(LoaderError, match="and 4,980 more") as info:
        load(path)
    assert len(info.value.message) < 2_000
