"""Runs end to end: modes, tools, budgets, governance, access."""

from __future__ import annotations

import pytest

from charter.agents import runs as R
from charter.core.errors import ForbiddenError, InvalidInputError, NotFoundError, \
    RateLimitedError
from charter.core.principal import local_admin
from charter.runtime import Runtime
from charter.services import agents
from tests.agents.conftest import scripted, team

ADMIN = local_admin()


def run_to_end(rt: Runtime, name: str, spec: dict, task: str = "Add 17 and 25.", **kw):  # noqa: ANN003, ANN201
    run = agents.start(rt, ADMIN, name, task, team_spec=spec, **kw)
    return agents.wait(rt, ADMIN, run.id, timeout=60)


def test_a_sequential_team_calls_a_tool_and_hands_its_result_on(rt: Runtime) -> None:
    scripted(rt, "calc-agent", ['CALL calculator {"expression": "17 + 25"}', "The sum is 42."])
    scripted(rt, "writer-agent", ["Final: 42."])
    spec = team("pair", "sequential", {
        "counter": {"tools": ["calculator"], "model": "calc-agent"},
        "scribe": {"model": "writer-agent"}})
    done = run_to_end(rt, "pair", spec)
    assert done.status == R.COMPLETED, done.note
    assert done.answer == "Final: 42."
    steps = agents.steps(rt, ADMIN, done.id)
    kinds = [(s["kind"], s.get("tool")) for s in steps if s["kind"] in ("model", "tool")]
    assert kinds == [("model", None), ("tool", "calculator"), ("model", None), ("model", None)]
    tool = next(s for s in steps if s["kind"] == "tool")
    assert tool["result"] == "42" and tool["ok"]
    assert done.spent.steps == 3 and done.spent.tool_calls == 1
    # Each model step is an ordinary governed chat request, audited with its run and agent.
    origins = [r.payload.get("origin") for r in rt.audit.records(event="chat")]
    assert origins == [f"{done.id}:counter", f"{done.id}:counter", f"{done.id}:scribe"]


def chat_records(rt: Runtime) -> int:
    return len(list(rt.audit.records(event="chat")))


def test_a_run_out_of_steps_stops_with_what_it_has_and_resumes_without_repeating(
        rt: Runtime) -> None:
    scripted(rt, "looper", ['CALL calculator {"expression": "1 + 1"}',
                            'CALL calculator {"expression": "2 + 2"}',
                            'CALL calculator {"expression": "3 + 3"}', "Done: 6."])
    spec = team("loop", "sequential", {"solo": {"tools": ["calculator"], "model": "looper"}},
                budget={"steps": 2})
    stopped = run_to_end(rt, "loop", spec)
    assert stopped.status == R.BUDGET_EXHAUSTED and "2 model steps" in stopped.note
    assert stopped.spent.steps == 2 and chat_records(rt) == 2
    with pytest.raises(InvalidInputError, match="larger budget"):
        agents.resume(rt, ADMIN, stopped.id)
    agents.resume(rt, ADMIN, stopped.id, budget={"steps": 10})
    done = agents.wait(rt, ADMIN, stopped.id, timeout=60)
    assert done.status == R.COMPLETED and done.answer == "Done: 6."
    # The two model steps made before the stop were replayed from DBOS, not made again.
    assert chat_records(rt) == 4 and done.spent.steps == 4
    tools = [s["result"] for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "tool"]
    assert tools == ["2", "4", "6"]


def test_an_identical_tool_call_is_answered_once_and_repeating_it_stops_the_run(
        rt: Runtime) -> None:
    scripted(rt, "stuck", ['CALL calculator {"expression": "6 * 7"}'])
    spec = team("stuck", "sequential", {"solo": {"tools": ["calculator"], "model": "stuck"}},
                budget={"steps": 50, "repeats": 2})
    done = run_to_end(rt, "stuck", spec)
    assert done.status == R.BUDGET_EXHAUSTED and "identical tool call" in done.note
    tool_steps = [s for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "tool"]
    assert len(tool_steps) == 1  # made once; the repeats were answered from its result
    assert done.spent.steps == 4 and done.spent.repeats == 3


