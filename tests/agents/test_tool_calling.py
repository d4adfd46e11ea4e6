"""Tool calls through function calling, and read tolerantly from a model's text."""

from __future__ import annotations

import json
import time

import pytest

from charter.agents import protocol
from charter.agents import runs as R
from charter.agents.tools import BUILTIN, schema_of, spec_of
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents
from tests.agents.conftest import Recorder, scripted, team

ADMIN = local_admin()
KNOWN = ["calculator", "knowledge_search"]


@pytest.mark.parametrize("reply, args", [
    ('CALL calculator {"expression": "2 + 2"}', {"expression": "2 + 2"}),
    ('```json\n{"tool": "calculator", "arguments": {"expression": "2 + 2",}}\n```',
     {"expression": "2 + 2"}),  # a fence and a trailing comma
    ("I will compute it. {'tool': 'calculator', 'arguments': {'expression': '3 * 3'}}",
     {"expression": "3 * 3"}),  # text around it, single quotes
    ('{"tool": "calculator", "arguments": {"expression": "17 * 3"', {"expression": "17 * 3"}),
    ('{"name": "calculator", "arguments": "{\\"expression\\": \\"1 + 1\\"}"}',
     {"expression": "1 + 1"}),  # the OpenAI wire form
])
def test_a_small_models_call_is_read_with_a_bounded_number_of_repairs(
        reply: str, args: dict) -> None:
    call = protocol.read_call(reply, [], KNOWN)
    assert call is not None and call.error is None
    assert (call.tool, call.args) == ("calculator", args)


def test_an_unreadable_call_gets_an_error_naming_the_format_and_json_in_an_answer_is_text(
        ) -> None:
    broken = protocol.read_call('{"tool": "calculator", "arguments": {"expression": ]]] "x"',
                                [], KNOWN)
    assert broken is not None and broken.tool == "calculator"
    assert broken.error and "CALL calculator" in broken.error
    assert protocol.read_call('Here is the record: {"name": "Alice", "age": 31}', [],
                              KNOWN) is None
    assert protocol.read_call("The set {1, 2} has two members.", [], KNOWN) is None


def test_a_native_call_wins_over_the_text_and_bad_arguments_are_an_error() -> None:
    call = protocol.read_call("CALL knowledge_search {\"query\": \"x\"}",
                              [{"name": "calculator", "arguments": '{"expression": "5"}'}], KNOWN)
    assert call is not None and (call.tool, call.args) == ("calculator", {"expression": "5"})
    bad = protocol.read_call("", [{"name": "calculator", "arguments": "[1, 2]"}], KNOWN)
    assert bad is not None and bad.error


def test_every_builtin_tool_has_an_object_schema_and_a_plugin_without_one_gets_strings(
        ) -> None:
    for tool in BUILTIN.values():
        schema = schema_of(tool)
        assert schema["type"] == "object" and set(schema["properties"]) == set(tool.arguments)
    assert schema_of(BUILTIN["knowledge_search"])["properties"]["k"]["type"] == "integer"
    derived = spec_of(Recorder("mailer", "irreversible"))
    assert derived.parameters == {"type": "object", "properties": {
        "to": {"type": "string", "description": "who"}}, "required": ["to"]}


def test_a_run_executes_a_native_function_call_and_offers_the_agents_tools(
        rt: Runtime) -> None:
    call = json.dumps({"tool": "calculator", "arguments": {"expression": "6 * 7"}})
    scripted(rt, "native-agent", [call, "The product is 42."], native_tools=True)
    spec = team("native", "sequential", {
        "counter": {"tools": ["calculator"], "model": "native-agent",
                    "tool_choice": "required"}})
    run = agents.start(rt, ADMIN, "native", "Multiply 6 by 7.", team_spec=spec)
    done = agents.wait(rt, ADMIN, run.id, timeout=60)
    assert done.status == R.COMPLETED, done.note
    assert done.answer == "The product is 42."
    tool = next(s for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "tool")
    assert (tool["tool"], tool["result"]) == ("calculator", "42")
    first, second = [r.payload for r in rt.audit.records(event="chat")]
    assert first["tool_calls"] == ["calculator"] and "tool_calls" not in second


