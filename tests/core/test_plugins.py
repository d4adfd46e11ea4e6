"""One plugin discovery for every entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from charter.core import plugins
from charter.core.errors import CharterError, InvalidInputError


def test_each_group_finds_the_built_ins_registered_like_a_plugin() -> None:
    assert {"llamacpp", "openai_compat", "extractive", "scripted"} <= set(
        plugins.names(plugins.CHAT_BACKENDS))
    assert {"sentence_transformers", "openai_compat"} <= set(plugins.names(plugins.EMBEDDERS))
    loaders = plugins.load_all(plugins.LOADERS, what="loader")
    assert {"markdown", "pdf", "docx", "csv"} <= set(loaders)
    assert all(hasattr(cls, "extensions") for cls in loaders.values())


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="no chat backend named 'nope'; known chat "
                                                "backends: .*scripted"):
        plugins.load(plugins.CHAT_BACKENDS, "nope", what="chat backend")


def test_a_plugin_that_fails_to_import_is_reported_not_raised() -> None:
    broken = EntryPoint("broken", "charter_no_such_module:Thing", plugins.CHAT_BACKENDS)
    with pytest.raises(CharterError, match="chat backend 'broken' failed to load"):
        plugins.load_entry(broken, what="chat backend")
