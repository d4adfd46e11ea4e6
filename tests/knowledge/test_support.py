"""Answer sentences against the passages they cite (knowledge/support.py)."""

from __future__ import annotations

from charter.core.chat import Passage
from charter.knowledge.support import SUPPORTED, claims, sentences, support

P1 = Passage(1, "Expense claims must be filed within 30 days of the expense.", "Expenses")
P2 = Passage(2, "Managers approve claims above 200 euros.", "Expenses")


def test_markers_after_the_full_stop_belong_to_the_sentence_before() -> None:
    answer = "Claims are filed within 30 days. [1] Managers approve large claims [2]. Done."
    assert sentences(answer) == [("Claims are filed within 30 days.", (1,)),
                                 ("Managers approve large claims.", (2,)), ("Done.", ())]


def test_a_copied_sentence_is_supported_and_a_misplaced_citation_is_not() -> None:
    assert support(P1.text, [P1]) == 1.0
    assert support(P1.text, [P2]) < SUPPORTED
    found = claims(f"{P1.text} [1] {P1.text} [2] Claims are filed within 30 days.", [P1, P2])
    assert [c.support >= SUPPORTED for c in found] == [True, False, False]
    assert found[2].cites == ()  # cites nothing, so nothing supports it


def test_a_claim_the_passage_never_makes_is_unsupported() -> None:
    invented = "Expense claims are reimbursed in bitcoin by the finance robot every Friday."
    assert support(invented, [P1]) < SUPPORTED


def test_a_marker_to_an_unknown_passage_supports_nothing() -> None:
    (claim,) = claims(f"{P1.text} [7]", [P1])
    assert claim.cites == (7,) and claim.support == 0.0
