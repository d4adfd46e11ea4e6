"""Finds backends through entry points, exactly as a third-party plugin would register.

Groups: ``charter.chat_backends`` and ``charter.embedders``. A plugin package adds
``[project.entry-points."charter.chat_backends"] mybackend = "pkg.mod:Class"``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from pydantic import ValidationError

from charter.core.aliases import AliasConfig
from charter.backends.base import ChatModel, Embedder
from charter.core.config import Settings
from charter.core import plugins
from charter.core.errors import InvalidInputError


def _group(kind: str) -> str:
    return plugins.CHAT_BACKENDS if kind == "chat" else plugins.EMBEDDERS


def backend_names(kind: str = "chat") -> list[str]:
    return plugins.names(_group(kind))


def backend_class(name: str, kind: str = "chat") -> Any:
    """The class registered under ``name``; a clear error lists the known ones."""
    return plugins.load(_group(kind), name, what=f"{kind} backend")


def check_alias(alias: AliasConfig) -> dict[str, Any]:
    """Validate an alias's options against its backend; returns the normalised options."""
    cls = backend_class(alias.backend, alias.kind)
    try:
        options = cls.Options.model_validate(alias.options)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
            for err in exc.errors()
        )
        allowed = ", ".join(cls.Options.model_fields)
        raise InvalidInputError(
            f"invalid options for backend '{alias.backend}': {problems}; "
            f"allowed options: {allowed}"
        ) from None
    check = getattr(cls, "check_alias", None)
    if check is not None:
        check(alias)
    return options.model_dump(exclude_none=True)


_instances: dict[tuple[str, ...], Any] = {}
_lock = threading.Lock()


def build(alias: AliasConfig, settings: Settings) -> ChatModel | Embedder:
    """An instance for ``alias``, built once per distinct configuration and reused."""
    cls = backend_class(alias.backend, alias.kind)
    # Settings a backend reads when it is built are part of what makes it distinct.
    read = tuple(str(getattr(settings, k)) for k in getattr(cls, "settings_read", ()))
    key = (alias.kind, alias.name, alias.backend, alias.model,
           json.dumps(alias.options, sort_keys=True, default=str), *read)
    with _lock:
        instance = _instances.get(key)
    if instance is not None:
        return instance
    check_alias(alias)
    instance = cls.from_alias(alias, settings)
    with _lock:
        return _instances.setdefault(key, instance)


def clear_cache() -> None:
    """Forget built instances (the underlying model files stay loaded where cached)."""
    with _lock:
        _instances.clear()
