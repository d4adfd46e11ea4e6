"""`charter bench`: benchmarks that print figures."""

from __future__ import annotations

import json

import typer

from charter.cli.state import STATE

app = typer.Typer(help="Benchmarks (figures, not pass/fail).", no_args_is_help=True)


@app.command("generate")
def generate(
    runs: int = typer.Option(5, "--runs", min=1, help="Measured runs per side."),
    max_tokens: int = typer.Option(128, "--max-tokens", min=8, help="Tokens per run."),
    model: str = typer.Option("packaged", "--model", help="GGUF path or 'packaged'."),
    as_json: bool = typer.Option(False, "--json",
                                 help='Print {"charter_tps", "raw_tps", "ratio"}.'),
) -> None:
    """Tokens/s through Charter's llamacpp backend vs llama-cpp-python directly."""
    from charter.bench import generate as bench

    result = bench.run(STATE.settings, model=model, runs=runs, max_tokens=max_tokens)
    if as_json:
        typer.echo(json.dumps({"charter_tps": result.charter_tps, "raw_tps": result.raw_tps,
                               "ratio": result.ratio}))
        return
    typer.echo(f"charter: {result.charter_tps} tok/s   raw llama-cpp-python: {result.raw_tps} "
               f"tok/s   ratio {result.ratio:.3f} (median of {result.runs} runs, "
               f"{result.tokens_per_run:.0f} tokens each)")
    typer.echo(f"Charter overhead: {(1 - result.ratio) * 100:+.1f}% of throughput")
