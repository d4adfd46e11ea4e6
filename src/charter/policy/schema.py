"""The charter file: the organisation's AI policy as data, validated by this schema.

A charter declares principles; categories of use, each with a tier, a description,
example requests, patterns and the guidance used for safe completions or refusals; the
action each tier gets; PII rules; and the label attached to AI-generated answers.
"""

from __future__ import annotations

import re
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from charter.core.errors import InvalidInputError

Tier = Literal["red_line", "high_risk", "limited", "minimal"]
Action = Literal["allow", "safe_complete", "refuse", "hold_for_review"]
TIERS: tuple[Tier, ...] = ("red_line", "high_risk", "limited", "minimal")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Category(Strict):
    id: str
    name: str
    tier: Tier
    description: str
    examples: list[str] = Field(min_length=1)
    patterns: list[str] = Field(default_factory=list)
    action: Action | None = None  # overrides the tier's action for this category
    reason: str = ""  # what the user is told when the request is refused or held
    safe_completion: str = ""  # guidance for answering at a safe level
    answer_with_model: bool = True  # false: the safe completion is the whole answer
    alternatives: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,60}", v):
            raise ValueError("category ids are lower_snake_case")
        return v

    @field_validator("patterns")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {exc}") from None
        return v


class PiiRules(Strict):
    entities: list[str] = Field(default_factory=lambda: [
        "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN",
        "UK_NHS", "URL"])
    redact_in_audit: bool = True
    redact_for_external_backends: bool = True
    redact_in_answers: bool = False

    @field_validator("entities")
    @classmethod
    def _known_entities(cls, value: list[str]) -> list[str]:
        from charter.policy.pii import SUPPORTED

        unknown = [e for e in value if e not in SUPPORTED]
        if unknown:
            raise ValueError(f"unknown PII entities {', '.join(unknown)}; Charter detects "
                             f"{', '.join(SUPPORTED)}")
        return value


class Charter(Strict):
    name: str
    principles: list[str] = Field(min_length=1)
    actions: dict[Tier, Action]
    categories: list[Category] = Field(min_length=1)
    benign_examples: list[str] = Field(
        default_factory=list,
        description="Requests that use alarming words but are fine; they teach the classifier "
                    "what not to refuse.")
    allow_patterns: list[str] = Field(default_factory=list)
    pii: PiiRules = Field(default_factory=PiiRules)
    label: str = "AI-generated content. Check important facts."
    injection_notice: str = "Some retrieved text looked like instructions to the assistant; it was treated as quoted data only."

    @model_validator(mode="after")
    def _complete(self) -> Charter:
        missing = [t for t in TIERS if t not in self.actions]
        if missing:
            raise ValueError(f"actions must name every tier; missing: {', '.join(missing)}")
        ids = [c.id for c in self.categories]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"duplicate category ids: {', '.join(sorted(dupes))}")
        return self

    def category(self, category_id: str) -> Category:
        for c in self.categories:
            if c.id == category_id:
                return c
        raise KeyError(category_id)

    def action_for(self, category: Category) -> Action:
        return category.action or self.actions[category.tier]


def parse_charter(text: str, origin: str = "charter") -> Charter:
    """Parse and validate charter YAML; errors name the field and say what is wrong."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{origin} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{origin}: expected a mapping with name, principles, actions "
                                "and categories at the top")
    try:
        return Charter.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise InvalidInputError(f"{origin} does not match the charter schema: {problems}") from None
