"""Model aliases: list, add (options checked against the backend), remove, test."""

from __future__ import annotations

import secrets
import time
from typing import Any, cast

from charter.backends import registry
from charter.backends.base import ChatModel, Embedder
from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, ChatRequest
from charter.core.config import mask_url
from charter.core.errors import QuotaExceededError
from charter.core.principal import Principal, require
from charter.runtime import Runtime
from charter.services import events


def list_aliases(rt: Runtime, actor: Principal) -> list[AliasConfig]:
    return rt.aliases.list()


def add_alias(rt: Runtime, actor: Principal, alias: AliasConfig, *,
              replace: bool = False) -> AliasConfig:
    """Add (or replace) an alias once its options pass the backend's checks."""
    require(actor, "admin")
    options = registry.check_alias(alias)
    saved = rt.aliases.add(AliasConfig(alias.name, alias.backend, alias.model, options,
                                       kind=alias.kind), replace=replace)
    # Keys are named by variable only; a URL could still carry credentials: masked.
    options = {k: mask_url(v) if isinstance(v, str) and "://" in v else v
               for k, v in saved.options.items()}
    events.record(rt, actor, "alias.added", saved.name,
                  {"backend": saved.backend, "model": saved.model, "kind": saved.kind,
                   "options": options, "version": saved.version})
    return saved


def remove_alias(rt: Runtime, actor: Principal, name: str) -> None:
    require(actor, "admin")
    rt.aliases.remove(name)
    events.record(rt, actor, "alias.removed", name, {})


def test_alias(rt: Runtime, actor: Principal, name: str, prompt: str) -> dict[str, Any]:
    """One request to an alias: load time, latency and tokens (or the dimension)."""
    require(actor, "admin")
    alias = rt.aliases.get(name)
    t0 = time.perf_counter()
    instance = registry.build(alias, rt.settings)
    if alias.kind == "embedding":
        _ = cast(Embedder, instance).dimension  # local embedders load lazily; count it
    load_ms = (time.perf_counter() - t0) * 1000
    t1 = time.perf_counter()
    report: dict[str, Any] = {"alias": name, "backend": alias.backend, "kind": alias.kind,
                              "model": instance.model_id, "load_ms": round(load_ms, 1)}
    if alias.kind == "chat":
        done = cast(ChatModel, instance).complete(
            ChatRequest([ChatMessage("user", prompt)], max_tokens=32))
        report.update(latency_ms=round((time.perf_counter() - t1) * 1000, 1),
                      prompt_tokens=done.usage.prompt_tokens,
                      completion_tokens=done.usage.completion_tokens, reply=done.text[:200])
    else:
        vectors = cast(Embedder, instance).embed([prompt])
        report.update(latency_ms=round((time.perf_counter() - t1) * 1000, 1),
                      dimension=len(vectors[0]))
    return report


def chat_models(rt: Runtime, actor: Principal) -> list[str]:
    """Chat aliases the caller's tier includes."""
    tier = rt.quotas.tier_of(actor)
    excluded = {lim.route for lim in rt.quotas.limits(tier) if lim.max_requests == 0}
    return [a.name for a in rt.aliases.list() if a.kind == "chat" and a.name not in excluded]


EMBEDDINGS_ROUTE = "embeddings"  # the quota route /v1/embeddings counts against


def embed(rt: Runtime, actor: Principal, model: str,
          texts: list[str]) -> tuple[str, list[list[float]]]:
    """Embeddings of ``texts`` from an embedding alias: (the alias's name, the vectors).

    Counted against the caller's quota on the ``embeddings`` route (requests, and tokens
    estimated at four characters each; `charter usage limit TIER embeddings ...`) and
    audited as ``embedding.created`` with the alias, the number of inputs and their size,
    never the texts. An ``external`` alias sees the texts redacted as the charter asks."""
    embedder = rt.embedding_model(model)
    alias = rt.aliases.get(model, kind="embedding")
    tier = rt.quotas.tier_of(actor)
    quota = rt.quotas.try_reserve(actor.id, tier, EMBEDDINGS_ROUTE)
    if quota.exhausted:
        raise QuotaExceededError(f"{quota.reason}; ask an administrator to raise the limit "
                                 f"(`charter usage limit {tier} {EMBEDDINGS_ROUTE} ...`)")
    vectors = embedder.embed(texts)
    chars = sum(len(t) for t in texts)
    rt.quotas.add_tokens(actor.id, quota, max(1, chars // 4))
    events.record(rt, actor, "embedding.created", f"emb_{secrets.token_hex(8)}", {
        "alias": alias.name, "alias_version": alias.version, "external": alias.external,
        "inputs": len(texts), "chars": chars, "quota_tier": tier})
    return alias.name, vectors
