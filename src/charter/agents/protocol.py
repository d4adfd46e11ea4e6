"""How an agent is asked and how its reply is read.

An agent that wants a tool answers with one line ``CALL <tool> <JSON object>``; anything
else is its answer. A reviewer approves with a line that is just ``APPROVED``; a manager
delegates with lines ``@member: sub-task``. Small models that never follow the format
still make progress: their text is taken as the answer, and a reviewer that never says
APPROVED stops the run at its budget's ``rounds`` (``budget_exhausted``).

Context is windowed: an agent sees the task, at most ``CONTEXT_CHARS`` of the material
handed to it, and its last ``OBSERVATIONS`` tool results, so each prompt is bounded and
a run's tokens grow linearly with its steps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from charter.agents.spec import AgentSpec
from charter.agents.tools import Tool
from charter.core.chat import ChatMessage

CONTEXT_CHARS = 3000
OBSERVATIONS = 3
OBSERVATION_CHARS = 1500

# Line-bound patterns ([ \t], never \s, beside ^ and $): linear on any input.
_CALL = re.compile(r"^[ \t]*CALL[ \t]+([a-z][a-z0-9_]{0,39})[ \t]*(\{[^\n]*\})?[ \t]*$",
                   re.MULTILINE)
_APPROVED = re.compile(r"^[^\w\n]*APPROVED[^\w\n]*$", re.MULTILINE)
_DELEGATE = re.compile(r"^[ \t]*@([a-z][a-z0-9_-]{0,39})[ \t]*:([^\n]+)", re.MULTILINE)


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any]
    error: str | None = None  # the arguments were not a JSON object

    @property
    def signature(self) -> str:
        return self.tool + " " + json.dumps(self.args, sort_keys=True)


def parse_call(reply: str) -> ToolCall | None:
    m = _CALL.search(reply)
    if m is None:
        return None
    raw = m.group(2) or "{}"
    try:
        args = json.loads(raw)
    except json.JSONDecodeError:
        return ToolCall(m.group(1), {}, error="the arguments are not valid JSON")
    if not isinstance(args, dict):
        return ToolCall(m.group(1), {}, error="the arguments must be a JSON object")
    return ToolCall(m.group(1), args)


def approved(reply: str) -> bool:
    return _APPROVED.search(reply) is not None


def delegations(reply: str, members: Sequence[str]) -> list[tuple[str, str]]:
    """The ``@member: sub-task`` lines naming one of ``members``, in order."""
    return [(m.group(1), m.group(2).strip()) for m in _DELEGATE.finditer(reply)
            if m.group(1) in members and m.group(2).strip()]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def system_prompt(agent: AgentSpec, tools: Mapping[str, Tool]) -> str:
    parts = [f"You are the {agent.role} of a team."]
    if agent.persona:
        parts.append(agent.persona)
    if agent.instructions:
        parts.append(agent.instructions)
    if tools:
        lines = ["To use a tool, reply with exactly one line: CALL <tool> <JSON arguments>. "
                 "Otherwise reply with your answer. Tools:"]
        for t in tools.values():
            args = ", ".join(f"{k}: {v}" for k, v in t.arguments.items()) or "no arguments"
            lines.append(f"- {t.name} ({args}): {t.description}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def messages(agent: AgentSpec, tools: Mapping[str, Tool], task: str, context: str,
             observations: Sequence[tuple[str, str]]) -> list[ChatMessage]:
    """The prompt of one model step: the agent as the system text; the material it was
    handed and its latest tool results (windowed) in a user message of their own, never
    with the system's authority (they may come from documents or other models); and the
    task last, as the question, so that retrieval and routing see the task itself."""
    handed = []
    if context:
        handed.append("Material handed to you:\n" + _clip(context, CONTEXT_CHARS))
    recent = observations[-OBSERVATIONS:]
    if len(observations) > len(recent):
        handed.append(f"({len(observations) - len(recent)} earlier tool results not shown)")
    for call, result in recent:
        handed.append(f"Result of {call}:\n{_clip(result, OBSERVATION_CHARS)}")
    out = [ChatMessage("system", system_prompt(agent, tools))]
    if handed:
        out.append(ChatMessage("user", "\n\n".join(handed)))
    out.append(ChatMessage("user", task))
    return out
