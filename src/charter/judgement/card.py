"""Model cards: what a judgement model is, what it was trained on and how it measured."""

from __future__ import annotations

import json
from typing import Any

from charter.judgement.artifact import Meta


def _table(rows: dict[str, Any]) -> str:
    lines = ["| metric | before | after |", "|---|---|---|"]
    before, after = rows.get("before", {}), rows.get("after", {})
    for key in sorted(set(before) | set(after)):
        lines.append(f"| {key} | {before.get(key, '-')} | {after.get(key, '-')} |")
    return "\n".join(lines)


def render(meta: Meta, *, purpose: str, data: str, split: str, before_method: str,
           size_bytes: int, after_method: str = "this model") -> str:
    """The card: Markdown, stored in the artifact and shipped beside it as CARD.md."""
    test = meta.metrics.get("test", {})
    training = meta.training
    config = training.get("config", {})
    return "\n".join([
        f"# Charter judgement model: {meta.task}",
        "",
        purpose,
        "",
        "## Model",
        f"- base encoder: `{meta.base}` (the packaged all-MiniLM-L6-v2; its lower "
        f"{meta.freeze} layers are used as shipped and not stored here)",
        f"- trained: encoder layers {meta.freeze + 1}-{meta.depth} and a `{meta.kind}` head "
        f"over {len(meta.labels)} label(s): {', '.join(meta.labels)}",
        f"- artifact: {size_bytes / 1e6:.1f} MB (half precision)",
        f"- threshold(s), chosen on validation data: {json.dumps(meta.threshold)}",
        f"- input: at most {meta.max_length} tokens",
        "",
        "## Data and split",
        data,
        "",
        split,
        "",
        "## Training",
        f"- `charter finetune {meta.task}` with " + ", ".join(
            f"{k}={v}" for k, v in sorted(config.items())),
        f"- epochs run: {training.get('epochs_run')}, time: {training.get('seconds')} s, "
        f"peak resident memory: {training.get('peak_rss_mb')} MB (2 CPU cores)",
        f"- validation at the kept epoch: {json.dumps(meta.metrics.get('validation', {}))}",
        "",
        "## Held-out test",
        f"Before: {before_method}. After: {after_method}.",
        "",
        _table(test),
        "",
    ])
