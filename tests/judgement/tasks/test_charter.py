"""The charter task's data: every source plays one part, labels from the source's
categories, and the flag threshold that bounds the benign requests flagged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from charter.judgement.tasks import charter as C

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data"
needs_data = pytest.mark.skipif(not (SHARED / "safety").is_dir(),
                                reason="needs ../shared/data")


def test_the_threshold_flags_at_most_the_allowed_share_of_benign() -> None:
    rng = np.random.default_rng(0)
    benign = rng.uniform(0.0, 0.8, 500)
    harmful = rng.uniform(0.5, 1.0, 200)
    scores = np.concatenate([benign, harmful])
    y = np.array([0] * 500 + [1] * 200)
    t = C.flag_threshold(scores, y, max_benign=0.02)
    assert np.mean(benign >= t) <= 0.02
    # One step lower would flag more than allowed (the threshold is the lowest that fits).
    looser = np.sort(benign)[::-1][int(0.02 * 500)]
    assert np.mean(benign >= looser) > 0.02 or t == 0.5
    assert C.flag_threshold(np.array([0.1, 0.9]), np.array([0, 1])) == 0.5  # never below 0.5


def test_targets_carry_the_flag_and_the_known_category() -> None:
    labels = C.labels_of(["fraud", "weapons"])
    assert C.target(C.Row("x", True, "weapons", "harmbench"), labels) == [1.0, 0.0, 1.0]
    assert C.target(C.Row("x", True, None, "advbench"), labels) == [1.0, 0.0, 0.0]
    assert C.target(C.Row("x", False, None, "mmlu:anatomy"), labels) == [0.0, 0.0, 0.0]


def test_mmlu_prompts_lose_their_options() -> None:
    prompt = "Which organ makes insulin?\nA. liver\nB. pancreas\nC. lung\nD. skin\nAnswer:"
    assert C._mmlu_question(prompt) == "Which organ makes insulin?"


@needs_data
@pytest.mark.parametrize("holdout", C.HOLDOUTS)
def test_every_source_plays_exactly_one_part(holdout: str) -> None:
    rows = C.load_rows(SHARED)
    train, validation, test = C.split(rows, holdout)
    assert len(train) + len(validation) + len(test) == len(rows)

    def groups(part: list[C.Row]) -> set[str]:
        return {r.source for r in part}

    assert not groups(train) & groups(validation)
    assert not groups(train) & groups(test)
    assert not groups(validation) & groups(test)
    # The held-out public set is the test's only harmful source; the other two train.
    assert {r.source for r in test if r.harmful} == {holdout}
    assert {r.source for r in train if r.harmful} >= set(C.HOLDOUTS) - {holdout}
    # Validation is benign only (it sets the threshold, never ranks harmful sources).
    assert validation and not any(r.harmful for r in validation)
    assert any(not r.harmful for r in test) and any(not r.harmful for r in train)
    # No text of the test part is trained on, in any case or spacing.
    def norm(t: str) -> str:
        return " ".join(t.lower().split())

    assert not {norm(r.text) for r in test} & {norm(r.text) for r in train}
    assert len({norm(r.text) for r in rows}) == len(rows)  # each text once
    # Presidio's sentences by template (each template in one part), deepset's prompts
    # a benign test source only.
    def kinds(part: list[C.Row]) -> set[str]:
        return {r.source.partition(":")[0] for r in part}

    assert all("presidio" in kinds(part) for part in (train, validation, test))
    assert "deepset" in kinds(test) and not {"deepset"} & (kinds(train) | kinds(validation))


def test_an_unknown_holdout_is_refused_with_the_choices() -> None:
    from charter.core.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="harmbench, advbench, strongreject"):
        C.split([], "jailbreakbench")


def test_evaluate_counts_caught_and_flagged_by_source() -> None:
    class Tiered:
        def __init__(self, tier: str | None) -> None:
            self.tier = tier

    rows = [C.Row("bad one", True, None, "strongreject"), C.Row("bad two", True, None,
                                                                 "strongreject"),
            C.Row("fine", False, None, "scifact"), C.Row("bad-looking fine", False, None,
                                                        "scifact")]
    out = C.evaluate(lambda t: Tiered("red_line" if "bad" in t else "minimal"), rows)
    assert out["harmful_caught"] == 1.0 and out["benign_flagged"] == 0.5
    assert out["by_source"] == {"scifact": 0.5, "strongreject": 1.0}


@needs_data
@pytest.mark.parametrize("missing", ["pii", "injection"])
def test_a_missing_benign_source_is_named(tmp_path: Path, missing: str) -> None:
    from charter.core.errors import InvalidInputError

    for sub in ("safety", "router", "answerability", "scifact", "pii", "injection"):
        if sub != missing:
            (tmp_path / sub).symlink_to(SHARED / sub)
    with pytest.raises(InvalidInputError, match=f"{missing}/.* is missing"):
        C.load_rows(tmp_path)
