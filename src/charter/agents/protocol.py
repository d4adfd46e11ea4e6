"""How an agent is asked and how its reply is read.

An agent that wants a tool asks for it through function calling (a model server that has
it, or the local model under a JSON-schema grammar: ``Completion.tool_calls``), or writes
one line ``CALL <tool> <JSON object>``, or a JSON object ``{"tool": ..., "arguments":
{...}}``; anything else is its answer. A small model's JSON is read tolerantly: at most
``MAX_REPAIRS`` repairs (code fences and text around it ignored, trailing commas dropped,
single quotes read as double, unclosed brackets closed), and a call that is still
unreadable is answered with an error naming the format, which counts against the run's
tool calls like any failed call, so repair attempts are bounded by the budget. A reviewer approves with a line that is just ``APPROVED``; a manager
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
    except (ValueError, RecursionError):  # RecursionError: nesting past the parser's depth
        return ToolCall(m.group(1), {}, error="the arguments are not valid JSON")
    if not isinstance(args, dict):
        return ToolCall(m.group(1), {}, error="the arguments must be a JSON object")
    return ToolCall(m.group(1), args)


MAX_REPAIRS = 3
_TRAILING_COMMA = re.compile(r",[ \t\r\n]*([}\]])")
NAME_KEYS = ("tool", "name", "function")
ARGUMENT_KEYS = ("arguments", "args", "parameters", "input")


def _span(text: str, start: int) -> tuple[str, list[str]]:
    """The JSON object opening at ``start``: its text up to the bracket that closes it
    (or to the end), and the brackets still open there (strings respected)."""
    stack: list[str] = []
    in_string, escaped, quote = False, False, ""
    for i in range(start, len(text)):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                in_string = False
        elif c in "\"'":
            in_string, quote = True, c
        elif c in "{[":
            stack.append("}" if c == "{" else "]")
        elif c in "}]":
            if stack:
                stack.pop()
            if not stack:
                return text[start:i + 1], []
    return text[start:], stack


def _object(raw: str, open_brackets: list[str]) -> tuple[dict[str, Any] | None, int]:
    """``raw`` read as a JSON object with at most ``MAX_REPAIRS`` repairs, and how many it
    took (None when it is still not an object)."""
    repairs = [
        lambda t: t,
        lambda t: t + "".join(reversed(open_brackets)),
        lambda t: _TRAILING_COMMA.sub(r"\1", t),
        lambda t: t.replace("'", '"') if '"' not in t else t,
    ]
    text, used = raw, 0
    for step, repair in enumerate(repairs):
        fixed = repair(text)
        if fixed == text and step:
            continue
        used += 1 if step else 0
        if used > MAX_REPAIRS:
            break
        text = fixed
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            continue
        return (value if isinstance(value, dict) else None), used
    return None, used


def _json_call(reply: str, known: Sequence[str]) -> ToolCall | None:
    start = reply.find("{")
    if start < 0:
        return None
    raw, still_open = _span(reply, start)
    value, _ = _object(raw, still_open)
    if value is None:
        named = next((k for k in known if f'"{k}"' in raw or f"'{k}'" in raw), None)
        if named is None:
            return None  # braces in an answer, not a call
        return ToolCall(named, {}, error=(
            f"your call of {named} could not be read as JSON after {MAX_REPAIRS} repairs; "
            f'reply with one line: CALL {named} {{"argument": "value"}}'))
    name = next((value[k] for k in NAME_KEYS if isinstance(value.get(k), str)), None)
    if name not in known:
        return None  # JSON in an answer ({"name": "Alice", ...}), not a call
    args = next((value[k] for k in ARGUMENT_KEYS if k in value), {})
    if isinstance(args, str):  # OpenAI's wire form: the arguments as JSON text
        args, _ = _object(args, [])
    if not isinstance(args, dict):
        return ToolCall(name, {}, error="the arguments must be a JSON object")
    return ToolCall(name, args)


def read_call(reply: str, native: Sequence[Mapping[str, str]], known: Sequence[str]
              ) -> ToolCall | None:
    """The tool call an agent's reply asks for, None when the reply is an answer.
    ``native`` are the function calls the backend returned (``{"name", "arguments"}``);
    the first is taken (one call a step). Otherwise a ``CALL`` line, then a JSON object
    naming a tool."""
    if native:
        first = native[0]
        args, _ = _object(first.get("arguments") or "{}", [])
        if args is None:
            return ToolCall(first["name"], {}, error="the arguments are not a JSON object")
        return ToolCall(first["name"], args)
    return parse_call(reply) or _json_call(reply, known)


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
        lines = ["To use a tool, reply with exactly one line: CALL <tool> <JSON arguments> "
                 '(or the JSON object {"tool": <tool>, "arguments": {...}}). '
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
