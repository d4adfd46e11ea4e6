"""`charter bench`: benchmarks that print figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from charter.bench.gateway import DATABASES, DEFAULT_JITTER
from charter.cli.state import STATE
from charter.core.errors import InvalidInputError
from charter.core.routes import FAST

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


@app.command("gateway")
def gateway(
    requests_c1: int = typer.Option(200, "--requests-c1", min=10, help="Requests at 1 client."),
    requests_c50: int = typer.Option(1000, "--requests-c50", min=50,
                                     help="Requests at 50 concurrent clients."),
    scripted: bool = typer.Option(False, "--scripted",
                                  help="The floor: an in-process scripted model, no documents, "
                                       "no quota limit, instead of the mock model server "
                                       "behind openai_compat with the demo handbook."),
    backend_ms: float | None = typer.Option(None, "--backend-ms", min=0.0,
                                            help="The model's time per call (it sleeps, using "
                                                 "no CPU); subtracted per request. Default: "
                                                 "150 for the mock, 0 with --scripted."),
    backend_jitter: float = typer.Option(DEFAULT_JITTER, "--backend-jitter", min=0.0, max=1.0,
                                         help="Spread of the model's time per call, as a "
                                              "fraction (0.2: each call takes --backend-ms "
                                              "+-20 %)."),
    workers: int = typer.Option(1, "--workers", min=1,
                                help="Server worker processes (the peer's too)."),
    peer: str | None = typer.Option(None, "--peer",
                                    help="Also run the same load against this proxy in front "
                                         "of the same mock, alternating with Charter: "
                                         "litellm (installed by scripts/bench-peer.sh)."),
    peer_python: Path | None = typer.Option(None, "--peer-python",
                                            help="The python of the peer's environment "
                                                 "(default .bench-peer/bin/python)."),
    rounds: int = typer.Option(1, "--rounds", min=1, max=20,
                               help="Alternating rounds (figures are medians over them)."),
    database: str = typer.Option(DATABASES[0], "--database",
                                 help="sqlite (a file) or postgres (PostgreSQL 16 from the "
                                      "pgserver package, test extra)."),
    servers: int = typer.Option(1, "--servers", min=1, max=8,
                                help="Charter server processes on the one database, the "
                                     "clients taking them in turn (the peer then runs "
                                     "servers x workers workers)."),
    floors: bool = typer.Option(False, "--floors",
                                help="With --scripted: also measure two reference servers, the "
                                     "same app without the spine: 'http' (model call and "
                                     "answer only) and 'embed' (plus one embedding of the "
                                     "question)."),
    unmonitored: bool = typer.Option(False, "--unmonitored",
                                     help="Also measure the same server with metrics and "
                                          "drift collection off, alternating with it in "
                                          "each round: the cost of monitoring."),
    as_json: bool = typer.Option(False, "--json", help='Print {"c1": S, "c50": S, '
                                 '"peak_rss_mb": M} with S = {overhead_p50_ms, '
                                 'overhead_p99_ms, rps, cpu_ms_per_request} (with --peer also '
                                 '"peers": {"litellm": ...}; with --floors "floors": {...}).'),
) -> None:
    """Gateway overhead over the model call, via HTTP: by default the path real requests
    take (mock model server, openai_compat, retrieval, quota, audit), optionally beside
    LiteLLM's proxy; --scripted for the floor."""
    from charter.bench import gateway as bench

    log = (lambda m: typer.echo(m, err=True)) if as_json else typer.echo
    result = bench.run(requests_c1, requests_c50, backend="scripted" if scripted else "mock",
                       backend_ms=backend_ms, workers=workers, jitter=backend_jitter,
                       floors=floors, peer=peer, peer_python=peer_python, rounds=rounds,
                       database=database, servers=servers, unmonitored=unmonitored,
                       log=log)
    keys = ("overhead_p50_ms", "overhead_p99_ms", "rps", "cpu_ms_per_request")

    def summary(levels: dict[str, Any]) -> dict[str, Any]:
        out = {k: {x: levels[k][x] for x in keys} for k in ("c1", "c50")}
        if "peak_rss_mb" in levels:
            out["peak_rss_mb"] = levels["peak_rss_mb"]
        return out

    out: dict[str, Any] = summary(result)
    if floors:
        out["floors"] = {name: summary(levels) for name, levels in result["floors"].items()}
    if peer:
        out["peers"] = {name: summary(levels) for name, levels in result["peers"].items()}
    if unmonitored:
        out["monitoring"] = {name: summary(levels)
                             for name, levels in result["monitoring"].items()}
    if as_json:
        typer.echo(json.dumps(out))
        return
    table = Table(title=f"gateway overhead over the model call ({servers} server(s) x "
                        f"{workers} worker(s) on {database}, "
                        f"{'scripted' if scripted else 'mock'} backend, median of {rounds} "
                        "round(s))")
    table.add_column("server")
    for col in ("overhead p50 c1", "overhead p50 c50", "overhead p99 c50", "req/s c50",
                "CPU ms/req c1", "CPU ms/req c50", "peak MiB"):
        table.add_column(col, justify="right")
    rows = [("charter", out)] + [(n, v) for n, v in out.get("monitoring", {}).items()] + \
        [(n, v) for n, v in out.get("peers", {}).items()] + \
        [(f"floor {n}", v) for n, v in out.get("floors", {}).items()]
    for name, v in rows:
        table.add_row(name, f"{v['c1']['overhead_p50_ms']:.1f}", f"{v['c50']['overhead_p50_ms']:.1f}",
                      f"{v['c50']['overhead_p99_ms']:.1f}", f"{v['c50']['rps']:.1f}",
                      f"{v['c1']['cpu_ms_per_request']:.1f}", f"{v['c50']['cpu_ms_per_request']:.1f}",
                      f"{v.get('peak_rss_mb', 0):.0f}")
    Console().print(table)