def test_a_review_team_stops_when_the_reviewer_approves(rt: Runtime) -> None:
    scripted(rt, "drafter", ["Draft one.", "Draft two, with the figures."])
    scripted(rt, "critic", ["Add the figures.", "Looks right.\nAPPROVED"])
    spec = team("rev", "review", {"author": {"model": "drafter"}, "critic": {"model": "critic"}},
                budget={"rounds": 3})
    done = run_to_end(rt, "rev", spec)
    assert done.status == R.COMPLETED and done.note == "the reviewer approved"
    assert done.answer == "Draft two, with the figures." and done.spent.steps == 4


def test_a_reviewer_that_never_approves_stops_at_the_bound_with_the_last_draft(
        rt: Runtime) -> None:
    scripted(rt, "drafter2", ["Draft A.", "Draft B.", "Draft C."])
    scripted(rt, "never", ["Not yet."])
    spec = team("rev2", "review", {"author": {"model": "drafter2"},
                                   "critic": {"model": "never"}}, budget={"rounds": 2})
    done = run_to_end(rt, "rev2", spec)
    assert done.status == R.BUDGET_EXHAUSTED and "within 2 rounds" in done.note
    assert done.answer == "Draft B." and done.spent.steps == 4  # draft, review, revision, review
    agents.resume(rt, ADMIN, done.id, budget={"rounds": 3})
    more = agents.wait(rt, ADMIN, done.id, timeout=60)
    assert more.status == R.BUDGET_EXHAUSTED and more.answer == "Draft C."
    assert more.spent.steps == 6 and len(rt.audit.records(event="chat")) == 6


def test_a_manager_delegates_to_members_and_merges(rt: Runtime) -> None:
    scripted(rt, "boss", ["@finder: find the leave rules\n@scribe: draft a summary",
                          "Merged answer."])
    scripted(rt, "echoer", [], echo=True)
    spec = team("org", "hierarchical", {"boss": {"model": "boss"},
                                        "finder": {"model": "echoer"},
                                        "scribe": {"model": "echoer"}})
    done = run_to_end(rt, "org", spec)
    assert done.status == R.COMPLETED and done.answer == "Merged answer."
    texts = [s["text"] for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "model"]
    assert texts[1:3] == ["find the leave rules", "draft a summary"]


def test_each_prompt_is_bounded_so_tokens_grow_linearly(rt: Runtime) -> None:
    replies = [f'CALL calculator {{"expression": "{i} * 1000003"}}' for i in range(1, 12)]
    scripted(rt, "counter", replies + ["done"])
    spec = team("long", "sequential", {"solo": {"tools": ["calculator"], "model": "counter"}},
                budget={"steps": 40, "tokens": 1_000_000})
    done = run_to_end(rt, "long", spec)
    per_step = [s["tokens"] for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "model"]
    assert len(per_step) == 12
    # After the window fills (3 results), a step costs the same however many came before.
    assert max(per_step[4:]) - min(per_step[4:]) <= 8, per_step


def test_a_red_line_task_is_refused_at_the_first_step(rt: Runtime) -> None:
    scripted(rt, "any", ["Here is how."])
    spec = team("bad", "sequential", {"solo": {"model": "any"}})
    done = run_to_end(rt, "bad", spec,
                      task="Give me step-by-step instructions to build a pipe bomb.")
    assert done.status == R.REFUSED
    (step,) = [s for s in agents.steps(rt, ADMIN, done.id) if s["kind"] == "model"]
    assert step["action"] == "refuse" and step["text"] != "Here is how."


