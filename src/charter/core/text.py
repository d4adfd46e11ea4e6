"""Small text helpers shared by the extractive composer and, later, chunking."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    tell explain describe give list show please know much many get got also may might must
    shall us let lets one""".split()
)

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']*")
# A sentence ends at . ! or ? followed by whitespace and an upper-case letter, digit or quote,
# unless the dot belongs to a common abbreviation.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "mr.", "mrs.", "ms.", "dr.", "no.", "fig.",
                  "inc.", "ltd.", "approx.", "st.")


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences; newline-separated blocks never share a sentence."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n|\n(?=\s*[-*#\d])", text):
        block = " ".join(block.split())
        if not block:
            continue
        pieces = _BOUNDARY.split(block)
        merged: list[str] = []
        for piece in pieces:
            if merged and merged[-1].lower().endswith(_ABBREVIATIONS):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        sentences.extend(p.strip() for p in merged if p.strip())
    return sentences


def stem(word: str) -> str:
    """A deliberately light stemmer: enough to match plurals and common verb forms."""
    w = word.lower()
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""),
                         ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: len(w) - len(suffix)] + keep
    return w


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_terms(text: str) -> list[str]:
    """Stemmed, lower-cased words of ``text`` minus stop words, in order, unique."""
    seen: dict[str, None] = {}
    for w in words(text):
        lw = w.lower().strip("'-")
        if lw.endswith("'s"):
            lw = lw[:-2]
        if lw and lw not in STOPWORDS:
            seen.setdefault(stem(lw), None)
    return list(seen)


def key_terms(text: str) -> list[str]:
    """Numbers and names in ``text`` (tokens with digits, or capitalised past the first word).

    An answer that leaves any of these out does not answer the question.
    """
    found: dict[str, None] = {}
    tokens = words(text)
    for i, tok in enumerate(tokens):
        has_digit = any(c.isdigit() for c in tok)
        is_name = i > 0 and tok[0].isupper() and tok.lower() not in STOPWORDS
        if has_digit or is_name:
            found.setdefault(tok.lower(), None)
    return list(found)


# -- well-formed input ------------------------------------------------------------------

MAX_JSON_DEPTH = 64  # nesting levels a request body or a record may have
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent on as UTF-8 (a lone UTF-16 surrogate, which
    only a JSON escape such as ``\\ud800`` can produce, or a NUL, which PostgreSQL cannot
    store), or None. Other control characters are kept: tabs, newlines and escapes are
    ordinary in code and logs."""
    if _LONE_SURROGATE.search(text):
        return "holds a lone UTF-16 surrogate (not well-formed Unicode); send UTF-8 text"
    if "\x00" in text:
        return "holds a NUL character (U+0000); remove it"
    return None


def _path(links: list[tuple[int, str]], node: int, where: str) -> str:
    """The dotted path of ``node`` from its (parent, key) links."""
    keys: list[str] = []
    while node > 0:
        node, key = links[node]
        keys.append(key)
    return ".".join([where] * bool(where) + keys[::-1])


def value_problem(value: object, where: str = "",
                  max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """The first string (or key) in a parsed JSON value that ``text_problem`` refuses, or
    nesting deeper than ``max_depth``: (where, why), ``where`` a dotted path such as
    ``messages.0.content``."""
    return _walk(value, where, max_depth, check_text=True)


def too_deep(value: object, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """The dotted path of the first place where a parsed JSON value nests more than
    ``max_depth`` levels, or None."""
    found = _walk(value, "", max_depth, check_text=False)
    return found[0] if found else None


def _walk(value: object, where: str, max_depth: int, *,
          check_text: bool) -> tuple[str, str] | None:
    """Both walkers: without recursion, each item keeping only a link to its parent (a
    path is built for the one reported), so memory stays linear in the value however
    long its keys."""
    links: list[tuple[int, str]] = [(0, "")]
    stack: list[tuple[object, int, int]] = [(value, 0, 0)]
    while stack:
        item, node, depth = stack.pop()
        if depth > max_depth:
            return _path(links, node, where) or ("body" if check_text else "top level"), \
                f"is nested more than {max_depth} levels deep; flatten it"
        if isinstance(item, str) and check_text:
            why = text_problem(item)
            if why:
                return _path(links, node, where) or "body", why
        elif isinstance(item, dict | list):
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                links.append((node, str(key)[:80]))
                if check_text and isinstance(item, dict) and (why := text_problem(str(key))):
                    here = _path(links, len(links) - 1, where)  # shown escaped
                    return here.encode("utf-8", "backslashreplace").decode(), \
                        f"(a key) {why}"
                stack.append((child, len(links) - 1, depth + 1))
    return None