@app.command("retrieval")
def retrieval(
    dataset: Path = typer.Option(..., "--dataset", help="BEIR folder (corpus.jsonl, "
                                 "queries.jsonl, qrels/test.tsv), e.g. ../shared/data/scifact."),
    backends: str = typer.Option("sqlite,postgres", "--backends",
                                 help="Comma-separated: sqlite, postgres."),
    corpus_limit: int | None = typer.Option(None, "--corpus-limit", min=10,
                                            help="Ingest only the first N documents (quick runs)."),
    query_limit: int | None = typer.Option(None, "--query-limit", min=1,
                                           help="Use only the first N queries."),
    as_json: bool = typer.Option(False, "--json", help='Print {"sqlite": {"bm25": M, ...}, ...}.'),
    work_dir: Path | None = typer.Option(None, "--work-dir",
                                         help="Keep the benchmark databases here and reuse them "
                                              "when already ingested (then no ingest figures)."),
) -> None:
    """nDCG@10, recall@100, latency and ingest rate for bm25, dense and hybrid search."""
    from charter.bench import retrieval as bench

    rt = STATE.runtime
    names = [b.strip() for b in backends.split(",") if b.strip()]
    log = (lambda m: typer.echo(m, err=True)) if as_json else typer.echo
    result = bench.run(rt.settings, rt.embedder(), dataset, names, corpus_limit, query_limit, log,
                       work_dir)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"\n{'backend':<9} {'mode':<7} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>8} "
               f"{'p95 ms':>8} {'user p50':>8} {'user p95':>8} {'docs/s':>8} "
               f"{'ingest/embed':>12}")
    for backend, modes in result.items():
        for mode, m in modes.items():
            rate = "-" if m["ingest_docs_per_s"] is None else f"{m['ingest_docs_per_s']:.1f}"
            ratio = "-" if m["ingest_vs_embedding"] is None else f"{m['ingest_vs_embedding']:.3f}"
            typer.echo(f"{backend:<9} {mode:<7} {m['ndcg@10']:>8.4f} {m['recall@100']:>7.4f} "
                       f"{m['p50_ms']:>8.2f} {m['p95_ms']:>8.2f} {m['filtered_p50_ms']:>8.2f} "
                       f"{m['filtered_p95_ms']:>8.2f} {rate:>8} {ratio:>12}")


