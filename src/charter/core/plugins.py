"""Plugin discovery: one function for every entry-point group Charter reads.

Built-in backends, embedders and loaders register through the same groups a third-party
package uses, e.g. ``[project.entry-points."charter.chat_backends"] mine = "pkg.mod:Cls"``.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Final

from charter.core.errors import CharterError, InvalidInputError

CHAT_BACKENDS: Final = "charter.chat_backends"
EMBEDDERS: Final = "charter.embedders"
LOADERS: Final = "charter.loaders"
AGENT_TOOLS: Final = "charter.agent_tools"


@cache
def discover(group: str) -> dict[str, EntryPoint]:
    """The entry points registered in ``group``, by name (read once per process)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def names(group: str) -> list[str]:
    return sorted(discover(group))


def load(group: str, name: str, *, what: str) -> Any:
    """The object registered as ``name``; a clear error lists the known names, and a
    plugin that fails to import is reported, not raised as a traceback."""
    found = discover(group)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise InvalidInputError(f"no {what} named '{name}'; known {what}s: {known} (a plugin adds one "
                                f"through the entry point group {group})")
    return load_entry(found[name], what=what)


def load_entry(ep: EntryPoint, *, what: str) -> Any:
    try:
        return ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not take Charter down
        raise CharterError(f"{what} '{ep.name}' failed to load: {exc}") from exc


def load_all(group: str, *, what: str) -> dict[str, Any]:
    """Every object of ``group``, loaded, by name."""
    return {name: load_entry(ep, what=what) for name, ep in discover(group).items()}
