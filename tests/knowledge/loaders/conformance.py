"""Loader conformance: what every loader does, whatever its file type.

Each loader's test class inherits ``LoaderConformance``, names the loader class
(``loader``) and overrides two fixtures: ``sample`` (a readable file of that type) and
``corrupt`` (a damaged one, whose ``LoaderError`` must match ``reason``). Record loaders
also set ``records``, the options their sample is read with.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.knowledge.loaders import (
    Block,
    LimitError,
    LoadedDocument,
    LoaderError,
    LoadLimits,
    RecordOptions,
    load,
    loader_for,
)

# Damage done to a sample: (offset as a fraction of the file, bytes written there, how
# many bytes after it are cut away).
_DAMAGE = st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=0, max_size=8),
                             st.integers(0, 64)), min_size=1, max_size=4)
FUZZ_CASES = 40


class LoaderConformance:
    loader: ClassVar[type]  # the loader class registered for the sample's extension
    reason: ClassVar[str]  # what LoaderError says about the corrupt file (a regex)
    records: ClassVar[RecordOptions | None] = None

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture
    def corrupt(self, tmp_path: Path) -> Path:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_the_loader_is_registered_for_its_files(self, sample: Path, corrupt: Path) -> None:
        assert isinstance(loader_for(sample), self.loader)
        assert isinstance(loader_for(corrupt), self.loader)

    def test_a_sample_loads_into_documents_with_blocks_and_a_title(self, sample: Path) -> None:
        docs = load(sample, self.records)
        assert docs
        for doc in docs:
            assert isinstance(doc, LoadedDocument)
            assert doc.title.strip(), f"{sample.name}: a document without a title"
            assert doc.blocks, f"{sample.name}: a document without blocks"
            assert all(isinstance(b, Block) and b.text.strip() for b in doc.blocks)
            assert all(b.kind in ("heading", "paragraph") for b in doc.blocks)
            assert doc.text.strip()

    def test_a_corrupt_file_raises_loader_error_with_the_reason(self, corrupt: Path) -> None:
        with pytest.raises(LoaderError, match=self.reason) as info:
            load(corrupt, self.records)
        assert info.value.message.strip()

    def test_an_empty_file_raises_loader_error_with_the_reason(self, sample: Path,
                                                               tmp_path: Path) -> None:
        empty = tmp_path / f"empty{sample.suffix}"
        empty.write_bytes(b"")
        with pytest.raises(LoaderError, match="empty"):
            load(empty, self.records)

    def test_loading_is_deterministic(self, sample: Path) -> None:
        first, second = load(sample, self.records), load(sample, self.records)
        assert [(d.title, d.key, d.blocks, d.metadata) for d in first] == \
            [(d.title, d.key, d.blocks, d.metadata) for d in second]

    def test_a_file_over_the_block_limit_is_refused_naming_the_setting(self,
                                                                     sample: Path) -> None:
        blocks = sum(len(d.blocks) for d in load(sample, self.records))
        assert blocks >= 2, "the sample needs two blocks for this test"
        with pytest.raises(LimitError, match="kb_max_blocks") as info:
            load(sample, self.records, LoadLimits(blocks=1))
        assert info.value.status == 413

    @settings(max_examples=FUZZ_CASES, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.differing_executors])
    @given(damage=_DAMAGE)
    def test_a_damaged_sample_loads_or_raises_loader_error_and_nothing_else(
            self, sample: Path, tmp_path_factory: pytest.TempPathFactory,
            damage: list[tuple[float, bytes, int]]) -> None:
        data = bytearray(sample.read_bytes())
        for where, written, cut in damage:
            at = int(where * len(data))
            data[at:at + cut] = written
        broken = tmp_path_factory.mktemp("fuzz") / f"broken{sample.suffix}"
        broken.write_bytes(bytes(data))
        try:
            docs = load(broken, self.records)
        except LoaderError as exc:
            assert exc.message.strip() and exc.status in (413, 422)
        else:
            assert all(b.text.strip() for d in docs for b in d.blocks)