@app.command("answers")
def answers(
    devset: Path = typer.Option(Path("examples/devset.jsonl"), "--devset",
                                help="JSONL development set of questions."),
    folders: list[Path] = typer.Option([Path("examples/handbook"), Path("../shared/data/seed-corpus")],
                                       "--kb", help="Folders to ingest (repeatable)."),
    squad: Path | None = typer.Option(None, "--squad",
                                      help="Instead: the answerability data (folder); its "
                                           "held-out test articles become the knowledge base "
                                           "and their questions the set."),
    methods: str = typer.Option("overlap,model", "--methods",
                                help="Comma-separated: overlap (word-overlap rules), model "
                                     "(the answerability model); side by side."),
    artifact: Path | None = typer.Option(None, "--artifact",
                                         help="An answerability model file to use instead of "
                                              "the shipped one."),
    model: str = typer.Option(FAST, "--model", help="Alias that answers."),
    as_json: bool = typer.Option(False, "--json", help='Print {METHOD: {"answered_cited", '
                                 '"answered_with_fact", "abstain_precision", '
                                 '"abstain_recall_offtopic", "abstain_recall_ontopic", '
                                 '"compose_p50_ms"}}.'),
    show_misses: bool = typer.Option(False, "--misses", help="List the questions it got wrong."),
) -> None:
    """Answered-and-cited rate, abstention and composition time, per answering method."""
    from charter.bench import answers as bench

    def log(message: str) -> None:
        typer.echo(message, err=True)

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    result = bench.run(STATE.settings, None if squad else devset, folders, model=model,
                       squad=squad, methods=chosen, artifact=artifact, log=log)
    keys = ("answered_cited", "answered_with_fact", "abstain_precision",
            "abstain_recall_offtopic", "abstain_recall_ontopic", "compose_p50_ms")
    if as_json:
        typer.echo(json.dumps({m: {k: r[k] for k in keys} for m, r in result.items()}))
    else:
        typer.echo(f"{'':>24}  " + "  ".join(f"{m:>9}" for m in result))
        for k in keys:
            cells = ["-" if r[k] is None else f"{r[k]:.3f}" for r in result.values()]
            typer.echo(f"{k:>24}  " + "  ".join(f"{c:>9}" for c in cells))
        typer.echo(f"{'questions':>24}  {next(iter(result.values()))['counts']}")
    if show_misses:
        for method, r in result.items():
            for miss in r["misses"]:
                typer.echo(json.dumps({"method": method, **miss}), err=as_json)


@app.command("policy")
def policy(
    labelled: Path = typer.Option(Path("examples/policy-devset.jsonl"), "--data",
                                  help="JSONL of {text, tier} labelled prompts."),
    as_json: bool = typer.Option(False, "--json", help='Print {"red_line": {...}, "high_risk": '
                                 '{...}, "limited": {...}, "over_refusal", "p50_ms"}.'),
    show_misses: bool = typer.Option(False, "--misses", help="List the prompts it got wrong."),
    conversation: bool = typer.Option(True, "--conversation/--no-conversation",
                                      help="Also place each prompt in an earlier turn, a "
                                      "system message, an assistant turn and the "
                                      "instructions, and screen the whole request."),
    heldout: Path | None = typer.Option(
        None, "--heldout", help="Folder of the public data (../shared/data): also run the "
        "conversation section on the charter model's test split (the held-out harmful set "
        "and benign sources no rule or threshold was fitted on)."),
) -> None:
    """Per-tier precision/recall, over-refusal and screening latency of the charter
    classifier; with the conversation section, recall wherever in a request the prompt sits."""
    from charter.bench import policy as bench

    if heldout is not None and not (heldout / "safety").is_dir():
        raise InvalidInputError(f"--heldout {heldout} holds no safety/ folder; give the "
                                "folder of the public data (../shared/data)")
    result = bench.run_enforced(STATE.runtime, labelled)
    turns = bench.run_conversation(STATE.runtime, labelled) if conversation else None
    # The test split of the model that serves (a version trained with another --holdout
    # is measured on the set it held out).
    held = bench.run_conversation(STATE.runtime, bench.heldout_rows(
        heldout, bench.serving_holdout(STATE.runtime))) if heldout is not None else None
    keys = ("red_line", "high_risk", "limited", "over_refusal", "p50_ms")
    if as_json:
        shown = {k: ({"precision": result[k]["precision"], "recall": result[k]["recall"]}
                     if isinstance(result[k], dict) else result[k]) for k in keys}
        typer.echo(json.dumps(shown | ({"conversation": turns} if turns is not None else {})
                              | ({"heldout": held} if held is not None else {})))
    else:
        for tier in keys[:3]:
            m = result[tier]
            typer.echo(f"{tier:>10}: precision {m['precision']:.3f} recall {m['recall']:.3f} "
                       f"(n={m['n']})")
        typer.echo(f"over-refusal on benign prompts: {result['over_refusal']:.3f}")
        typer.echo(f"input screening p50: {result['p50_ms']:.2f} ms")
        for label, section in (("conversation", turns), ("held out", held)):
            for tier, m in (section or {}).items():
                if tier == "benign":
                    typer.echo(f"{label}, benign (n={m['n']}): not allowed alone "
                               f"{m['single_turn']:.3f}, as a follow-up {m['follow_up']:.3f}")
                    continue
                typer.echo(f"{label}, {tier} caught (n={m['n']}): " + ", ".join(
                    f"{where} {m[where]:.3f}" for where in bench.PLACEMENTS))
    if show_misses:
        for miss in result["misses"]:
            typer.echo(json.dumps(miss), err=as_json)


