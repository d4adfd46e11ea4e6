"""Structured sources: each CSV or JSONL row becomes a document.

The row's text comes from ``text_column``; ``id_column`` gives it a stable key (else its
row number); ``title_column`` a title; ``meta_columns`` are kept as metadata.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from charter.core.text import too_deep
from charter.knowledge.loaders import (
    Block,
    LoadContext,
    LoadedDocument,
    LoaderError,
    over_limit,
    paragraphs,
    read_text,
)


def _rows_to_docs(rows: Iterable[dict[str, Any]], path: Path,
                  context: LoadContext) -> list[LoadedDocument]:
    opts = context.records
    docs: list[LoadedDocument] = []
    for number, row in enumerate(rows, start=1):
        context.add_blocks()  # every row is work, empty or not
        if opts.text_column not in row:
            raise LoaderError(
                f"row {number} has no column '{opts.text_column}'; columns: "
                + _listed(row) + " (choose one with --text-column)"
            )
        text = str(row.get(opts.text_column) or "").strip()
        if not text:
            continue
        key = str(row.get(opts.id_column)) if opts.id_column and row.get(opts.id_column) \
            is not None else str(number)
        title = str(row.get(opts.title_column) or "") if opts.title_column else ""
        meta = {c: row.get(c) for c in opts.meta_columns if c in row}
        blocks = [Block(p) for p in paragraphs(text)]
        context.add_blocks(len(blocks) - 1)
        docs.append(LoadedDocument(title or f"{path.stem} #{key}", blocks, key=key,
                                   metadata=meta))
    return docs


class CsvLoader:
    extensions = (".csv",)

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        text = read_text(path)
        try:
            reader = csv.DictReader(text.splitlines())
            return _rows_to_docs(reader, path, context)
        except csv.Error as exc:
            raise LoaderError(f"the CSV is malformed ({exc})") from None


class JsonlLoader:
    extensions = (".jsonl", ".ndjson")

    def load(self, path: Path, context: LoadContext) -> list[LoadedDocument]:
        return _rows_to_docs(self._rows(path, context), path, context)

    @staticmethod
    def _rows(path: Path, context: LoadContext) -> Iterable[dict[str, Any]]:
        depth = context.limits.depth
        for number, line in enumerate(read_text(path).splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LoaderError(f"line {number} is not JSON ({exc.msg})") from None
            except RecursionError:  # deeper than the parser's own stack allows
                raise over_limit(f"has JSON on line {number} nested too deeply to "
                                 "read", depth, "kb_max_depth") from None
            if not isinstance(row, dict):
                raise LoaderError(f"line {number} is not a JSON object")
            where = too_deep(row, depth)
            if where is not None:
                raise over_limit(f"has JSON on line {number} nested more than "
                                 f"{depth} levels deep (at {where[:80]})", depth,
                                 "kb_max_depth")
            yield row


def _listed(row: Any, shown: int = 20) -> str:
    """A row's column names for an error message: the first ``shown``, each cut to 40
    characters (a crafted row can have thousands of long ones)."""
    names = [str(c)[:40] for c in itertools.islice(row, shown)]
    more = len(row) - len(names)
    return ", ".join(names) + (f" and {more:,} more" if more > 0 else "")
