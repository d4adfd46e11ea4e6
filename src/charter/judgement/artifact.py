"""A trained judgement model as it ships and as it is stored: the trained layers and head
(half precision), what they were trained for, and their model card.

An artifact holds only what training changed (the encoder's layers from ``freeze`` up
and the head); the layers below come from the packaged encoder at load time, so every
task shares one copy of them. ``base`` names the encoder by the hash of its weights: an
artifact trained on another base, or of another hidden size, is refused.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from charter.core.errors import InvalidInputError
from charter.judgement.encoder import BertConfig, Encoder, base_id, load_encoder, packaged_dir
from charter.judgement.heads import Kind, TaskModel, Upper

FORMAT = 1


class ArtifactMismatchError(InvalidInputError):
    """The artifact was trained on a different base encoder."""

    code = "artifact_mismatch"


@dataclass(frozen=True)
class Meta:
    task: str
    kind: Kind
    labels: list[str]
    freeze: int
    depth: int  # encoder layers used; those from ``freeze`` to ``depth`` were trained
    max_length: int
    base: str
    hidden: int
    threshold: dict[str, float] = field(default_factory=dict)  # per label, from validation
    temperature: float = 1.0  # logits are divided by it (calibration on validation)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)  # data, split, hyper-parameters
    format: int = FORMAT

    def with_test(self, before: dict[str, Any], after: dict[str, Any]) -> Meta:
        """This meta with the held-out test figures, without the model and with it."""
        return replace(self, metrics={**self.metrics,
                                      "test": {"before": before, "after": after}})


@dataclass(frozen=True)
class Artifact:
    meta: Meta
    state: dict[str, torch.Tensor]  # the Upper module's parameters, half precision
    card: str = ""

    @cached_property
    def sha256(self) -> str:
        """The hash of what the artifact is (its meta, card and tensors), not of its file:
        safetensors writes the metadata's keys in no fixed order."""
        digest = hashlib.sha256()
        digest.update(json.dumps(asdict(self.meta), sort_keys=True).encode())
        digest.update(self.card.encode())
        for name in sorted(self.state):
            tensor = self.state[name].contiguous()
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
            digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        return digest.hexdigest()

    @classmethod
    def of(cls, model: TaskModel, meta: Meta, card: str = "") -> Artifact:
        state = {k: v.detach().to(torch.float16).contiguous()
                 for k, v in model.upper.state_dict().items()}
        return cls(meta, state, card)

    def to_bytes(self) -> bytes:
        from safetensors.torch import save

        ordered = {name: self.state[name] for name in sorted(self.state)}
        return save(ordered, metadata={"meta": json.dumps(asdict(self.meta), sort_keys=True),
                                       "card": self.card})

    @classmethod
    def from_bytes(cls, data: bytes, origin: str = "artifact") -> Artifact:
        from safetensors.torch import load

        try:
            state = load(data)
            raw = _metadata(data)
            meta = json.loads(raw["meta"])
        except Exception as exc:  # noqa: BLE001 - any decoding problem: a clear error
            raise InvalidInputError(f"{origin} is not a Charter judgement artifact "
                                    f"({type(exc).__name__}: {exc})") from None
        if meta.get("format") != FORMAT:
            raise InvalidInputError(f"{origin} has artifact format {meta.get('format')}; this "
                                    f"Charter reads format {FORMAT}")
        return cls(Meta(**meta), state, raw.get("card", ""))

    def save(self, folder: Path) -> Path:
        """``folder/model.safetensors`` and ``folder/CARD.md``; returns the weights' path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "model.safetensors"
        path.write_bytes(self.to_bytes())
        (folder / "CARD.md").write_text(self.card)
        return path

    @classmethod
    def load(cls, path: Path) -> Artifact:
        if not path.is_file():
            raise InvalidInputError(f"no judgement artifact at {path}")
        return cls.from_bytes(path.read_bytes(), str(path))

    def check_base(self, model_dir: Path | None = None) -> None:
        config = BertConfig.load(model_dir or packaged_dir())
        here = base_id(model_dir)
        if self.meta.base != here or self.meta.hidden != config.hidden:
            raise ArtifactMismatchError(
                f"the {self.meta.task} model was trained on {self.meta.base} "
                f"({self.meta.hidden} dimensions) but this install's encoder is {here} "
                f"({config.hidden} dimensions); retrain it with `charter finetune "
                f"{self.meta.task}`")

    def model(self, encoder: Encoder | None = None) -> TaskModel:
        """The full task model: the packaged lower layers and these trained ones, in eval
        mode and full precision."""
        self.check_base()
        encoder = encoder or load_encoder()
        upper = Upper(encoder, self.meta.freeze, self.meta.kind, len(self.meta.labels),
                      depth=self.meta.depth)
        upper.load_state_dict({k: v.to(torch.float32) for k, v in self.state.items()})
        return TaskModel(encoder, upper, self.meta.freeze).eval()


def _metadata(data: bytes) -> dict[str, str]:
    """The metadata of safetensors bytes: an 8-byte length, then a JSON header."""
    size = int.from_bytes(data[:8], "little")
    return dict(json.loads(data[8:8 + size]).get("__metadata__", {}))
