"""Names, street addresses, places, organisations and dates, found by the PII model.

The model (``charter finetune pii``, judgement/tasks/pii.py) tags each token of a text
with BIO tags over ``MODEL_ENTITIES``. ``EntityTagger`` reads a text of any length in
overlapping windows of tokens, takes for each token the window where it sits furthest
from an edge, and joins tagged tokens into character spans. A token belongs to an entity
when that entity's probability (its B and I tags together) is the highest and reaches
the entity's threshold, chosen on validation data; a span ends at an ``O`` token, at a
token of another entity and at a ``B`` tag that starts a new word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

# What the model claims: Presidio's research labels map onto these (GPE -> LOCATION).
MODEL_ENTITIES = ("PERSON", "STREET_ADDRESS", "LOCATION", "ORGANIZATION", "DATE_TIME")
TAGS = ("O", *(f"{p}-{e}" for e in MODEL_ENTITIES for p in ("B", "I")))
WINDOW = 126  # tokens per window, besides [CLS] and [SEP]
STRIDE = 96  # windows overlap by WINDOW - STRIDE tokens
MAX_WINDOWS_PER_BATCH = 16
# The model reads at most this many windows of a text (about 3,900 tokens, some 15,000
# characters of English); the pattern recognizers still read all of it. Reading a
# 100,000-character message whole took seconds of CPU per request.
MAX_WINDOWS = 40
_TRAILING = ".,;:!?)]}'\""
# A longer run of tagged text is not a name or an address: it is left as it is rather
# than redacted, so no run of text can be hidden from the classifier as "a person".
MAX_SPAN_CHARS = 120


class TokenScorer(Protocol):
    """What the tagger needs of a judgement model: its meta and logits of a batch."""

    meta: Any

    def logits(self, texts: list[str], pairs: list[str] | None = None,
               batch: dict[str, Any] | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class TaggedSpan:
    entity: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Read:
    """One text as the model read it: tag probabilities per token, with offsets."""

    text: str
    probs: np.ndarray
    offsets: Sequence[tuple[int, int]]
    words: Sequence[int | None]


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class EntityTagger:
    """Character spans of ``MODEL_ENTITIES`` in a text, from a token model's tags."""

    def __init__(self, scorer: TokenScorer, thresholds: dict[str, float] | None = None) -> None:
        from charter.judgement.encoder import Tokenizer

        labels = tuple(scorer.meta.labels)
        if labels != TAGS:
            from charter.core.errors import InvalidInputError

            raise InvalidInputError("the PII model's tags are not Charter's "
                                    f"({', '.join(TAGS)}); train it with `charter finetune pii`")
        self.scorer = scorer
        self.id = getattr(scorer, "id", "pii")
        self.thresholds = {e: float((thresholds or scorer.meta.threshold).get(e, 0.5))
                           for e in MODEL_ENTITIES}
        # Texts are cut where the model stops reading (MAX_WINDOWS windows).
        self._tok = Tokenizer(max_length=(MAX_WINDOWS - 1) * STRIDE + WINDOW + 2)

    # -- token probabilities ------------------------------------------------------------

    def _token_probabilities(self, ids: Sequence[int]) -> np.ndarray:
        """Per inner token (no [CLS]/[SEP]): softmax over TAGS, read in windows."""
        inner = list(ids[1:-1])
        cls, sep = ids[0], ids[-1]
        n = len(inner)
        starts = list(range(0, max(n - WINDOW, 0) + 1, STRIDE)) or [0]
        if starts[-1] + WINDOW < n:
            starts.append(n - WINDOW)
        starts = starts[:MAX_WINDOWS]
        probs = np.zeros((n, len(TAGS)), dtype=np.float32)
        best = np.full(n, -1, dtype=np.int64)  # distance of each token from its window's edge
        import torch

        for b in range(0, len(starts), MAX_WINDOWS_PER_BATCH):
            chunk = starts[b:b + MAX_WINDOWS_PER_BATCH]
            width = min(WINDOW, n) + 2
            batch_ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, s in enumerate(chunk):
                window = [cls, *inner[s:s + WINDOW], sep]
                batch_ids[row, :len(window)] = torch.tensor(window)
                mask[row, :len(window)] = 1
            feed = {"ids": batch_ids, "mask": mask, "types": torch.zeros_like(batch_ids)}
            p = _softmax(self.scorer.logits([""] * len(chunk), batch=feed).astype(np.float32))
            for row, s in enumerate(chunk):
                length = min(WINDOW, n - s)
                for k in range(length):
                    edge = min(k, length - 1 - k)
                    if edge > best[s + k]:
                        best[s + k] = edge
                        probs[s + k] = p[row, k + 1]
        return probs

    # -- spans --------------------------------------------------------------------------

    def find(self, text: str, entities: Sequence[str] = MODEL_ENTITIES) -> list[TaggedSpan]:
        if not text.strip():
            return []
        return self.find_many([text], entities)[0]

    def find_many(self, texts: Sequence[str],
                  entities: Sequence[str] = MODEL_ENTITIES) -> list[list[TaggedSpan]]:
        return [self.decode(read, entities) for read in self.read_many(texts)]

    def read_many(self, texts: Sequence[str]) -> list[Read]:
        """What the model makes of each text, before thresholds (``decode`` applies them)."""
        out: list[Read] = []
        for text in texts:
            enc = self._tok.encoding(text)
            if len(enc.ids) <= 2:
                out.append(Read(text, np.zeros((0, len(TAGS)), dtype=np.float32), [], []))
                continue
            out.append(Read(text, self._token_probabilities(enc.ids), enc.offsets[1:-1],
                            enc.word_ids[1:-1]))
        return out

    def decode(self, read: Read, entities: Sequence[str] = MODEL_ENTITIES) -> list[TaggedSpan]:
        if not read.offsets:
            return []
        return self._spans(read.text, read.probs, read.offsets, read.words, set(entities))

    def _spans(self, text: str, probs: np.ndarray, offsets: Sequence[tuple[int, int]],
               words: Sequence[int | None], wanted: set[str]) -> list[TaggedSpan]:
        k = len(MODEL_ENTITIES)
        b, i = probs[:, 1:1 + 2 * k:2], probs[:, 2:2 + 2 * k:2]
        entity_p = b + i
        # A span starts and ends at word boundaries: the first and last piece of each word
        # (a word is what the tokenizer calls one; each CJK character is its own).
        word_start: dict[int, int] = {}
        word_end: dict[int, int] = {}
        for (a, z), w in zip(offsets, words, strict=True):
            if w is not None:
                word_start.setdefault(w, a)
                word_end[w] = z
        spans: list[TaggedSpan] = []
        current: list[Any] | None = None  # [entity, start, end, scores, last word]

        def close() -> None:
            name, a, z, scores, last = current  # type: ignore[misc]
            z = max(z, word_end.get(last, z)) if last is not None else z
            while z > a and text[z - 1] in _TRAILING:
                z -= 1
            if 0 < z - a <= MAX_SPAN_CHARS:
                spans.append(TaggedSpan(name, a, z, float(np.mean(scores))))

        for t in range(len(offsets)):
            if not probs[t].any():
                break  # tokens past what the model read
            e = int(entity_p[t].argmax())
            name, p = MODEL_ENTITIES[e], float(entity_p[t, e])
            tagged = p >= self.thresholds[name] and p > probs[t, 0]
            same_word = current is not None and words[t] is not None and words[t] == current[4]
            joined = i[t, e] >= b[t, e]
            if current is not None and (same_word or (tagged and name == current[0] and joined)):
                current[2] = offsets[t][1]
                current[3].append(p if tagged and name == current[0] else 0.0)
                current[4] = words[t]
                continue
            if current is not None:
                close()
                current = None
            if tagged:
                first = word_start.get(words[t], offsets[t][0]) if words[t] is not None \
                    else offsets[t][0]
                current = [name, first, offsets[t][1], [p], words[t]]
        if current is not None:
            close()
        return [s for s in spans if s.entity in wanted]
