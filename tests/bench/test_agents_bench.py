"""`charter bench agents`: tokens per step stay flat as a run grows."""

from __future__ import annotations

from charter.bench import agents as bench
from charter.core.config import Settings


def test_tokens_grow_linearly_with_steps(settings: Settings) -> None:
    result = bench.run(settings, (4, 12))
    small, large = result["runs"]
    assert small["steps"] == 4 and large["steps"] == 12
    assert small["status"] == large["status"] == "completed"
    # Three times the steps cost about three times the tokens (quadratic would be ~9x).
    assert 2.5 <= result["growth"][0]["tokens_ratio"] <= 3.6, result
    assert large["engine_overhead_ms_per_step"] > 0


def test_fact_recall_and_support_are_scored_per_part(tmp_path) -> None:  # noqa: ANN001
    import json

    from charter.bench import multipart
    from charter.core.chat import Passage

    line = {"id": "q1", "question": "How long is leave, and where is the Lind office?",
            "kind": "multi-hop", "parts": [
                {"ask": "How long is leave?", "document": "leave.md", "facts": ["25 days"]},
                {"ask": "Where is the office?", "document": "a.txt",
                 "facts": ["room 4.12", "Lind"]}]}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (q,) = multipart.load(path)
    assert q.source == "mixed"
    by_n = {1: Passage(1, "Staff get 25 days of leave."), 2: Passage(2, "It is in room 4.12.")}
    answer = ("Staff get 25 days of leave. [1]\n\nIt is in room 4.12. [1] "
              "The sources I can see do not answer this part: x")
    row = multipart.score_answer(q, answer, by_n)
    # "Lind" is in the question, so it is not counted; room 4.12 is cited to the wrong
    # passage, so that sentence is unsupported though the fact is recalled.
    assert (row["facts"], row["found"], row["parts_answered"]) == (2, 2, 2)
    assert (row["sentences"], row["supported"]) == (2, 1)
    assert multipart.has("GPT\u20115 routes", "gpt-5") and not multipart.has("GitLab", "Git")


def test_a_bad_question_set_gets_an_error_naming_the_line(tmp_path) -> None:  # noqa: ANN001
    import pytest

    from charter.bench import multipart
    from charter.core.errors import InvalidInputError

    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "q1", "question": "x"}\n')
    with pytest.raises(InvalidInputError, match="set.jsonl:1"):
        multipart.load(path)
