"""The tools an agent may call, each governed: declared side-effect class, arguments and
results screened by the charter (in the engine), and knowledge reached only inside the
run's principal's access (through ``ToolContext``).

A tool is any object with ``name``, ``description``, ``side_effect``, ``arguments`` (the
argument names and what each is) and ``run(args, ctx) -> str``; it may add
``parameters``, a JSON schema of its arguments, for models with function calling and the
local model's grammar (without it every argument is a string, and all are required). Built-ins are below;
a package adds one through the ``charter.agent_tools`` entry point group (the entry
point names a class taking no arguments, or an instance). ``side_effect`` is ``read``
(no effect outside Charter), ``idempotent`` (repeating it does no harm) or
``irreversible`` (an e-mail, a payment): an irreversible call waits for a human's
approval and is made at most once, under an idempotency key the tool receives
(``ctx.idempotency_key``). An irreversible tool may also have ``status(key, ctx)``,
returning the result of the call made under ``key`` if it took effect and None if it
did not: then a call interrupted by a crash is settled by asking the tool, and only a
tool without it needs a person to reconcile.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from charter.core import plugins
from charter.core.chat import ToolSpec
from charter.core.errors import CharterError, InvalidInputError

SideEffect = Literal["read", "idempotent", "irreversible"]
MAX_RESULT_CHARS = 4000


class ToolError(InvalidInputError):
    """A tool refused its arguments or failed; the agent is told and may try again."""

    code = "tool_error"


@dataclass(frozen=True)
class Found:
    """One knowledge-base passage as a tool returns it."""

    document_id: str
    title: str
    location: str
    text: str


@dataclass(frozen=True)
class ToolContext:
    """What a tool may reach, bound to the run's principal by the service layer."""

    run_id: str
    principal_id: str
    search: Callable[[str, int], Sequence[Found]]
    read_document: Callable[[str], str]
    idempotency_key: str = ""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    fetch_hosts: tuple[str, ...] = ()  # what http_fetch may read (empty: nothing)


@runtime_checkable
class Tool(Protocol):
    name: str
    description: str
    side_effect: SideEffect
    arguments: Mapping[str, str]

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str: ...


def schema_of(tool: Tool) -> dict[str, Any]:
    """The JSON schema of ``tool``'s arguments: its own ``parameters``, or every argument
    a required string described as ``arguments`` says."""
    own = getattr(tool, "parameters", None)
    if isinstance(own, Mapping):
        return dict(own)
    return {"type": "object",
            "properties": {k: {"type": "string", "description": v}
                           for k, v in tool.arguments.items()},
            "required": list(tool.arguments)}


def spec_of(tool: Tool) -> ToolSpec:
    """``tool`` as a function a model may call."""
    return ToolSpec(tool.name, tool.description, schema_of(tool))


def _text_arg(args: Mapping[str, Any], name: str, *, limit: int = 500) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"argument {name!r} must be a non-empty string")
    if len(value) > limit:
        raise ToolError(f"argument {name!r} is longer than {limit} characters")
    return value.strip()


class KnowledgeSearch:
    name = "knowledge_search"
    description = "Search the organisation's documents (only those the run may read)."
    side_effect: SideEffect = "read"
    arguments = {"query": "what to look for", "k": "how many passages (1-8, default 4)"}
    parameters = {"type": "object", "properties": {
        "query": {"type": "string", "description": "what to look for"},
        "k": {"type": "integer", "minimum": 1, "maximum": 8,
              "description": "how many passages"}}, "required": ["query"]}

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        query = _text_arg(args, "query")
        k = args.get("k", 4)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 8:
            raise ToolError("argument 'k' must be a whole number from 1 to 8")
        hits = ctx.search(query, k)
        if not hits:
            return "No passage in the documents you may read matches."
        return "\n\n".join(f"[{i}] {h.title} ({h.location}; id {h.document_id[:12]}): {h.text}"
                           for i, h in enumerate(hits, start=1))


class ReadDocument:
    name = "read_document"
    description = "Read one document by its id (as knowledge_search shows it)."
    side_effect: SideEffect = "read"
    arguments = {"id": "the document id or its first 12 characters"}

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        return ctx.read_document(_text_arg(args, "id", limit=64))


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos}
def _round(x: Any, ndigits: Any = None) -> Any:
    if ndigits is None:
        return round(x)
    if not isinstance(ndigits, int) or not -15 <= ndigits <= 15:
        raise ToolError("round() takes a whole number of digits from -15 to 15")
    return round(x, ndigits)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "abs": abs, "round": _round,
    "min": min, "max": max}
_CONSTANTS = {"pi": math.pi, "e": math.e}
MAX_BITS = 4096  # no value past ~10^1233: big-integer work holds the interpreter
MAX_DEPTH = 40


