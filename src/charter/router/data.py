"""Outcome data for training and evaluating the router.

The format is the one of ../shared/data/router/mmlu: CSV files with a ``prompt`` column
and two boolean columns, the weak model's correctness then the strong model's. A folder
is read file by file (sorted); ``contaminated_prompts.jsonl`` in it lists prompts to
leave out. The split into train and test is a hash of the prompt, so a prompt lands in
the same split on every machine and in every run, and ``router eval`` never scores a
prompt that ``router train`` saw.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from charter.core.errors import InvalidInputError

Split = Literal["train", "test", "all"]
TEST_SHARE_PERCENT = 20


@dataclass(frozen=True)
class Outcome:
    prompt: str
    weak_correct: bool
    strong_correct: bool


def split_of(prompt: str) -> Literal["train", "test"]:
    bucket = int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _flag(value: str, where: str, column: str) -> bool:
    low = (value or "").strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise InvalidInputError(f"{where}: column {column!r} should be True or False, not {value!r}")


def _read_csv(path: Path) -> list[Outcome]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or len(header) < 3 or header[0].strip().lower() != "prompt":
            raise InvalidInputError(
                f"{path}: expected a header 'prompt,<weak model>,<strong model>' (a prompt "
                "column, then the weak model's and the strong model's correctness)")
        rows = []
        for n, row in enumerate(reader, start=2):
            if len(row) < 3:
                raise InvalidInputError(f"{path}:{n}: expected 3 columns, found {len(row)}")
            where = f"{path}:{n}"
            rows.append(Outcome(row[0], _flag(row[1], where, header[1]),
                                _flag(row[2], where, header[2])))
        return rows


def _contaminated(folder: Path) -> set[str]:
    path = folder / "contaminated_prompts.jsonl"
    if not path.exists():
        return set()
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            out.update(str(item[k]) for k in ("train_prompt", "eval_prompt") if item.get(k))
    return out


def load_outcomes(source: Path, split: Split = "all") -> list[Outcome]:
    """Outcomes from a CSV file or a folder of them, restricted to one split."""
    source = source.expanduser()
    if source.is_dir():
        files = sorted(source.glob("*.csv"))
        if not files:
            raise InvalidInputError(f"{source} has no .csv files; pass a folder of outcome "
                                    "CSVs (prompt, weak correct, strong correct) or one CSV")
        skip = _contaminated(source)
    elif source.is_file():
        if source.suffix.lower() != ".csv":
            raise InvalidInputError(f"{source} is not a .csv file")
        files, skip = [source], set()
    else:
        raise InvalidInputError(f"{source} does not exist; pass a folder of outcome CSVs or one CSV")
    seen: set[str] = set()
    out: list[Outcome] = []
    for f in files:
        for row in _read_csv(f):
            if row.prompt in skip or row.prompt in seen:
                continue
            seen.add(row.prompt)
            if split == "all" or split_of(row.prompt) == split:
                out.append(row)
    if not out:
        raise InvalidInputError(f"{source}: no usable rows in the {split} split")
    return out
