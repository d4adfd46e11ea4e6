"""Alias histories: which version an alias names, kept as a log of moves.

Routers and judgement models both keep one row per alias move (``activate`` or
``rollback``). The alias names the version of its latest row; a rollback is replayed as a
stack (activate pushes, rollback pops), so repeated rollbacks walk back through earlier
versions instead of toggling between two.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

def rollback_target(rows: Iterable[Any]) -> Any:
    """The version a rollback returns to, given the alias's rows (``version``, ``action``)
    in order; raises ``LookupError`` when there is no earlier version."""
    stack: list[Any] = []
    for row in rows:
        if row.action == "rollback":
            if stack:
                stack.pop()
        else:
            stack.append(row.version)
    if len(stack) < 2:
        raise LookupError("no earlier version")
    return stack[-2]
