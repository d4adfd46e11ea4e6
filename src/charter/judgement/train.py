"""The one trainer every judgement model is fitted with: transformers' ``Trainer`` over a
task model (judgement/heads.py), with early stopping on a validation metric, the best
epoch kept, a rich progress bar, and the time and peak memory it took.

A task supplies its examples (already split: training and validation come from different
sources, articles or samples, never from a random row split), a collate function that
turns a batch of examples into tensors, and a metric over validation logits.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from functools import partial
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from charter.judgement.encoder import load_encoder
from charter.judgement.heads import Kind, TaskModel, Upper

Collate = Callable[[list[Any]], dict[str, torch.Tensor]]
Metric = Callable[[np.ndarray, np.ndarray], dict[str, float]]


@dataclass(frozen=True)
class TrainConfig:
    freeze: int = 4  # lower encoder layers kept as packaged (of 6)
    depth: int = 6  # encoder layers used (fewer: a cheaper model)
    epochs: int = 3
    learning_rate: float = 5e-5  # small: the top layers start from good weights
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    patience: int = 1  # epochs without a better validation metric before stopping
    seed: int = 13
    threads: int = 2


@dataclass(frozen=True)
class FitReport:
    model: TaskModel
    best: dict[str, float]  # validation metrics of the kept epoch
    history: list[dict[str, float]]
    seconds: float
    peak_rss_mb: float
    epochs_run: float
    config: TrainConfig

    def training(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "seconds": round(self.seconds, 1),
                "peak_rss_mb": round(self.peak_rss_mb, 1), "epochs_run": self.epochs_run}


class _Loss(nn.Module):
    """The trained part of a task model with the loss its head needs, in the shape Trainer
    expects. It reads the frozen layers' output, computed once per example beforehand
    (``_Frozen``): those layers do not change, so each epoch runs only what trains."""

    def __init__(self, model: TaskModel, kind: Kind, pos_weight: float | None = None) -> None:
        super().__init__()
        self.upper = model.upper
        self.kind = kind
        self.register_buffer("pos_weight", torch.tensor(pos_weight) if pos_weight else None,
                             persistent=False)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.upper(hidden.to(torch.float32), mask)
        out = {"logits": logits}
        if labels is not None:
            if self.kind == "token":
                out["loss"] = nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
            else:
                target = labels.to(logits.dtype).reshape(logits.shape)
                out["loss"] = nn.functional.binary_cross_entropy_with_logits(
                    logits, target, pos_weight=self.pos_weight)
        return out


class _Frozen(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Examples as the frozen layers' output (half precision, unpadded) with their labels."""

    def __init__(self, model: TaskModel, rows: Sequence[Any], collate: Collate, *,
                 token: bool, batch_size: int = 64) -> None:
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(rows), batch_size):
                batch = collate(list(rows[start:start + batch_size]))
                hidden = model.lower_hidden(batch["ids"], batch["mask"], batch["types"])
                for i, n in enumerate(batch["mask"].sum(1).tolist()):
                    label = batch["labels"][i]
                    self.items.append((hidden[i, :n].to(torch.float16).clone(),
                                       label[:n].clone() if token else label.clone()))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.items[i]


def _pad(items: list[tuple[torch.Tensor, torch.Tensor]], *,
         token_labels: bool) -> dict[str, torch.Tensor]:
    width = max(h.shape[0] for h, _ in items)
    hidden = torch.zeros((len(items), width, items[0][0].shape[1]), dtype=torch.float16)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    labels = torch.full((len(items), width), -100, dtype=torch.long) if token_labels else \
        torch.stack([y for _, y in items])
    for i, (h, y) in enumerate(items):
        hidden[i, :h.shape[0]] = h
        mask[i, :h.shape[0]] = 1
        if token_labels:
            labels[i, :y.shape[0]] = y
    return {"hidden": hidden, "mask": mask, "labels": labels}


