"""`charter ask`: one question through the whole spine."""

from __future__ import annotations

import json
import sys

import typer

from charter.core.chat import ChatMessage
from charter.cli.state import STATE
from charter.core.errors import InvalidInputError
from charter.core.routes import AUTO
from charter.spine.request import AskRequest, Delta
from charter.profiles import check_instructions, check_personality
from charter.core.result import Result
from charter.services import rollouts as rollout_service


def _footer(result: Result) -> None:
    for c in result.citations:
        typer.echo(f"  [{c.n}] {c.document} {c.location}".rstrip())
    if result.decision.action != "allow" and result.decision.reason:
        typer.echo(f"policy: {result.decision.action} ({result.decision.category}): "
                   f"{result.decision.reason}")
        for alt in result.decision.alternatives:
            typer.echo(f"  instead: {alt}")
    if result.label:
        typer.echo(result.label)
    if result.route.quota_exhausted:
        typer.echo(f"quota: {result.route.reason}")
    typer.secho(
        f"route {result.route.name} ({result.route.reason}) · model {result.model} · "
        f"{result.usage.prompt_tokens}+{result.usage.completion_tokens} tokens · "
        f"{result.request_id}", err=True, dim=True,
    )


def ask(
    question: str = typer.Argument(..., help="The question; '-' reads it from standard input."),
    model: str = typer.Option(AUTO, "--model", "-m",
                              help="Model alias to use, or 'auto' to let Charter route."),
    stream: bool = typer.Option(False, "--stream", help="Print the answer as it is generated."),
    as_json: bool = typer.Option(False, "--json",
                                 help="Print the result as JSON (with --stream: one JSON object "
                                      "per line, deltas then the result)."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1,
                                          help="Cap on generated tokens."),
    temperature: float | None = typer.Option(None, "--temperature", min=0.0, max=2.0,
                                             help="Sampling temperature."),
    seed: int | None = typer.Option(None, "--seed", help="Sampling seed, for repeatable output."),
    use_case: str | None = typer.Option(None, "--use-case",
                                        help="Registered use case this request belongs to."),
    personality: str | None = typer.Option(
        None, "--personality", help="Style for this request: default, robot, listener, nerd, "
                                    "cynic (default: your profile's)."),
    instructions: str | None = typer.Option(
        None, "--instructions", help="Custom instructions for this request (default: your "
                                     "profile's). They sit beneath the charter."),
) -> None:
    if question == "-":
        question = sys.stdin.read()
    if not question.strip():
        raise InvalidInputError("the question is empty: pass it as an argument or on stdin with '-'")
    rt = STATE.runtime
    rollout_service.watch(rt)  # a rollout is judged after its requests here too
    req = AskRequest(messages=[ChatMessage("user", question)], principal=STATE.principal,
                     model=model, max_tokens=max_tokens, temperature=temperature, seed=seed,
                     use_case=use_case,
                     personality=check_personality(personality) if personality else None,
                     instructions=check_instructions(instructions) if instructions is not None else None)
    if not stream:
        result = rt.gateway.ask(req)
        if as_json:
            typer.echo(result.model_dump_json(indent=2))
        else:
            typer.echo(result.answer)
            _footer(result)
        return
    events = rt.gateway.ask_stream(req)
    try:
        for event in events:
            if isinstance(event, Delta):
                if as_json:
                    typer.echo(json.dumps({"delta": event.text}))
                else:
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
            else:
                if as_json:
                    typer.echo(json.dumps({"result": event.model_dump()}))
                else:
                    typer.echo("")
                    _footer(event)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
