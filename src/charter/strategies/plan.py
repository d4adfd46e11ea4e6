"""Splitting a question into the parts it asks, for the thinking strategy.

A compound question ("How many leave days do I get, and can I carry them over?") is
answered badly in one piece: one search finds passages for its strongest part, and an
answer composed from them leaves the rest out. ``plan`` splits it where a new clause
starts:

* at every question mark and at every ``;``;
* at ``and``, ``also``, ``plus``, ``but`` or ``as well as`` (after a comma or not) when
  the next word starts a clause: a question word (what, how, ...), an auxiliary verb
  (is, does, can, ...) or a request verb (list, explain, ...);
* at a comma followed by a question word;
* "Compare A with B", "the difference between A and B" and "A versus B" ask about A
  and about B: two parts, each with what follows ("... in terms of cost").

A piece without a word of its own (the "why" of "What is it and why?") stays with the
one before it. A text of more than ``MAX_WORDS`` words is one part. A later part that leans on an earlier one ("can I carry *them* over?",
"what does *it* use?") searches with the earlier part's subject words added, so the
search finds its passages; the part's own wording is kept for the answer. Sentences
that only give context ("I am travelling to Lisbon next week.") go with the first part.

The rules are fixed English patterns, not tuned on any question set; they are tested in
tests/strategies/test_plan.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from charter.core.text import STOPWORDS, content_terms, split_sentences

QUESTION_WORDS = frozenset("what what's which who whom whose when where why how".split())
AUXILIARIES = frozenset("""is are was were am do does did can could should shall must may
    might will would has have""".split())
REQUEST_VERBS = frozenset("""name list explain describe give tell say summarise summarize state
    compare define outline mention identify show""".split())
STARTERS = QUESTION_WORDS | AUXILIARIES | REQUEST_VERBS
JOINERS = frozenset("and also plus but".split())
PRONOUNS = frozenset("it its they their them this that these those he she his her".split())
# Words that frame a question; they say nothing about what to search for.
FRAMING = STOPWORDS | STARTERS | frozenset("""difference differences compare compared
    comparison versus vs between both say says said according""".split())

MAX_WORDS = 120  # a question longer than this is read as one part
_TOKEN = re.compile(r"\S+")
# "compare A with B", "the difference between A and B", "how does A compare to B", "A
# versus B": the word that opens the comparison (None: it opens at the clause's start),
# then the words that may separate A from B.
COMPARISONS = (("compare", frozenset("with to and against versus vs vs.".split())),
               ("between", frozenset({"and"})),
               (None, frozenset("versus vs vs.".split())))
ASPECTS = ("in terms of", "regarding", "when it comes to", "on", "for")


@dataclass(frozen=True)
class Part:
    """One thing a question asks: ``ask`` in the user's words, ``query`` what is searched
    (the ask, with an earlier part's subject when this one leans on it)."""

    ask: str
    query: str


def _bare(token: str) -> str:
    return token.strip(",.;:!?()\"'").lower()


def _clauses(sentence: str) -> list[str]:
    """``sentence`` cut where a new clause starts (see the module's rules)."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(sentence)]
    cuts: list[tuple[int, int]] = []  # (where the previous piece ends, where the next starts)
    i = 0
    while i < len(tokens):
        start, end, raw = tokens[i]
        word = _bare(raw)
        if raw.endswith(";") and i + 1 < len(tokens):
            cuts.append((start + len(raw) - 1, tokens[i + 1][0]))
        elif i > 0 and (word in JOINERS or (word == "as" and i + 2 < len(tokens)
                        and _bare(tokens[i + 1][2]) == "well"
                        and _bare(tokens[i + 2][2]) == "as")):
            j = i + 3 if word == "as" else i + 1
            while j < len(tokens) and _bare(tokens[j][2]) in JOINERS | {"then"}:
                j += 1
            if j < len(tokens) and _bare(tokens[j][2]) in STARTERS:
                cuts.append((tokens[i - 1][1], tokens[j][0]))
                i = j
                continue
        elif raw.endswith(",") and i + 1 < len(tokens) and \
                _bare(tokens[i + 1][2]) in QUESTION_WORDS:
            cuts.append((end - 1, tokens[i + 1][0]))
        i += 1
    # A sentence that opens with "Also," or "And" asks a new thing: the word is dropped.
    lead = 0
    while lead < len(tokens) - 1 and _bare(tokens[lead][2]) in JOINERS:
        lead += 1
    cuts = [c for c in cuts if c[1] > tokens[lead][0]] if tokens else cuts
    pieces, at = [], tokens[lead][0] if tokens else 0
    for stop, resume in cuts:
        pieces.append(sentence[at:stop])
        at = resume
    pieces.append(sentence[at:])
    return [p.strip(" ,;") for p in pieces if p.strip(" ,;")]


def _compared(clause: str) -> list[str]:
    """The two things a comparison asks about, each with the aspect compared; the clause
    itself when it compares nothing."""
    tokens = clause.split()
    bare = [_bare(t) for t in tokens]
    for opener, separators in COMPARISONS:
        if opener is None:
            begin = 0
        elif opener in bare:
            begin = bare.index(opener) + 1
        else:
            continue
        lead = [t for t in tokens[:begin - 1] if _bare(t) not in STARTERS]
        if opener == "compare" and content_terms(" ".join(lead)):
            # "how does A compare with B": A stands before the verb
            if begin >= len(bare) or bare[begin] not in separators:
                continue
            first, second = " ".join(lead), tokens[begin + 1:]
        else:
            at = next((k for k in range(begin + 1, len(bare)) if bare[k] in separators), -1)
            if at < 0:
                continue
            first, second = " ".join(tokens[begin:at]), tokens[at + 1:]
        aspect = ""
        lowered = [w.lower() for w in second]
        for phrase in ASPECTS:
            words = phrase.split()
            hit = next((k for k in range(1, len(lowered) - len(words) + 1)
                        if lowered[k:k + len(words)] == words), -1)
            if hit > 0:
                aspect, second = " ".join(second[hit:]), second[:hit]
                break
        first, rest = first.strip(" ,?"), " ".join(second).strip(" ,?")
        if content_terms(first) and content_terms(rest):
            return [f"{first} {aspect}".strip(" ,?"), f"{rest} {aspect}".strip(" ,?")]
    return [clause]


def _is_question(sentence: str) -> bool:
    words = [_bare(w) for w in sentence.split()]
    first = next((w for w in words if w not in JOINERS), "")
    return sentence.rstrip().endswith("?") or first in STARTERS or first == "please"


def subject(text: str) -> str:
    """The words of ``text`` that say what it is about, in its own spelling."""
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(text):
        word = _bare(token)
        if word and word not in FRAMING and word not in PRONOUNS:
            seen.setdefault(token.strip(",.;:!?()\"'"), None)
    return " ".join(seen)


def _leans(ask: str) -> bool:
    """Whether ``ask`` needs an earlier part to be understood: a pronoun, or too few
    words of its own to search with."""
    tokens = {_bare(t) for t in _TOKEN.findall(ask)}
    return bool(tokens & PRONOUNS) or len(content_terms(subject(ask))) < 2


def plan(question: str, max_parts: int = 4) -> tuple[Part, ...]:
    """The parts ``question`` asks, in order (one part when it asks one thing, and when
    it is longer than ``MAX_WORDS``: a pasted text is not a list of questions)."""
    question = " ".join(question.split())
    if not question:
        return ()
    if len(question.split()) > MAX_WORDS:
        return (Part(question, question),)
    context: list[str] = []
    asks: list[str] = []
    compared: set[int] = set()  # parts of a comparison: each stands on its own
    for sentence in split_sentences(question):
        if not _is_question(sentence):
            context.append(sentence)
            continue
        for clause in _clauses(sentence):
            pieces = _compared(clause)
            if len(pieces) > 1:
                compared.update(range(len(asks), len(asks) + len(pieces)))
            for piece in pieces:
                if asks and not content_terms(subject(piece)):
                    asks[-1] = f"{asks[-1]} and {piece}"  # "... and why?" stays with its part
                else:
                    asks.append(piece)
    if not asks:  # only statements: the whole text is the one thing asked
        return (Part(question, question),)
    if len(asks) > max_parts:
        asks = [*asks[:max_parts - 1], " ".join(asks[max_parts - 1:])]
    asks = [a if a.endswith(("?", ".", "!")) else f"{a}?" for a in asks]
    parts: list[Part] = []
    for i, ask in enumerate(asks):
        query = ask
        if i == 0 and context:
            query = f"{' '.join(context)} {ask}"
        elif i > 0 and i not in compared and _leans(ask):
            earlier = subject(parts[i - 1].query)
            if earlier:
                query = f"{ask} ({earlier})"
        parts.append(Part(ask, query))
    return tuple(parts)
