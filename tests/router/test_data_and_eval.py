"""Outcome data loading, the train/test split, and the evaluation curve arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from charter.core.errors import InvalidInputError
from charter.router import evaluate as ev
from charter.router.data import load_outcomes, split_of

HEADER = "prompt,mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview\n"


def write_csv(path: Path, rows: list[tuple[str, bool, bool]]) -> Path:
    lines = [HEADER] + [f'"{p}",{w},{s}\n' for p, w, s in rows]
    path.write_text("".join(lines))
    return path


def test_folder_skips_contaminated_prompts_and_duplicates(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [(f"question {i}", i % 2 == 0, True) for i in range(40)])
    write_csv(tmp_path / "b.csv", [("question 1", True, True), ("other", False, True)])
    (tmp_path / "contaminated_prompts.jsonl").write_text(
        json.dumps({"train_prompt": "question 3", "eval_prompt": "question 3"}) + "\n")
    rows = load_outcomes(tmp_path)
    prompts = [r.prompt for r in rows]
    assert "question 3" not in prompts
    assert prompts.count("question 1") == 1 and "other" in prompts
    assert len(rows) == 40  # 40 + 2 - duplicate - contaminated
    first = next(r for r in rows if r.prompt == "question 0")
    assert first.weak_correct and first.strong_correct


def test_splits_are_disjoint_stable_and_roughly_a_fifth(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "x.csv", [(f"prompt number {i}", True, False) for i in range(500)])
    train = {r.prompt for r in load_outcomes(path, "train")}
    test = {r.prompt for r in load_outcomes(path, "test")}
    assert not train & test and len(train | test) == 500
    assert 60 < len(test) < 140
    assert all(split_of(p) == "test" for p in test)


@pytest.mark.parametrize("content, message", [
    ("question,a,b\nx,True,False\n", "expected a header"),
    (HEADER + '"x",maybe,True\n', "should be True or False"),
    (HEADER + '"x",True\n', "expected 3 columns"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InvalidInputError, match=message):
        load_outcomes(path)


def test_missing_and_empty_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_outcomes(tmp_path / "nope")
    with pytest.raises(InvalidInputError, match="no .csv files"):
        load_outcomes(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="not a .csv"):
        load_outcomes(tmp_path / "notes.txt")


def test_curve_arithmetic_on_a_hand_example() -> None:
    # Four prompts: weak right on 0 and 1, strong right on 0, 2, 3.
    weak = np.array([1, 1, 0, 0], dtype=bool)
    strong = np.array([1, 0, 1, 1], dtype=bool)
    perfect = ev.curve(np.array([0.1, 0.0, 0.9, 0.8]), weak, strong)
    assert perfect.weak == 0.5 and perfect.strong == 0.75
    # At 50% strong share the two prompts only the strong model gets go to it: 4/4 right.
    assert perfect.accuracy[50] == pytest.approx(1.0)
    assert perfect.cpt(1.0) == pytest.approx(0.25)  # one strong call already recovers the gap
    assert perfect.cost_saving_at(0.95) == pytest.approx(0.75)
    worst = ev.curve(np.array([0.0, 0.9, 0.1, 0.2]), weak, strong)
    assert worst.accuracy[25] == pytest.approx(0.25)  # prompt 1 sent to strong: lost
    assert worst.apgr() < perfect.apgr()


def test_random_is_the_diagonal_and_oracle_bounds_any_router() -> None:
    rng = np.random.default_rng(0)
    weak = rng.random(400) < 0.6
    strong = rng.random(400) < 0.8
    rand = ev.random_curve(weak, strong)
    assert rand.apgr() == pytest.approx(0.5)
    assert rand.cpt(0.5) == pytest.approx(0.5) and rand.cpt(0.8) == pytest.approx(0.8)
    oracle = ev.oracle_curve(weak, strong)
    some_router = ev.curve(rng.random(400), weak, strong)
    assert np.all(oracle.accuracy >= some_router.accuracy - 1e-12)
    assert oracle.apgr() > some_router.apgr()