def _bounded(value: Any) -> Any:
    if isinstance(value, complex):
        raise ToolError("the result is not a real number")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ToolError(f"numbers are limited to {MAX_BITS} bits")
    return value


def evaluate(expression: str) -> float | int:
    """Arithmetic only: numbers, + - * / // % **, parentheses and a few functions. Powers
    are bounded so that no expression can exhaust the CPU or memory."""
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        raise ToolError(f"{expression!r} is not an arithmetic expression") from None

    def value(node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ToolError(f"the expression nests deeper than {MAX_DEPTH} levels")
        return _bounded(compute(node, depth + 1))

    def compute(node: ast.AST, depth: int) -> Any:
        if isinstance(node, ast.Expression):
            return value(node.body, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name) and node.id in _CONSTANTS:
            return _CONSTANTS[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = value(node.left, depth), value(node.right, depth)
            if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
                raise ToolError("powers are limited to exponents up to 64 and bases up to 1e6")
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return _UNARY[type(node.op)](value(node.operand, depth))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _FUNCTIONS and not node.keywords and len(node.args) <= 4:
            return _FUNCTIONS[node.func.id](*(value(a, depth) for a in node.args))
        raise ToolError("only numbers, + - * / // % **, parentheses and "
                        f"{', '.join(sorted(_FUNCTIONS))} are allowed")

    try:
        result = value(tree)
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except RecursionError:
        raise ToolError("the expression is too deeply nested") from None
    except (ValueError, OverflowError, TypeError) as exc:
        raise ToolError(f"cannot compute {expression!r}: {exc}") from None
    return result


class Calculator:
    name = "calculator"
    description = "Compute an arithmetic expression exactly."
    side_effect: SideEffect = "read"
    arguments = {"expression": "for example (17 * 3) / 4"}

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        return str(evaluate(_text_arg(args, "expression", limit=200)))


class Today:
    name = "date"
    description = "Today's date and the time in UTC."
    side_effect: SideEffect = "read"
    arguments: Mapping[str, str] = {}

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        now = ctx.now()
        return now.strftime("%A %d %B %Y, %H:%M UTC")


class HttpFetch:
    """Off until ``agents_fetch_hosts`` allows hosts; see agents/fetch.py."""

    name = "http_fetch"
    description = "Read a web page from a host the administrator allowed (its text)."
    side_effect: SideEffect = "read"
    arguments = {"url": "the page's http or https URL"}

    def run(self, args: Mapping[str, Any], ctx: ToolContext) -> str:
        from charter.agents.fetch import fetch

        url = args.get("url")
        if not isinstance(url, str) or not url.strip() or len(url) > 2000:
            raise ToolError("argument 'url' must be a URL of at most 2,000 characters")
        return fetch(url.strip(), ctx.fetch_hosts)


BUILTIN: dict[str, Tool] = {t.name: t for t in (KnowledgeSearch(), ReadDocument(),
                                                 Calculator(), Today(), HttpFetch())}


def _plugin(name: str) -> Tool:
    obj = plugins.load(plugins.AGENT_TOOLS, name, what="agent tool")
    tool = obj() if isinstance(obj, type) else obj
    if not isinstance(tool, Tool) or tool.side_effect not in ("read", "idempotent",
                                                              "irreversible"):
        raise InvalidInputError(f"the agent tool {name!r} does not declare name, description, "
                                "side_effect (read, idempotent or irreversible), arguments "
                                "and run()")
    return tool


def tool_named(name: str, extra: Mapping[str, Tool] | None = None) -> Tool:
    """A built-in tool, one given in ``extra`` (tests, embedding code) or a plugin."""
    if extra and name in extra:
        return extra[name]
    if name in BUILTIN:
        return BUILTIN[name]
    if name in plugins.names(plugins.AGENT_TOOLS):
        return _plugin(name)
    known = ", ".join(sorted(set(BUILTIN) | set(extra or {}) |
                             set(plugins.names(plugins.AGENT_TOOLS))))
    raise InvalidInputError(f"no agent tool named {name!r}; known tools: {known}")


def clipped(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS:,} characters cut]"


def run_tool(tool: Tool, args: Mapping[str, Any], ctx: ToolContext) -> tuple[str, bool]:
    """The tool's result and whether it succeeded; a Charter error becomes the agent's
    observation (the run goes on), anything else is reported without its internals."""
    try:
        return clipped(tool.run(args, ctx)), True
    except CharterError as exc:
        return f"error: {exc.public or exc.message}", False
    except Exception as exc:  # a plugin's bug must not end the run with a traceback
        return f"error: the tool failed ({type(exc).__name__})", False
