"""A streamed answer is screened before its pieces leave: nothing a screen would change
is released before the screen has seen it whole."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from charter.spine.outflow import Outflow

EMAIL = re.compile(r"[\w.]+@[\w.]+\.\w+")


def screen(text: str) -> str:
    """Redacts e-mail addresses and drops markers other than [1]."""
    text = EMAIL.sub("<EMAIL_ADDRESS>", text)
    return re.sub(r" ?\[(\d{1,3})\]", lambda m: m.group(0) if m.group(1) == "1" else "", text)


ANSWER = ("Leave is 25 days [1]. Write to jane.doe@example.com for more [7]. "
          "Carry-over ends in March [12].\nAsk HR at hr.team@example.org [1].")


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


@settings(max_examples=200, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_released_text_is_always_screened_and_adds_up(cuts: list[int]) -> None:
    flow = Outflow(screen, hold=32)
    released = []
    for piece in pieces_of(ANSWER, cuts):
        out = flow.push(piece)
        assert "@" not in out and "[7]" not in out and "[12]" not in out, out
        released.append(out)
    released.append(flow.finish())
    joined = "".join(released)
    assert joined == screen(ANSWER) == flow.text
    # Nothing leaked across pieces either: the raw address never formed in what was sent.
    assert "jane.doe" not in joined and "[7" not in joined


def test_without_redaction_only_markers_are_held() -> None:
    flow = Outflow(screen, hold=0)
    assert flow.push("Leave is 25 days") == "Leave is 25 "  # the last word waits
    assert flow.push(" [") == "days"  # " [" could become a marker to drop
    assert flow.push("7") == ""
    assert flow.push("] and more") == " and "
    assert flow.finish() == "more" and flow.text == "Leave is 25 days and more"


def test_a_closed_sentence_is_released_whole() -> None:
    flow = Outflow(screen, hold=1000)
    assert flow.push("First sentence here.") == ""  # the sentence may go on
    assert flow.push(" Second") == "First sentence here. "
    assert flow.finish() == "Second"