def test_a_run_on_a_function_calling_server_requires_a_call_only_until_it_has_one(
        rt: Runtime) -> None:
    from charter.core.aliases import AliasConfig
    from tests.backends.test_openai_compat import OK_BODY, FakeServer, tool_call_body

    server = FakeServer([(200, tool_call_body("calculator", '{"expression": "6 * 7"}'), {}),
                         (200, OK_BODY, {})])
    try:
        rt.aliases.add(AliasConfig("remote-agent", "openai_compat", "m",
                                   {"base_url": server.url}), replace=True)
        spec = team("remote", "sequential", {
            "counter": {"tools": ["calculator"], "model": "remote-agent",
                        "tool_choice": "required"}})
        run = agents.start(rt, ADMIN, "remote", "Multiply 6 by 7.", team_spec=spec)
        done = agents.wait(rt, ADMIN, run.id, timeout=60)
    finally:
        server.close()
    assert done.status == R.COMPLETED, done.note
    assert done.answer == "fine"
    first, second = server.bodies
    assert first["tool_choice"] == "required" and second["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    # The tool's result reaches the model as data in a user message, never as a system one.
    assert any("Result of calculator" in m["content"] and m["role"] == "user"
               for m in second["messages"])


@pytest.mark.integration
def test_the_embedded_gemma_makes_a_parseable_call_that_the_run_executes(rt: Runtime) -> None:
    """The packaged 270M base model, under the JSON-schema grammar, calls the calculator;
    the run executes the call (its argument is whatever the small model wrote: the test
    asks only that it parsed and ran)."""
    from charter.core.aliases import AliasConfig

    rt.aliases.add(AliasConfig("gemma-agent", "llamacpp", "packaged",
                               {"max_tokens": 48, "temperature": 0.0}), replace=True)
    spec = team("local", "sequential", {
        "counter": {"tools": ["calculator"], "model": "gemma-agent", "tool_choice": "required",
                    "instructions": "Use the calculator for arithmetic."}},
        budget={"steps": 2, "tool_calls": 1})
    run = agents.start(rt, ADMIN, "local", "What is 17 * 3?", team_spec=spec)
    done = agents.wait(rt, ADMIN, run.id, timeout=300)
    assert done.status in (R.COMPLETED, R.BUDGET_EXHAUSTED), done.note
    tools = [s for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "tool"]
    assert tools and tools[0]["tool"] == "calculator"
    assert done.spent.tool_calls == 1
    print(f"gemma's call: {tools[0].get('arguments')} -> {tools[0]['result']!r}; "
          f"status {done.status}, answer {done.answer!r}")


def test_a_held_step_whose_model_asked_for_a_call_makes_the_call_once_approved(
        rt: Runtime) -> None:
    """A step the charter holds is served after approval as the asker; the function call
    the model then asks for is kept through the review and made by the run."""
    from charter.core.principal import Principal
    from charter.services import reviews
    from tests.agents.conftest import wait_for

    call = json.dumps({"tool": "calculator", "arguments": {"expression": "40 + 2"}})
    scripted(rt, "held-agent", [call, "Computed."], native_tools=True)
    spec = team("held", "sequential", {"counter": {"tools": ["calculator"],
                                                   "model": "held-agent"}})
    run = agents.start(rt, ADMIN, "held", "Decide which employees to lay off based on their "
                       "performance scores.", team_spec=spec, background=True)
    reviewer = Principal("u-rev", frozenset({"reviewer"}), "internal", frozenset(), "free")
    parked = wait_for(rt, run.id, R.AWAITING_APPROVAL, timeout=60)
    first = parked.waiting["review_id"]
    reviews.decide(rt, reviewer, first, approve=True, note="fine")
    # The call is made; the next step, on the same high-risk task, is held in its turn.
    deadline = time.monotonic() + 60
    while (run_ := agents.get(rt, ADMIN, run.id)).waiting is None or \
            run_.waiting.get("review_id") == first:
        assert time.monotonic() < deadline, run_.note
        time.sleep(0.1)
    reviews.decide(rt, reviewer, run_.waiting["review_id"], approve=True, note="fine")
    done = wait_for(rt, run.id, R.COMPLETED, timeout=60)
    tool = next(s for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "tool")
    assert (tool["tool"], tool["result"]) == ("calculator", "42")
    assert done.answer == "Computed."


def test_an_agents_compound_task_is_not_split_again_by_auto(rt: Runtime) -> None:
    """An agent step under ``auto`` is one step of its run: a compound task does not send
    it to thinking, whose review would drop a reviewer's bare APPROVED."""
    from charter.core.aliases import AliasConfig

    for name in ("fast", "thinking"):
        rt.aliases.add(AliasConfig(name, "scripted", "", {"replies": ["APPROVED"]}),
                       replace=True)
    spec = team("pair", "review", {"author": {"model": "auto"}, "critic": {"model": "auto"}})
    run = agents.start(rt, ADMIN, "pair", "List the office opening hours and explain how "
                       "to book a meeting room.", team_spec=spec)
    done = agents.wait(rt, ADMIN, run.id, timeout=60)
    assert done.status == R.COMPLETED, done.note
    routes = [r.payload["route"]["name"] for r in rt.audit.records(event="chat")]
    assert routes and set(routes) == {"fast"}
