"""Agents, teams and budgets as declared in YAML (or sent to ``POST /api/runs``).

A teams file holds ``agents`` (name -> role, persona, instructions, tools, model alias)
and ``teams`` (name -> mode, members, budget). Modes:

* ``sequential``: each member works in turn on the task and the previous member's output;
* ``hierarchical``: the first member is the manager; it writes one sub-task per line for
  the others (``@name: sub-task``), they work, and the manager merges their outputs;
* ``review``: the first member writes, the second reviews; the reviewer approves with a
  line ``APPROVED`` or asks for changes, for at most the budget's ``rounds``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from charter.core.errors import InvalidInputError
from charter.core.chat import TOOL_AUTO, ToolChoice
from charter.core.routes import AUTO

Mode = Literal["sequential", "hierarchical", "review"]
NAME = r"^[a-z][a-z0-9_-]{0,39}$"


class Budget(BaseModel):
    """Limits the platform enforces on one run (every field counts the whole run)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(12, ge=1, le=500, description="model calls")
    tool_calls: int = Field(20, ge=0, le=1000, description="tool calls, retries included")
    tokens: int = Field(20_000, ge=100, le=5_000_000, description="prompt + completion tokens")
    cost: float = Field(1.0, ge=0.0, description="estimated cost in the aliases' currency")
    wall_seconds: float = Field(600.0, gt=0, le=86_400.0,
                                description="time spent in steps")
    repeats: int = Field(1, ge=0, le=10,
                         description="identical tool calls answered from the first result")
    rounds: int = Field(3, ge=1, le=20, description="review rounds without an approval")

    def raised(self, **changes: float | int | None) -> Budget:
        """This budget with the given limits replaced (None keeps a limit)."""
        values = self.model_dump()
        values.update({k: v for k, v in changes.items() if v is not None})
        return Budget(**values)


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    role: str = Field(min_length=1, max_length=200)
    persona: str = Field("", max_length=2000)
    instructions: str = Field("", max_length=8000)
    tools: list[str] = Field(default_factory=list, max_length=20)
    model: str = Field(AUTO, min_length=1, max_length=80,
                       description="the chat alias or route the agent asks")
    max_tokens: int | None = Field(None, ge=1, le=8192)
    # "required": the agent's model must call a tool until it has made one call (then it
    # may answer: a call required every step would never end); "auto": a call or text.
    tool_choice: ToolChoice = TOOL_AUTO


class TeamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=500)
    mode: Mode = "sequential"
    members: list[str] = Field(min_length=1, max_length=12)
    budget: Budget = Field(default_factory=Budget)

    @model_validator(mode="after")
    def _members_fit_the_mode(self) -> TeamSpec:
        if self.mode == "review" and len(self.members) != 2:
            raise ValueError("a review team has exactly two members: the writer, then the "
                             "reviewer")
        if self.mode == "hierarchical" and len(self.members) < 2:
            raise ValueError("a hierarchical team names its manager first and at least one "
                             "member to delegate to")
        if len(set(self.members)) != len(self.members):
            raise ValueError("a team names each member once")
        return self


class TeamsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agents: dict[str, AgentSpec] = Field(default_factory=dict)
    teams: dict[str, TeamSpec] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: object) -> object:
        if isinstance(data, dict):
            for section in ("agents", "teams"):
                entries = data.get(section)
                if isinstance(entries, dict):
                    data[section] = {k: ({"name": k, **v} if isinstance(v, dict) else v)
                                     for k, v in entries.items()}
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> TeamsFile:
        for team in self.teams.values():
            missing = [m for m in team.members if m not in self.agents]
            if missing:
                raise ValueError(f"team {team.name!r} names agents that are not declared: "
                                 f"{', '.join(missing)}")
        return self


class Team(BaseModel):
    """A team with its agents resolved: what a run stores and executes."""

    model_config = ConfigDict(extra="forbid")

    spec: TeamSpec
    agents: list[AgentSpec]

    def agent(self, name: str) -> AgentSpec:
        for a in self.agents:
            if a.name == name:
                return a
        raise InvalidInputError(f"team {self.spec.name!r} has no member {name!r}")


def _explain(exc: ValidationError, where: str) -> InvalidInputError:
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return InvalidInputError(f"{where}: {loc}: {first['msg']}; fix the teams file "
                             "(see docs/agents.md for its fields)")


def parse_teams(data: object, where: str = "teams file") -> TeamsFile:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidInputError(f"{where}: expected a mapping with 'agents' and 'teams'")
    try:
        return TeamsFile.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, where) from None


def load_teams(path: Path) -> TeamsFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"teams file {path} does not exist; set CHARTER_AGENTS_FILE "
                                "to a YAML file, or unset it for the built-in teams") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"teams file {path} is not valid YAML: {exc}") from None
    return parse_teams(raw, str(path))


def builtin_teams() -> TeamsFile:
    return load_teams(Path(__file__).with_name("teams.yaml"))


def merged(*files: TeamsFile) -> TeamsFile:
    """Later files override earlier ones, name by name."""
    agents: dict[str, AgentSpec] = {}
    teams: dict[str, TeamSpec] = {}
    for f in files:
        agents.update(f.agents)
        teams.update(f.teams)
    return TeamsFile(agents=agents, teams=teams)


def resolve(teams: TeamsFile, name: str) -> Team:
    team = teams.teams.get(name)
    if team is None:
        known = ", ".join(sorted(teams.teams)) or "none"
        raise InvalidInputError(f"no team {name!r}; known teams: {known} "
                                "(see `charter agents teams`)")
    return Team(spec=team, agents=[teams.agents[m] for m in team.members])