@app.command("auth")
def auth(
    requests: int = typer.Option(10_000, "--requests", min=1, help="Guessed tokens per run."),
    concurrency: int = typer.Option(20, "--concurrency", min=1, max=500,
                                    help="Requests in flight at once."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Random bearer tokens against `charter serve`: the server's resident memory before
    and after, the status codes and requests/s, with the failed-sign-in limit on (the
    default) and off (every guess looked up)."""
    from charter.bench import auth as bench

    result = {"limited": bench.run(requests, concurrency),
              "unlimited": bench.run(requests, concurrency, failures_per_minute=0)}
    if as_json:
        typer.echo(json.dumps(result))
        return
    for name, r in result.items():
        typer.echo(f"{name:>9}: {r['requests']} guesses, RSS {r['rss_before_mb']} -> "
                   f"{r['rss_after_mb']} MB, codes {r['codes']}, {r['rps']} req/s")


@app.command("agents")
def agents(
    sizes: str = typer.Option("4,8,16,32", "--steps",
                              help="Comma-separated model step counts to run."),
    questions: Path = typer.Option(Path("examples/multipart-devset.jsonl"), "--questions",
                                   help="Compound and multi-hop questions with the facts "
                                   "each answer needs (JSONL)."),
    kb: list[Path] = typer.Option([Path("examples/handbook"), Path("../shared/data/seed-corpus")],
                                  "--kb", help="Folders the questions are asked over."),
    routes: str = typer.Option("fast,thinking", "--routes",
                               help="Comma-separated routes the questions are put to."),
    only: str = typer.Option("both", "--only",
                             help="steps (run growth only), questions (fact recall only) "
                             "or both."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Agent runs as they grow (tokens per step against step count, linear not quadratic,
    and the engine's overhead per step, on a scripted model); then compound questions
    put to each route: key-fact recall, parts answered and citation support."""
    from charter.bench import agents as bench
    from charter.bench import multipart

    if only not in ("steps", "questions", "both"):
        raise InvalidInputError("--only: give steps, questions or both")
    try:
        counts = tuple(int(x) for x in sizes.split(","))
    except ValueError:
        raise InvalidInputError(f"--steps {sizes!r}: give step counts such as 4,8,16") from None
    if not counts or any(not 2 <= n <= 200 for n in counts):
        raise InvalidInputError("--steps: each count must be from 2 to 200")
    chosen = tuple(r.strip() for r in routes.split(",") if r.strip())
    if not chosen:
        raise InvalidInputError("--routes: give at least one route, e.g. fast,thinking")
    settings = STATE.runtime.settings
    result: dict[str, object] = {}
    if only in ("steps", "both"):
        result.update(bench.run(settings, counts))
    if only in ("questions", "both"):
        result["questions"] = multipart.run(settings, questions, kb, routes=chosen,
                                            log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(result))
        return
    if "runs" in result:
        _print_growth(result)
    if "questions" in result:
        _print_questions(result["questions"])  # type: ignore[arg-type]


def _print_growth(result: dict[str, Any]) -> None:
    typer.echo(f"{'steps':>6} {'tokens':>8} {'first':>6} {'last':>6} {'p50/step':>9} "
               f"{'model call p50':>15} {'engine overhead/step':>21}")
    for r in result["runs"]:
        typer.echo(f"{r['steps']:>6} {r['tokens']:>8,} {r['tokens_first_step']:>6} "
                   f"{r['tokens_last_step']:>6} {r['tokens_per_step_p50']:>9} "
                   f"{r['model_call_ms_p50']:>12} ms {r['engine_overhead_ms_per_step']:>18} ms")
    for g in result["growth"]:
        typer.echo(f"{g['from']} -> {g['to']} steps (x{g['steps_ratio']}): tokens "
                   f"x{g['tokens_ratio']} (linear growth keeps the two equal; quadratic "
                   "would square it)")


def _print_questions(q: dict[str, Any]) -> None:
    typer.echo(f"\n{q['questions']} compound questions: key-fact recall, parts with every "
               "fact, sentences their citations support")
    typer.echo(f"{'route':<10} {'rows':<18} {'n':>3} {'recall':>7} {'parts':>6} "
               f"{'support':>8} {'abstained':>9} {'words':>6} {'p50 ms':>8}")
    for route, figures in q["routes"].items():
        for label, row in [("all", figures["all"]), *figures["by"].items()]:
            typer.echo(f"{route:<10} {label:<18} {row['questions']:>3} "
                       f"{row['fact_recall']!s:>7} {row['parts_answered']!s:>6} "
                       f"{row['support']!s:>8} {row['abstained']:>9} "
                       f"{row['answer_words_p50']:>6} {row['ms_p50']:>8}")


@app.command("drift")
def drift(
    data: Path = typer.Option(Path("../shared/data/router/mmlu"), "--data",
                              help="MMLU's per-subject CSV files (column prompt)."),
    pool: int = typer.Option(600, "--pool", help="Questions per pool (STEM; humanities "
                             "and social sciences), spread evenly over the subjects."),
    runs: int = typer.Option(100, "--runs", help="Seeded runs of each stream."),
    mix: str = typer.Option("0.7,0.3", "--mix", help="Share of STEM questions before and "
                            "after the shift."),
    before: int = typer.Option(100, "--before", help="Requests before the shift."),
    after: int = typer.Option(300, "--after", help="Requests after the shift."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Drift alerts on a stream whose topic mix shifts: how many requests after the shift
    the first alert comes, and the false-alarm rate of the same stream unshifted. Window
    sizes, the check interval and alpha are the drift settings."""
    from charter.bench import drift as bench

    try:
        shares = tuple(float(x) for x in mix.split(","))
    except ValueError:
        raise InvalidInputError(f"--mix {mix!r}: give two shares such as 0.7,0.3") from None
    if len(shares) != 2 or not all(0.0 <= x <= 1.0 for x in shares):
        raise InvalidInputError("--mix: give two shares from 0 to 1, such as 0.7,0.3")
    if pool < 10 or runs < 1 or before < 1 or after < 1:
        raise InvalidInputError("--pool must be at least 10; --runs, --before and --after "
                                "at least 1")
    settings = STATE.runtime.settings
    pools = bench.mmlu_pools(data, pool)
    result = bench.run(settings, pools, runs=runs, before=before, after=after,
                       mix=(shares[0], shares[1]), log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"pools: {result['pools']}; reference {result['reference']}, window "
               f"{result['window']}, a check every {result['every']} requests, alpha "
               f"{result['alpha']:g}, AUC at least {result['min_auc']:g}")
    typer.echo(f"stream: {result['before']} requests at {shares[0]:.0%} STEM, then "
               f"{result['after']} at {shares[1]:.0%}; {result['runs']} seeded runs")
    if result["detected"]:
        typer.echo(f"shift detected in {result['detected']} runs; requests after the shift "
                   f"until the alert: median {result['delay_median']:g}, p90 "
                   f"{result['delay_p90']:g}, max {result['delay_max']:g}")
    typer.echo(f"missed: {result['missed']}; alerts before the shift: "
               f"{result['alarm_before_shift']}; tests that fired: "
               f"{result['tests_that_fired']}")
    typer.echo(f"unshifted stream: false alarms in {result['false_alarms']} of "
               f"{result['runs']} runs (rate {result['false_alarm_rate']:.3f})")


@app.command("rollout")
def rollout(
    data: Path = typer.Option(Path("../shared/data/router/mmlu"), "--data",
                              help="MMLU's per-subject CSV files (column prompt)."),
    pool: int = typer.Option(300, "--pool", help="Questions from each MMLU subject group."),
    groups: str = typer.Option("stem,humanities", "--groups", help="MMLU subject groups "
                               "the questions come from: stem, humanities, other "
                               "(medicine, business, miscellany), comma-separated."),
    draft: list[str] = typer.Option(None, "--draft", help="A challenger draft (repeat); "
                                    "default: every one (equal, no-benign, hold-limited, "
                                    "broad-red-line)."),
    runs: int = typer.Option(100, "--runs", help="Seeded runs per draft."),
    share: float = typer.Option(0.2, "--share", help="Part of the users in the challenger "
                                "arm."),
    users: int = typer.Option(1000, "--users", help="Users the requests come from."),
    max_requests: int = typer.Option(1000, "--max-requests",
                                     help="Challenger requests before a run gives up."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Canary rollouts of charter drafts against the shipped charter: how many challenger
    requests until a worse draft is rolled back, and how an equal one is promoted. The
    rule is the rollout settings'."""
    from charter.bench import drift as drift_bench
    from charter.bench import rollout as bench

    if pool < 5:
        raise InvalidInputError("--pool must be at least 5")
    chosen = [g.strip() for g in groups.split(",") if g.strip()]
    questions = [q for group in drift_bench.mmlu_pools(data, pool, groups=chosen).values()
                 for q in group]
    result = bench.run(STATE.runtime.settings, questions, drafts=draft or list(bench.DRAFTS),
                       runs=runs, share=share, users=users, max_requests=max_requests,
                       log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(result))
        return
    rule = result["rule"]
    typer.echo(f"{result['questions']} MMLU questions ({', '.join(chosen)}); "
               f"{result['runs']} runs per draft, "
               f"{result['share']:.0%} of {result['users']} users in the challenger arm; "
               f"margins {rule['strict_margin']:g} (errors, refusals, holds) and "
               f"{rule['margin']:g} (abstentions, feedback), alpha {rule['alpha']:g}, judged from "
               f"{rule['min_requests']} requests and {rule['min_users']} users, promoted "
               f"from {rule['promote_after']}")
    def fmt(r: dict[str, float]) -> str:
        return "  ".join(f"{k} {v:.1%}" for k, v in r.items())

    typer.echo(f"champion (shipped charter): {fmt(result['champion'])}")
    for name, d in result["drafts"].items():
        typer.echo(f"{name}: {fmt(d['rates'])}  ({d['changed']} questions served "
                   "differently)")
        for verdict in ("rollback", "promote", "continue"):
            v = d[verdict]
            if v["runs"]:
                typer.echo(f"  {verdict:<9} {v['runs']:>4} runs; challenger requests: "
                           f"median {v['median']:g}, p90 {v['p90']:g}, max {v['max']:g}")


@app.command("pii")
def pii(
    data: Path = typer.Option(Path("../shared/data/pii/presidio_synth_dev.json"), "--data",
                              help="Presidio research JSON with full_text and spans."),
    every_row: bool = typer.Option(False, "--every-row",
                                   help="Score every row, not only the PII model's test "
                                   "templates (rows it was trained on count too)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Span-level precision, recall and F2 of PII detection on the entity types claimed:
    the pattern recognizers alone, and with the PII model."""
    from charter.bench import pii as bench
    from charter.judgement import serving

    rt = STATE.runtime
    rt.judgement  # noqa: B018 - registers the database, so the active PII model serves
    tagger = serving.pii_tagger(rt.settings) if rt.settings.pii_model else None
    result = bench.run(data, tagger, every_row=every_row)
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{result['rows']} rows: {result['scored']}")
    sides = [("patterns", result["before"])] + (
        [("patterns + model", result["after"])] if "after" in result else [])
    typer.echo(f"{'entity':>14} " + " ".join(f"{name:>34}" for name, _ in sides))
    entities = list(dict.fromkeys(e for _, side in sides for e in side["entities"]))
    for entity in entities:
        cells = []
        for _, side in sides:
            m = side["entities"].get(entity)
            cells.append(f"P {m['precision']:.3f} R {m['recall']:.3f} F2 {m['f2']:.3f} "
                         f"words {m['word_f2']:.3f}" if m else "not claimed")
        gold = next(side["entities"][entity]["gold"] for _, side in sides
                    if entity in side["entities"])
        typer.echo(f"{entity:>14} " + " ".join(f"{c:>34}" for c in cells) + f"  (gold {gold})")
    overall = [f"P {s['precision']:.3f} R {s['recall']:.3f} F2 {s['f2']:.3f} "
               f"words {s['word_f2']:.3f}" for _, s in sides]
    typer.echo(f"{'all claimed':>14} " + " ".join(f"{c:>34}" for c in overall))
    p50 = [f"{s['p50_ms']} ms" for _, s in sides]
    typer.echo(f"{'p50 per text':>14} " + " ".join(f"{c:>34}" for c in p50))
    typer.echo("F2: spans (a match overlaps half of the gold span and half of the predicted "
               "one); words: each word labelled by the span it starts in")
    if "after" not in result:
        typer.echo("no PII model serves (CHARTER_PII_MODEL=false or none trained)")


@app.command("injection")
def injection(
    data: Path = typer.Option(Path("../shared/data/injection"), "--data",
                              help="Labelled injection texts (parquet or JSONL)."),
    kb: list[Path] = typer.Option([Path("examples/handbook"), Path("../shared/data/seed-corpus")],
                                  "--kb", help="Folders of clean documents (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Injection detection: held-out accuracy, FPR on clean passages, hidden-attack recall."""
    from charter.bench import injection as bench

    result = bench.run(STATE.runtime.embedder(), data, kb)
    typer.echo(json.dumps(result, indent=None if as_json else 2))


@app.command("hostile")
def hostile(
    server_src: Path | None = typer.Option(
        None, "--server-src", help="Run the server from this checkout's src folder (to "
        "measure the code before a change beside the code after it)."),
    case: list[str] = typer.Option([], "--case", help="Only cases whose name holds this "
                                   "text (repeatable)."),
    job_limit: float = typer.Option(120.0, "--job-limit", help="Seconds to follow a "
                                    "background upload job before moving on."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Crafted files and a 9.9 MiB message against a server: time to a clear answer,
    peak memory, and a concurrent chat's latency meanwhile."""
    from charter.bench import hostile as bench

    cases = tuple(c for c in bench.CASES if not case or any(k in c.name for k in case))
    if not cases:
        raise InvalidInputError("no case's name holds " + " or ".join(map(repr, case))
                                + "; the cases: " + "; ".join(c.name for c in bench.CASES))
    if server_src is not None and not server_src.is_dir():
        raise InvalidInputError(f"--server-src {server_src} is not a folder; give a "
                                "checkout's src folder")
    result = bench.run(server_src=server_src, cases=cases, job_limit_s=job_limit,
                       log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"concurrent chat alone: p50 {result['alone_p50_ms']} ms")
    typer.echo(f"{'case':<48} {'status':>6} {'s':>8} {'job s':>7} {'peak MB':>8} "
               f"{'chat p50':>9} {'chat max':>9}  answer")
    for r in result["cases"]:
        typer.echo(f"{r['case']:<48} {r['status']:>6} {r['seconds']:>8.3f} "
                   f"{r.get('job_seconds', ''):>7} {r['peak_rss_mb']:>8} "
                   f"{r['chat_p50_ms'] or '-':>9} {r['chat_max_ms'] or '-':>9}  "
                   f"{r['answer'][:90]}")


@app.command("loaders")
def loaders(
    src: Path | None = typer.Option(None, "--src", help="Load with this checkout's src "
                                    "folder (to measure the code before a change)."),
    limit: float = typer.Option(300.0, "--limit", help="Seconds before a load is stopped."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Each loader's worst crafted file, loaded and chunked in a fresh process: seconds,
    peak resident memory and what came of it."""
    from charter.bench import hostile as bench

    if src is not None and not src.is_dir():
        raise InvalidInputError(f"--src {src} is not a folder; give a checkout's src folder")
    rows = bench.loaders(server_src=src, limit_s=limit, log=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(json.dumps(rows))
        return
    typer.echo(f"{'file':<44} {'bytes':>10} {'s':>8} {'peak MB':>8}  outcome")
    for r in rows:
        seconds = f"{r['seconds']:.2f}" if r["seconds"] is not None else "-"
        typer.echo(f"{r['file']:<44} {r['bytes']:>10,} {seconds:>8} "
                   f"{r['peak_rss_mb'] or '-':>8}  {r['outcome'][:100]}")
