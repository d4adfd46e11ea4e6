"""Which judgement model serves, for code that has settings but no database.

A runtime registers its database here when it opens (``register``); a backend built from
an alias and the settings (the extractive composer) asks ``scorer(task, settings)`` and
gets the model active in that settings' database, or the shipped one when no runtime has
registered it (a backend used on its own). Scorers are built once per artifact.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from charter.core.config import Settings
from charter.judgement.artifact import Artifact
from charter.judgement.runtime import Scorer
from charter.judgement.versions import JudgementRepository, shipped
from charter.policy.pii_model import EntityTagger
from charter.store.db import Database, normalise_url

_repositories: dict[str, JudgementRepository] = {}
_scorers: dict[tuple[str, bool, int], Scorer] = {}
_taggers: dict[int, EntityTagger] = {}  # by the scorer object (ONNX or not) it wraps
_urls: dict[tuple[str, str, str], str] = {}  # settings' database URL, normalised
_lock = threading.Lock()


def register(db: Database) -> JudgementRepository:
    """The database's repository, made the one ``scorer`` reads for its URL."""
    repo = JudgementRepository(db)
    with _lock:
        _repositories[db.url] = repo
    return repo


def unregister(db: Database) -> None:
    with _lock:
        if (repo := _repositories.get(db.url)) is not None and repo.db is db:
            del _repositories[db.url]


def cache_dir(settings: Settings) -> Path:
    return (Path(settings.onnx_cache_dir).expanduser() if settings.onnx_cache_dir
            else settings.data_path / "cache" / "onnx")


def _database_url(settings: Settings) -> str:
    """The settings' normalised database URL; worked out once per settings (resolving
    the data folder's path costs system calls, and screening asks on every request)."""
    key = (settings.values["database_url"], settings.values["data_dir"], os.getcwd())
    found = _urls.get(key)
    if found is None:
        found = normalise_url(settings.resolved_database_url)
        with _lock:
            if len(_urls) > 64:
                _urls.clear()
            _urls[key] = found
    return found


def artifact(task: str, settings: Settings) -> Artifact | None:
    url = _database_url(settings)
    with _lock:
        repo = _repositories.get(url)
    return repo.active(task)[1] if repo is not None else shipped(task)


def scorer_for(model: Artifact, settings: Settings) -> Scorer:
    key = (model.sha256, bool(settings.judgement_onnx), int(settings.judgement_threads))
    with _lock:
        found = _scorers.get(key)
    if found is None:
        found = Scorer(model, cache_dir(settings) if settings.judgement_onnx else None,
                       threads=settings.judgement_threads)
        with _lock:
            found = _scorers.setdefault(key, found)
    return found


def pii_tagger(settings: Settings) -> EntityTagger | None:
    """The tagger of the PII model that serves now (None when there is none)."""
    found = scorer("pii", settings)
    if found is None:
        return None
    with _lock:
        tagger = _taggers.get(id(found))
    if tagger is None:
        tagger = EntityTagger(found)
        with _lock:  # scorers are kept for the process's life, so their ids stay theirs
            tagger = _taggers.setdefault(id(found), tagger)
    return tagger


def scorer(task: str, settings: Settings) -> Scorer | None:
    """The scorer of the model that serves ``task`` now (None when there is none)."""
    model = artifact(task, settings)
    return scorer_for(model, settings) if model is not None else None
