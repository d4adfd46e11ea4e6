"""The root `charter` command and the one place CLI errors are turned into a line."""

from __future__ import annotations

import logging
import sys

import click
import typer

from charter import __version__
from charter.cli import (
    agents_cmd,
    ask_cmd,
    audit_cmd,
    bench_cmd,
    config_cmd,
    db_cmd,
    drift_cmd,
    eval_cmd,
    feedback_cmd,
    finetune_cmd,
    init_cmd,
    kb_cmd,
    models_cmd,
    policy_cmd,
    profile_cmd,
    review_cmd,
    rollout_cmd,
    serve_cmd,
    router_cmd,
    usage_cmd,
    usecase_cmd,
    users_cmd,
)
from charter.cli.state import STATE
from charter.core.errors import CharterError

app = typer.Typer(
    name="charter",
    help="Charter: a governed, self-hosted AI assistant. Every request is screened against "
         "your AI charter, routed, grounded in your documents and audited.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"charter {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    STATE.debug = debug
    level = STATE.settings.log_level.upper()
    logging.basicConfig(level=getattr(logging, level), format="%(levelname)s %(name)s: %(message)s")


app.command("init", help="Create the database and the offline default model aliases.")(init_cmd.init)
app.command("ask", help="Ask a question through the full Charter pipeline.")(ask_cmd.ask)
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.add_typer(models_cmd.app, name="models")
app.add_typer(kb_cmd.app, name="kb")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(review_cmd.app, name="review")
app.add_typer(agents_cmd.app, name="agents")
app.add_typer(usecase_cmd.app, name="usecase")
app.add_typer(audit_cmd.app, name="audit")
app.command("serve", help="Run the HTTP server: OpenAI-compatible API, Charter API, web UI.")(
    serve_cmd.serve)
app.add_typer(users_cmd.users_app, name="users")
app.add_typer(users_cmd.keys_app, name="keys")
app.add_typer(router_cmd.app, name="router")
app.add_typer(usage_cmd.app, name="usage")
app.add_typer(feedback_cmd.app, name="feedback")
app.add_typer(profile_cmd.app, name="profile")
app.add_typer(finetune_cmd.app, name="finetune")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(eval_cmd.app, name="eval")
app.add_typer(drift_cmd.app, name="drift")
app.add_typer(rollout_cmd.app, name="rollout")


def _usage_errors() -> tuple[type[Exception], ...]:
    # Recent typer releases carry their own copy of click, whose exceptions are not
    # click's: catch both, or a bad flag value would surface as an "internal error".
    kinds: list[type[Exception]] = [click.ClickException]
    try:
        from typer._click.exceptions import ClickException as TyperClickException
    except ImportError:
        pass
    else:
        kinds.append(TyperClickException)
    return tuple(kinds)


_USAGE_ERRORS = _usage_errors()


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and maps every error to one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    STATE.reset()
    try:
        code = app(args=args, prog_name="charter", standalone_mode=False)
    except CharterError as exc:
        if debug:
            raise
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        code = exc.exit_code
    except click.exceptions.Abort:
        typer.echo("aborted", err=True)
        code = 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        code = 130
    except _USAGE_ERRORS as exc:
        exc.show()  # "Invalid value for '--workers': ..." with the usage line
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no tracebacks
        if debug:
            raise
        typer.secho(
            f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the "
            "traceback, and report it)", err=True, fg="red",
        )
        code = 1
    finally:
        STATE.close()
    sys.exit(code if isinstance(code, int) else 0)
