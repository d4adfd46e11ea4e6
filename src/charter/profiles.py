"""Personalities and custom instructions: each user's profile, stored, and the checks on it.

The prompt layers them beneath the charter (``charter.prompt``). The order is only a hint
to the model: the charter itself is enforced by input and output screening, which no
personality or instruction reaches, so neither can switch a charter rule off.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from charter.core.errors import InvalidInputError
from charter.store.db import Database, utcnow

PERSONALITIES: dict[str, str] = {
    "default": "",
    "robot": "Be concise and professional: short sentences, no small talk, no emotion.",
    "listener": "Be warm and supportive: acknowledge feelings, encourage, and take time to "
                "understand before advising.",
    "nerd": "Be curious and detailed: explain the why, mention interesting connections and "
            "precise terms, and go one level deeper than asked.",
    "cynic": "Be dry and sceptical: point out weak assumptions and hype, with understated "
             "humour, while still giving a useful answer.",
}
MAX_INSTRUCTIONS = 1500


@dataclass(frozen=True)
class Profile:
    principal_id: str
    personality: str = "default"
    instructions: str = ""
    tier: str | None = None


def check_personality(name: str) -> str:
    key = (name or "default").strip().lower()
    if key not in PERSONALITIES:
        raise InvalidInputError(f"unknown personality {name!r}; choose one of "
                                + ", ".join(PERSONALITIES))
    return key


def check_instructions(text_: str) -> str:
    text_ = (text_ or "").strip()
    if len(text_) > MAX_INSTRUCTIONS:
        raise InvalidInputError(f"custom instructions are {len(text_)} characters; keep them "
                                f"under {MAX_INSTRUCTIONS}")
    return text_


class ProfileRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, principal_id: str) -> Profile:
        return self.db.cache.get(("profile", principal_id), lambda: self._get(principal_id))

    def _get(self, principal_id: str) -> Profile:
        with self.db.connect() as conn:
            row = conn.execute(text("SELECT * FROM user_profiles WHERE principal_id = :p"),
                               {"p": principal_id}).first()
        if row is None:
            return Profile(principal_id)
        return Profile(principal_id, row.personality, row.instructions, row.tier)

    def set(self, principal_id: str, *, personality: str | None = None,
            instructions: str | None = None) -> Profile:
        current = self.get(principal_id)
        new = Profile(principal_id,
                      check_personality(personality) if personality is not None else current.personality,
                      check_instructions(instructions) if instructions is not None else current.instructions,
                      current.tier)
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            updated = conn.execute(text(
                "UPDATE user_profiles SET personality = :s, instructions = :i, updated_at = :n "
                "WHERE principal_id = :p"),
                {"s": new.personality, "i": new.instructions, "n": now, "p": principal_id}).rowcount
            if not updated:
                conn.execute(text("INSERT INTO user_profiles (principal_id, personality, "
                                  "instructions, updated_at) VALUES (:p, :s, :i, :n)"),
                             {"p": principal_id, "s": new.personality, "i": new.instructions, "n": now})
        self.db.cache.invalidate("profile")
        return new

    def set_tier(self, principal_id: str, tier: str) -> None:
        """Record the quota tier an administrator chose for the principal."""
        now = utcnow()
        with self.db.transaction(exclusive=True) as conn:
            updated = conn.execute(text("UPDATE user_profiles SET tier = :t, updated_at = :n "
                                        "WHERE principal_id = :p"),
                                   {"t": tier, "n": now, "p": principal_id}).rowcount
            if not updated:
                conn.execute(text("INSERT INTO user_profiles (principal_id, tier, updated_at) "
                                  "VALUES (:p, :t, :n)"), {"p": principal_id, "t": tier, "n": now})
        self.db.cache.invalidate("profile")
