"""Task models: the frozen lower layers of the packaged encoder, trainable copies of the
layers above them, and a head.

Three heads cover every judgement Charter makes:

- ``pair``: a (question, sentence) or (query, passage) pair in one sequence, scored from
  the first token's vector (answerability, reranking); one logit.
- ``sequence``: one text, mean-pooled, one logit per label, each a sigmoid (the charter's
  categories, injection), so a text can carry several labels or none.
- ``token``: one label per token (PII entities as BIO tags), softmax over the tags.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import Tensor, nn

from charter.judgement.encoder import Encoder, attention_bias

Kind = Literal["pair", "sequence", "token"]
KINDS: tuple[Kind, ...] = ("pair", "sequence", "token")


def mean_pool(hidden: Tensor, mask: Tensor) -> Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class Upper(nn.Module):
    """The trained part of a task model: the encoder's layers from ``freeze`` up to
    ``depth`` (a shallower model is cheaper to run; the layers above ``depth`` are not
    used), and the head. This is all an artifact ships."""

    def __init__(self, encoder: Encoder, freeze: int, kind: Kind, labels: int,
                 dropout: float = 0.1, depth: int | None = None) -> None:
        super().__init__()
        depth = len(encoder.layer) if depth is None else depth
        if not 0 <= freeze <= depth <= len(encoder.layer):
            raise ValueError(f"need 0 <= freeze ({freeze}) <= depth ({depth}) <= "
                             f"{len(encoder.layer)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.kind = kind
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in encoder.layer[freeze:depth])
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden, labels)

    def forward(self, hidden: Tensor, mask: Tensor) -> Tensor:
        bias = attention_bias(mask)
        for layer in self.layers:
            hidden = layer(hidden, bias)
        if self.kind == "token":
            return self.head(self.dropout(hidden))
        pooled = hidden[:, 0] if self.kind == "pair" else mean_pool(hidden, mask)
        return self.head(self.dropout(pooled))


class TaskModel(nn.Module):
    """Lower (frozen, shared) and upper (trained) parts together, for training and export."""

    def __init__(self, encoder: Encoder, upper: Upper, freeze: int) -> None:
        super().__init__()
        self.embeddings = encoder.embeddings
        self.lower = nn.ModuleList(encoder.layer[:freeze])
        for p in [*self.embeddings.parameters(), *self.lower.parameters()]:
            p.requires_grad_(False)
        self.upper = upper

    def lower_hidden(self, ids: Tensor, mask: Tensor, types: Tensor) -> Tensor:
        x = self.embeddings(ids, types)
        bias = attention_bias(mask)
        for layer in self.lower:
            x = layer(x, bias)
        return x

    def forward(self, ids: Tensor, mask: Tensor, types: Tensor) -> Tensor:
        if self.training:
            # The frozen part needs no graph: its activations are inputs to what trains.
            with torch.no_grad():
                self.embeddings.eval()
                self.lower.eval()
                hidden = self.lower_hidden(ids, mask, types)
        else:
            hidden = self.lower_hidden(ids, mask, types)
        return self.upper(hidden, mask)
