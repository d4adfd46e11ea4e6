"""No regular expression Charter runs on untrusted text backtracks super-linearly.

Every compiled pattern at module level in the ``charter`` package, the default charter's
patterns and the injection rules are run on adversarial inputs: runs of spaces, newlines,
brackets, markers and digits, alone and inside a heading or after a bracket (1 KB and 10 KB), and
plain at 100 KB, the shapes that make a backtracking engine try each start position
against the rest of the text. A linear pattern takes milliseconds on 100 KB; a quadratic
one takes seconds already on 10 KB and a cubic one hours, so the budget below separates
the two by orders of magnitude and is not a speed target. A pattern stops at its first
case over budget, so a bad one fails in seconds instead of hanging the suite.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time

import pytest

import charter
from charter.policy.injection import RULES
from charter.policy.versions import default_charter_text
from charter.policy.schema import parse_charter

BUDGET_S = 1.0  # per call, at the largest size; linear patterns need a few ms

SHAPES = ("{}", "# a{}b", "a{}", "[{}", "({}", "1{}")
UNITS = (" ", "\n", "\t", "a", "A", "1", "[", "]", "(", "*", "_", "`", "#", "-", ".", ",",
         "@", "a ", "Aa ", "1,", "[a", "](", "**a", "_a ", ". ", " .", "\n ", " \n", "a@",
         "+1 ", "ignore ", "4111 ", "{;", "= ", "a-", "a'", "'", "\"", "|", "/", "\\", "%")


def _module_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for info in pkgutil.walk_packages(charter.__path__, "charter."):
        if ".bench" in info.name or ".migrations" in info.name or info.name.endswith("__main__"):
            continue  # benchmarks and migrations never see request or document text
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue  # an optional extra that is not installed
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and value.pattern not in {p.pattern for _, p in found}:
                found.append((f"{info.name}.{name}", value))
    return found


def _all_patterns() -> list[tuple[str, re.Pattern[str]]]:
    found = _module_patterns()
    found += [(f"injection rule {name}", pattern) for name, pattern in RULES]
    charter_ = parse_charter(default_charter_text())
    for category in charter_.categories:
        for i, p in enumerate(category.patterns):
            found.append((f"charter {category.id} pattern {i}", re.compile(p, re.IGNORECASE)))
    for i, p in enumerate(charter_.allow_patterns):
        found.append((f"charter allow pattern {i}", re.compile(p, re.IGNORECASE)))
    return found


PATTERNS = _all_patterns()


def test_the_scan_finds_the_patterns_it_is_meant_to_guard() -> None:
    names = {name for name, _ in PATTERNS}
    assert "charter.knowledge.loaders.text._HEADING" in names
    assert any(n.startswith("injection rule") for n in names)
    assert any(n.startswith("charter ") and "pattern" in n for n in names)
    assert len(PATTERNS) > 40


def _slowest(pattern: re.Pattern[str], text: str) -> float:
    worst = 0.0
    for call in (pattern.search, lambda t: pattern.sub("", t)):
        began = time.perf_counter()
        call(text)
        worst = max(worst, time.perf_counter() - began)
    return worst


@pytest.mark.parametrize("name, pattern", PATTERNS, ids=[n for n, _ in PATTERNS])
def test_pattern_is_linear_on_adversarial_input(name: str, pattern: re.Pattern[str]) -> None:
    slow = []
    for unit in UNITS:
        # Every shape at 1 KB, where a cubic pattern already takes seconds, and at 10 KB,
        # where a quadratic one does; then the plain run at 100 KB. The budget grows with
        # the input, plus some noise.
        cases = [(shape, size) for size in (1_000, 10_000) for shape in SHAPES]
        cases.append(("{}", 100_000))
        for shape, size in cases:
            text = shape.format(unit * (size // len(unit)))
            took = _slowest(pattern, text)
            if took > BUDGET_S * size / 100_000 + 0.05:
                slow.append(f"{shape!r} with {unit!r} x {size // len(unit)}: {took:.2f} s")
                break
    assert slow == [], f"{name} ({pattern.pattern!r}) backtracks: {slow[:3]}"