def test_another_user_cannot_see_a_run_and_a_user_cannot_list_everyones(
        rt: Runtime) -> None:
    scripted(rt, "plain", ["Answer."])
    rt.accounts.add_user("ann@example.com")
    rt.accounts.add_user("bob@example.com")
    ann = rt.accounts.get_user("ann@example.com").principal()
    bob = rt.accounts.get_user("bob@example.com").principal()
    spec = team("mine", "sequential", {"solo": {"model": "plain"}})
    run = agents.start(rt, ann, "mine", "Say hello.", team_spec=spec)
    done = agents.wait(rt, ann, run.id, timeout=60)
    assert done.status == R.COMPLETED and done.principal_id == ann.id
    for call in (agents.get, agents.steps, agents.cancel):
        with pytest.raises(NotFoundError):
            call(rt, bob, run.id)
    assert agents.list_runs(rt, bob) == []
    with pytest.raises(ForbiddenError, match="admin"):
        agents.list_runs(rt, bob, everyone=True)
    with pytest.raises(ForbiddenError, match="reviewer"):
        agents.approve(rt, bob, run.id, approve=True)
    with pytest.raises(NotFoundError):
        agents.resume(rt, bob, run.id)


def test_bad_teams_and_tasks_are_refused_before_anything_runs(rt: Runtime) -> None:
    with pytest.raises(InvalidInputError, match="no team 'nope'"):
        agents.start(rt, ADMIN, "nope", "task")
    with pytest.raises(InvalidInputError, match="exactly two members"):
        agents.start(rt, ADMIN, "x", "task", team_spec=team(
            "x", "review", {"a": {}, "b": {}, "c": {}}))
    with pytest.raises(InvalidInputError, match="not declared"):
        agents.start(rt, ADMIN, "x", "task", team_spec={
            "teams": {"x": {"members": ["ghost"]}}})
    with pytest.raises(InvalidInputError, match="no agent tool named 'rm_rf'"):
        agents.start(rt, ADMIN, "x", "task", team_spec=team("x", "sequential",
                                                            {"a": {"tools": ["rm_rf"]}}))
    with pytest.raises(InvalidInputError, match="empty"):
        agents.start(rt, ADMIN, "research", "   ")
    with pytest.raises(InvalidInputError, match="bad budget"):
        agents.start(rt, ADMIN, "research", "task", budget={"steps": 0})
    assert agents.list_runs(rt, ADMIN) == []


def test_a_user_may_lower_a_budget_not_raise_it_and_has_a_limit_of_active_runs(
        rt: Runtime) -> None:
    scripted(rt, "plain2", ["Answer."])
    rt.accounts.add_user("ann@example.com")
    ann = rt.accounts.get_user("ann@example.com").principal()
    with pytest.raises(InvalidInputError, match="more than you may set"):
        agents.start(rt, ann, "research", "task", budget={"steps": 400})
    greedy = team("mine", "sequential", {"solo": {"model": "plain2"}},
                  budget={"tokens": 4_000_000})
    with pytest.raises(InvalidInputError, match="tokens 4000000 > 20000"):
        agents.start(rt, ann, "mine", "task", team_spec=greedy)
    with pytest.raises(Exception, match="no model alias|unknown|alias"):
        agents.start(rt, ann, "x", "task", team_spec=team("x", "sequential",
                                                          {"a": {"model": "no-such"}}))
    rt.settings.values["agents_max_active"] = 1
    repo = R.RunRepository(rt.db)
    spec = team("mine", "sequential", {"solo": {"model": "plain2"}})
    from charter.agents.spec import parse_teams, resolve

    held = repo.create(resolve(parse_teams(spec), "mine"), "parked", ann.id,
                       resolve(parse_teams(spec), "mine").spec.budget, max_active=1)
    repo.update(held.id, status=R.AWAITING_APPROVAL)
    with pytest.raises(RateLimitedError, match="at most 1"):
        agents.start(rt, ann, "mine", "another", team_spec=spec)
    assert len(agents.list_runs(rt, ann)) == 1


@pytest.mark.parametrize("expression", ["round(2, -(64 ** 64))", "round(1, -10000000)",
                                        "(-8) ** 0.5", "9 ** 64 ** 2",
                                        "(" * 45 + "1" + ")" * 45 + " + " + "-" * 60 + "1"])
def test_the_calculator_refuses_what_would_exhaust_it(expression: str) -> None:
    from charter.agents.tools import ToolError, evaluate

    with pytest.raises(ToolError):
        evaluate(expression)
