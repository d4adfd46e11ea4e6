"""Whether an answer's sentences are supported by the passages they cite.

An answer is read as sentences, each with the ``[n]`` markers it carries (a marker
written after the full stop, as the extractive composer writes it, belongs to the
sentence before it). A sentence is *supported* when at least ``SUPPORTED`` of its
content words (stemmed, stop words left out) occur in the passages it cites: a sentence
copied from its passage scores 1.0, a faithful paraphrase most of that, a sentence that
adds claims of its own less. A sentence that cites nothing is supported by nothing.

This is a lexical check: it catches a sentence pinned to the wrong passage and a claim
its passage never makes, not a paraphrase that reverses a passage's meaning with the
same words. The thinking strategy uses it to review its drafts, and ``charter bench
agents`` to score every strategy's answers the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from charter.core.chat import Passage
from charter.core.text import content_terms, split_sentences

SUPPORTED = 0.6  # a design constant (see above), not fitted to any question set

_MARKER = re.compile(r"\[(\d{1,3})\]")
_TRAILING = re.compile(r"([.!?])((?:[ \t]*\[\d{1,3}\])+)")


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without its markers
    cites: tuple[int, ...]
    support: float  # share of its content words found in the passages it cites


def sentences(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """``answer``'s sentences without their markers, each with the passages it cites."""
    moved = _TRAILING.sub(lambda m: f"{m.group(2)}{m.group(1)}", answer)
    out = []
    for sentence in split_sentences(moved):
        cites = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
        text = " ".join(_MARKER.sub(" ", sentence).split())
        text = re.sub(r" ([.!?,;:])", r"\1", text)
        if text:
            out.append((text, cites))
    return out


def support(text: str, cited: Sequence[Passage]) -> float:
    """Share of ``text``'s content words that occur in ``cited`` (0.0 when it cites none;
    1.0 for a sentence with no content words, which claims nothing)."""
    terms = content_terms(text)
    if not terms:
        return 1.0
    if not cited:
        return 0.0
    found: set[str] = set()
    for passage in cited:
        found.update(content_terms(passage.text))
        found.update(content_terms(passage.document))
        found.update(content_terms(passage.heading))
    return sum(t in found for t in terms) / len(terms)


def claims(answer: str, passages: Sequence[Passage]) -> list[Claim]:
    """Every sentence of ``answer`` with its support by the passages it cites."""
    by_n = {p.n: p for p in passages}
    return [Claim(text, cites, support(text, [by_n[n] for n in cites if n in by_n]))
            for text, cites in sentences(answer)]