def _progress_callback(total_epochs: int, metric: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):  # type: ignore[misc]
        """Steps, the running loss and the last validation metric, on stderr."""

        def __init__(self) -> None:
            self.bar = Progress(TextColumn("[bold]training"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} steps"),
                                TextColumn("loss {task.fields[loss]}"),
                                TextColumn("{task.fields[metric]}"), TimeElapsedColumn(),
                                console=Console(stderr=True), transient=False)
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.bar.start()
            self.task = self.bar.add_task("train", total=state.max_steps, loss="-",
                                          metric=f"{metric} -")

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.bar.update(self.task, completed=state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            logs = logs or {}
            if "loss" in logs:
                self.bar.update(self.task, loss=f"{logs['loss']:.4f}")
            if f"eval_{metric}" in logs:
                self.bar.update(self.task, metric=f"{metric} {logs[f'eval_{metric}']:.4f} "
                                                  f"(epoch {logs.get('epoch', 0):.0f})")

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.bar.stop()

    return RichProgress()


def fit(kind: Kind, labels: int, train: Sequence[Any], validation: Sequence[Any],
        collate: Collate, metric: Metric, select: str | None,
        config: TrainConfig = TrainConfig(), *, pos_weight: float | None = None,
        progress: bool = True) -> FitReport:
    """Train a task model from the packaged encoder; keeps the epoch with the best
    validation ``select`` metric (higher is better) and stops after ``patience`` epochs
    without improvement. ``select=None``: every epoch runs and the last is kept (for a
    task whose validation split cannot rank epochs, only set a threshold)."""
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    encoder = load_encoder()
    model = TaskModel(encoder, Upper(encoder, config.freeze, kind, labels, depth=config.depth),
                      config.freeze)
    wrapped = _Loss(model, kind, pos_weight)
    started = time.perf_counter()
    token = kind == "token"
    train_set = _Frozen(model, train, collate, token=token)
    validation_set = _Frozen(model, validation, collate, token=token)

    def compute(pred: Any) -> dict[str, float]:
        logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
        return metric(np.asarray(logits), np.asarray(pred.label_ids))

    history: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="charter-finetune-") as work:
        steps = math.ceil(len(train) / config.batch_size) * config.epochs
        args = TrainingArguments(
            output_dir=work, per_device_train_batch_size=config.batch_size,
            per_device_eval_batch_size=config.batch_size * 2, num_train_epochs=config.epochs,
            learning_rate=config.learning_rate, weight_decay=config.weight_decay,
            warmup_steps=math.ceil(steps * config.warmup_ratio), lr_scheduler_type="linear",
            eval_strategy="epoch", save_strategy="epoch" if select else "no",
            save_total_limit=1, load_best_model_at_end=select is not None,
            metric_for_best_model=select, greater_is_better=True,
            logging_strategy="steps", logging_steps=20, report_to=[], disable_tqdm=True,
            remove_unused_columns=False, use_cpu=True, seed=config.seed,
            data_seed=config.seed, dataloader_num_workers=0)
        callbacks: list[Any] = ([EarlyStoppingCallback(early_stopping_patience=config.patience)]
                                if select else [])
        if progress:
            callbacks.append(_progress_callback(config.epochs, select or "loss"))
        trainer = Trainer(model=wrapped, args=args, train_dataset=train_set,
                          eval_dataset=validation_set,
                          data_collator=partial(_pad, token_labels=token),
                          compute_metrics=compute, callbacks=callbacks)
        # Logs go to the rich bar (or nowhere, for --json), never as dicts on stdout.
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        trainer.train()
        for entry in trainer.state.log_history:
            if f"eval_{select or 'loss'}" in entry:
                history.append({k.removeprefix("eval_"): float(v) for k, v in entry.items()
                                if isinstance(v, (int, float))})
        epochs_run = float(trainer.state.epoch or 0.0)
    best = (max(history, key=lambda h: h[select]) if select else history[-1]) if history else {}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.eval()
    return FitReport(model, best, history, time.perf_counter() - started, peak, epochs_run,
                     config)


def predict(model: TaskModel, rows: Sequence[Any], collate: Collate,
            batch_size: int = 64) -> np.ndarray:
    """Logits of ``rows`` (token tasks: padded to the longest row, per batch)."""
    model.eval()
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = collate(list(rows[start:start + batch_size]))
            out.append(model(batch["ids"], batch["mask"], batch["types"]).numpy())
    if not out:
        return np.zeros((0,))
    if out[0].ndim == 3:  # token logits of different widths
        width = max(o.shape[1] for o in out)
        out = [np.pad(o, ((0, 0), (0, width - o.shape[1]), (0, 0))) for o in out]
    return np.concatenate(out)
