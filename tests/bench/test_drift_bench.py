"""`charter bench drift`: pools served through the gateway, seeded streams replayed."""

from __future__ import annotations

from pathlib import Path

import pytest

from charter.bench import drift as bench
from charter.core.config import Settings
from charter.core.errors import InvalidInputError
from tests.cli.conftest import cli  # noqa: F401 - a fixture, registered by import
from tests.services.test_drift import CHEMISTRY, LEAVE, _questions

MMLU = Path(__file__).resolve().parents[3] / "shared" / "data" / "router" / "mmlu"


def _csv(folder: Path, subject: str, stems: list[str]) -> None:
    rows = ["prompt,a,b"] + ['"{}\nA. x\nB. y\nAnswer:",True,False'.format(s) for s in stems]
    (folder / f"mmlu_{subject}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_pools_take_question_stems_evenly_from_each_subject(tmp_path: Path) -> None:
    _csv(tmp_path, "anatomy", [f"Which bone is number {i}?" for i in range(10)])
    _csv(tmp_path, "astronomy", [f"How far is star {i}?" for i in range(3)])
    _csv(tmp_path, "philosophy", [f"What did thinker {i} hold?" for i in range(8)])
    pools = bench.mmlu_pools(tmp_path, 6)
    stem = pools["stem"]
    assert len(stem) == 6 and all("\nA." not in q and "Answer" not in q for q in stem)
    assert sum(q.startswith("How far") for q in stem) == 3  # round robin, then the rest
    assert len(pools["humanities"]) == 6
    with pytest.raises(InvalidInputError, match="no such folder"):
        bench.mmlu_pools(tmp_path / "missing", 6)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInputError, match="none of the MMLU subject files"):
        bench.mmlu_pools(empty, 6)


def test_a_shift_is_found_after_it_happens_and_an_unshifted_stream_stays_quiet(
        settings: Settings) -> None:
    pools = {"a_leave": _questions(LEAVE, 70), "b_chemistry": _questions(CHEMISTRY, 70)}
    out = bench.run(settings, pools, runs=4, reference=30, window=10, every=5, before=10,
                    after=30, mix=(1.0, 0.0))
    assert out["pools"] == {"a_leave": 70, "b_chemistry": 70}
    assert out["detected"] == 4 and out["missed"] == 0 and out["alarm_before_shift"] == 0
    # The window is 10 requests, checked every 5: a full window of the new topic by 10.
    assert 0 < out["delay_median"] <= 10 and out["delay_max"] <= 15
    assert out["false_alarms"] == 0 and out["tests_that_fired"]["embeddings"] == 4
    assert set(out["decisions"]["a_leave"]) <= {"allow", "safe_complete", "refuse",
                                                "hold_for_review"}


def test_streams_that_need_more_questions_than_the_pools_hold_are_refused(
        settings: Settings) -> None:
    pools = {"a": _questions(LEAVE, 12), "b": _questions(CHEMISTRY, 12)}
    with pytest.raises(InvalidInputError, match="ran out"):
        bench.run(settings, pools, runs=1, reference=10, window=10, every=5, before=10,
                  after=10, mix=(1.0, 0.0))
    with pytest.raises(InvalidInputError, match="--before must be at least --window"):
        bench.simulate({"a": [], "b": []}, runs=1, reference=5, window=10, every=5,
                       before=5, after=5, mix=(1.0, 0.0), alpha=0.01, min_auc=0.55)


@pytest.mark.skipif(not MMLU.is_dir(), reason="needs ../shared/data/router/mmlu")
def test_on_mmlu_a_stem_to_humanities_shift_alerts_and_false_alarms_are_rare(
        settings: Settings) -> None:
    out = bench.run(settings, bench.mmlu_pools(MMLU, 600), runs=10)
    assert out["detected"] >= 9 and out["delay_median"] <= 150
    assert out["false_alarms"] <= 1


def test_the_cli_refuses_bad_options(cli) -> None:  # noqa: ANN001 - the fixture
    bad = cli("bench", "drift", "--mix", "2,0")
    assert bad.code != 0 and "--mix" in bad.err
    missing = cli("bench", "drift", "--data", "nowhere")
    assert missing.code != 0 and "no such folder" in missing.err
    few = cli("bench", "drift", "--pool", "3")
    assert few.code != 0 and "--pool must be at least 10" in few.err
