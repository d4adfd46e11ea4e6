"""Resolving ``[n]`` markers in an answer to the passages retrieved for this request."""

from __future__ import annotations

import re
from collections.abc import Sequence

from charter.core.chat import Passage
from charter.core.result import CitationInfo

_MARKER = re.compile(r"\[(\d{1,3})\]")


def resolve_citations(answer: str, passages: Sequence[Passage]) -> list[CitationInfo]:
    """Citations for the markers that point at a retrieved passage, in first-use order.

    Markers that point at nothing retrieved are left out: a citation must be checkable.
    """
    by_n = {p.n: p for p in passages}
    seen: list[int] = []
    for match in _MARKER.finditer(answer):
        n = int(match.group(1))
        if n in by_n and n not in seen:
            seen.append(n)
    return [
        CitationInfo(n=n, document=by_n[n].document, location=by_n[n].location,
                     quote=by_n[n].text[:500])
        for n in seen
    ]


def drop_unsupported_markers(answer: str, passages: Sequence[Passage]) -> str:
    """Remove ``[n]`` markers that point at no passage retrieved for this request."""
    known = {p.n for p in passages}
    return re.sub(r" ?\[(\d{1,3})\]", lambda m: m.group(0) if int(m.group(1)) in known else "",
                  answer)
