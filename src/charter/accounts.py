"""Users and API keys.

A key is ``chk_`` followed by 32 random bytes (URL-safe base64), shown once when created;
the database keeps only its SHA-256 (a random 256-bit secret needs no slow hash) and a
short prefix to recognise it in listings. Authenticating a key gives the user's
``Principal``: roles, clearance and groups for retrieval, tier for quotas.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from charter.core.principal import CLEARANCE_LEVELS, ROLES, Principal
from charter.core.routes import TIER_FREE
from charter.core.errors import AuthError, ConflictError, InvalidInputError, NotFoundError
from charter.store.db import Database, utcnow

MAX_ACTIVE_KEYS = 20  # unrevoked API keys one user may hold
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,199}$")
_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class User:
    id: str
    display_name: str
    roles: tuple[str, ...]
    clearance: str
    groups: tuple[str, ...]
    tier: str
    disabled: bool
    created_at: str

    def principal(self) -> Principal:
        return Principal(self.id, frozenset(self.roles), self.clearance, frozenset(self.groups),
                         self.tier, self.display_name)


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    prefix: str
    name: str
    created_at: str
    revoked_at: str | None


def _names(values: str) -> tuple[str, ...]:
    return tuple(v for v in values.strip("|").split("|") if v)


def _encode(values: tuple[str, ...] | list[str]) -> str:
    return "|" + "|".join(sorted(set(values))) + "|" if values else ""


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row) -> User:  # type: ignore[no-untyped-def]
    return User(row.id, row.display_name, _names(row.roles), row.clearance, _names(row.groups),
                row.tier, bool(row.disabled), row.created_at)


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._epoch: tuple[int, int] | None = db.credentials_epoch()

    # -- users ---------------------------------------------------------------------------

    def add_user(self, user_id: str, *, roles: list[str] | tuple[str, ...] = ("user",),
                 clearance: str = "internal", groups: list[str] | tuple[str, ...] = (),
                 tier: str = TIER_FREE, display_name: str = "") -> User:
        if not _ID.match(user_id or ""):
            raise InvalidInputError(f"user id {user_id!r}: use letters, digits and . _ @ - "
                                    "(at most 200 characters)")
        bad = [r for r in roles if r not in ROLES]
        if bad or not roles:
            raise InvalidInputError(f"roles must be among {', '.join(ROLES)}; got {list(roles)}")
        if clearance not in CLEARANCE_LEVELS:
            raise InvalidInputError(f"clearance must be one of {', '.join(CLEARANCE_LEVELS)}, "
                                    f"not {clearance!r}")
        groups = [g.strip().lower() for g in groups if g.strip()]
        for g in groups:
            if not _GROUP.match(g):
                raise InvalidInputError(f"group {g!r}: use lowercase letters, digits, - and _")
        with self.db.transaction(exclusive=True) as conn:
            if conn.execute(text("SELECT 1 FROM users WHERE id = :i"), {"i": user_id}).first():
                raise ConflictError(f"user {user_id!r} already exists")
            conn.execute(text(
                "INSERT INTO users (id, display_name, roles, clearance, groups, tier, disabled, "
                "created_at) VALUES (:i, :n, :r, :c, :g, :t, :d, :now)"),
                {"i": user_id, "n": display_name, "r": _encode(list(roles)), "c": clearance,
                 "g": _encode(groups), "t": tier, "d": False, "now": utcnow()})
        return self.get_user(user_id)

    def get_user(self, user_id: str) -> User:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM users WHERE id = :i"), {"i": user_id}).first()
        if row is None:
            raise NotFoundError(f"no user {user_id!r}; see `charter users list`")
        return _user(row)

    def list_users(self) -> list[User]:
        with self.db.connect() as conn:
            return [_user(r) for r in conn.execute(text("SELECT * FROM users ORDER BY id"))]

    def set_disabled(self, user_id: str, disabled: bool = True) -> User:
        self.get_user(user_id)
        with self.db.transaction() as conn:
            conn.execute(text("UPDATE users SET disabled = :d WHERE id = :i"),
                         {"d": disabled, "i": user_id})
        self.db.bump_credentials_epoch()
        return self.get_user(user_id)

    def count_admins(self) -> int:
        return sum(1 for u in self.list_users() if "admin" in u.roles and not u.disabled)

    # -- keys ----------------------------------------------------------------------------

    def create_key(self, user_id: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key for the user; returns the record and the secret (shown once)."""
        user = self.get_user(user_id)
        if user.disabled:
            raise ConflictError(f"user {user_id!r} is disabled; enable it before creating keys")
        active = sum(1 for k in self.list_keys(user_id) if k.revoked_at is None)
        if active >= MAX_ACTIVE_KEYS:
            raise ConflictError(f"user {user_id!r} already has {active} active API keys (the "
                                f"most one user may hold); revoke one with `charter keys "
                                f"revoke KEY_ID` first")
        secret = "chk_" + secrets.token_urlsafe(32)
        key = ApiKey("key_" + secrets.token_hex(8), user_id, secret[:12], name, utcnow(), None)
        with self.db.transaction() as conn:
            conn.execute(text(
                "INSERT INTO api_keys (id, user_id, key_hash, prefix, name, created_at) VALUES "
                "(:i, :u, :h, :p, :n, :t)"),
                {"i": key.id, "u": user_id, "h": hash_key(secret), "p": key.prefix, "n": name,
                 "t": key.created_at})
        return key, secret

    def list_keys(self, user_id: str | None = None) -> list[ApiKey]:
        sql = "SELECT id, user_id, prefix, name, created_at, revoked_at FROM api_keys"
        params = {}
        if user_id:
            sql += " WHERE user_id = :u"
            params["u"] = user_id
        with self.db.connect() as conn:
            return [ApiKey(*r) for r in conn.execute(text(sql + " ORDER BY created_at"), params)]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self.db.transaction() as conn:
            n = conn.execute(text("UPDATE api_keys SET revoked_at = :t WHERE id = :i AND "
                                  "revoked_at IS NULL"), {"t": utcnow(), "i": key_id}).rowcount
        self.db.bump_credentials_epoch()
        keys = [k for k in self.list_keys() if k.id == key_id]
        if not keys:
            raise NotFoundError(f"no API key {key_id!r}; see `charter keys list`")
        if not n and keys[0].revoked_at is None:
            raise ConflictError(f"API key {key_id!r} could not be revoked")
        return keys[0]

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthError("no API key: send 'Authorization: Bearer <key>' (create one with "
                            "`charter keys create USER`)")
        digest = hash_key(secret)
        if not self._may_cache():
            return self._principal(self._lookup(digest))
        return self._principal(self.db.cache.get_found(("auth", digest),
                                                       lambda: self._lookup(digest)))

    def authenticate_cached(self, secret: str | None) -> Principal | None:
        """The principal when the key was looked up within the cache's TTL (no database
        access, so an event loop may call it); None when ``authenticate`` must run."""
        if not secret or not self._may_cache():
            return None
        hit, row = self.db.cache.peek(("auth", hash_key(secret)))
        return self._principal(row) if hit else None

    def _may_cache(self) -> bool:
        """Whether cached credentials may be used: not when another process revoked a key
        or changed a user since they were read (``Database.credentials_epoch``)."""
        epoch = self.db.credentials_epoch()
        if epoch is None:
            return False
        if epoch != self._epoch:
            self.db.cache.invalidate("auth")
            self._epoch = epoch
        return True

    def _lookup(self, digest: str) -> Any:
        with self.db.connect() as conn:
            return conn.execute(text(
                "SELECT u.*, k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id "
                "WHERE k.key_hash = :h"), {"h": digest}).first()

    @staticmethod
    def _principal(row: Any) -> Principal:
        if row is None:
            raise AuthError("the API key is not valid")
        if row.revoked_at is not None:
            raise AuthError("the API key was revoked; ask an administrator for a new one")
        if row.disabled:
            raise AuthError("this user is disabled")
        return _user(row).principal()
