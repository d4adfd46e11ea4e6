"""`charter kb`: the knowledge base (add, sync, list, show, job, remove, reindex, status,
rescreen, search)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from charter.cli.state import STATE
from charter.knowledge.ingest import IngestOptions, IngestReport
from charter.knowledge.loaders import RecordOptions
from charter.knowledge.search import SearchFilters
from charter.services import documents, jobs

app = typer.Typer(help="The knowledge base: documents that answers are grounded in.",
                  no_args_is_help=True)

CLASSIFICATION = typer.Option(None, "--classification",
                              help="public, internal, confidential or restricted "
                                   "(new documents default to internal; omitted keeps the current one).")
GROUPS = typer.Option(None, "--groups", help="Comma-separated groups allowed to see the documents "
                      "(empty: everyone with clearance).")
TAGS = typer.Option(None, "--tags", help="Comma-separated tags, for filtering.")
SOURCE = typer.Option(None, "--source", help="Source name (default: the folder's name).")
TEXT_COL = typer.Option("text", "--text-column", help="CSV/JSONL: column with the text.")
ID_COL = typer.Option(None, "--id-column", help="CSV/JSONL: column with a stable row id.")
TITLE_COL = typer.Option(None, "--title-column", help="CSV/JSONL: column with a title.")
META_COLS = typer.Option(None, "--meta-columns", help="CSV/JSONL: comma-separated columns kept "
                         "as metadata.")


def _split(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _options(classification, groups, tags, source, text_column, id_column, title_column,
             meta_columns) -> IngestOptions:  # noqa: ANN001
    return IngestOptions(
        classification=classification, groups=_split(groups), tags=_split(tags), source=source,
        records=RecordOptions(text_column, id_column, title_column, _split(meta_columns) or ()),
    )


def _run(action, target, options: IngestOptions) -> IngestReport:  # noqa: ANN001
    console = Console(stderr=True)
    started = time.perf_counter()
    with Progress(TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                  TextColumn("{task.fields[current]}"), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("ingest", total=None, rate="", current="")

        def progress(done: int, total: int, path: str) -> None:
            rate = done / max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=done, total=total, rate=f"{rate:.1f} files/s",
                       current=Path(path).name[:40])

        report = action(STATE.runtime, STATE.principal, target, options, progress)
    _print_report(report)
    return report


def _print_report(report: IngestReport) -> None:
    typer.echo(f"{report.summary()}; {report.chunks} chunks in {report.seconds:.1f}s")
    for path, reason in report.failed:
        typer.secho(f"  failed: {path}: {reason}", fg="yellow")


@app.command("add")
def add(paths: list[Path] = typer.Argument(..., help="Files or folders."),
        classification: str | None = CLASSIFICATION, groups: str | None = GROUPS,
        tags: str | None = TAGS, source: str | None = SOURCE, text_column: str = TEXT_COL,
        id_column: str | None = ID_COL, title_column: str | None = TITLE_COL,
        meta_columns: str | None = META_COLS) -> None:
    """Add files and folders (re-ingesting changed files, skipping unchanged ones)."""
    opts = _options(classification, groups, tags, source, text_column, id_column, title_column,
                    meta_columns)
    report = _run(documents.add, paths, opts)
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


@app.command("sync")
def sync(folder: Path = typer.Argument(..., help="Folder to mirror."),
         classification: str | None = CLASSIFICATION, groups: str | None = GROUPS,
         tags: str | None = TAGS, source: str | None = SOURCE, text_column: str = TEXT_COL,
         id_column: str | None = ID_COL, title_column: str | None = TITLE_COL,
         meta_columns: str | None = META_COLS) -> None:
    """Mirror a folder: add new files, re-ingest changed ones, remove deleted ones."""
    opts = _options(classification, groups, tags, source, text_column, id_column, title_column,
                    meta_columns)
    _run(documents.sync, folder, opts)


@app.command("list")
def list_(source: str | None = typer.Option(None, "--source", help="Only this source."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List documents with their classification, groups and size."""
    docs = documents.list_documents(STATE.runtime, STATE.principal, source=source)
    if as_json:
        typer.echo(json.dumps([d.__dict__ for d in docs], indent=2))
        return
    table = Table("id", "title", "source", "class.", "groups", "chunks", "version", "path")
    for d in docs:
        table.add_row(d.id[:8], d.title[:40], d.source, d.classification, ",".join(d.groups) or "-",
                      str(d.chunk_count), str(d.version), d.uri)
    Console(width=200).print(table)
    typer.echo(f"{len(docs)} documents")


@app.command("show")
def show(key: str = typer.Argument(..., help="Document id (or its start) or path."),
         chunks: bool = typer.Option(False, "--chunks", help="Print the chunks too.")) -> None:
    """Show one document and, with --chunks, its chunks and their locations."""
    doc = documents.resolve(STATE.runtime, STATE.principal, key)
    for k, v in doc.__dict__.items():
        typer.echo(f"{k:>14}: {v}")
    if chunks:
        for c in documents.chunks(STATE.runtime, STATE.principal, doc):
            where = ", ".join(x for x in (c["heading"], f"page {c['page']}" if c["page"] else "") if x)
            typer.echo(f"\n[{c['uid']}] chars {c['char_start']}-{c['char_end']} {where}")
            typer.echo(c["text"])


@app.command("remove")
def remove(keys: list[str] = typer.Argument(..., help="Document ids or paths.")) -> None:
    """Remove documents with their chunks and vectors."""
    docs = documents.remove(STATE.runtime, STATE.principal, keys)
    typer.echo(f"removed {len(docs)} document(s)")


@app.command("job")
def job(job_id: str = typer.Argument(..., help="Job id, as a background upload returns it."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show a background job (a large upload): its state, progress, result or error."""
    found = jobs.get(STATE.runtime, STATE.principal, job_id)
    if as_json:
        typer.echo(json.dumps(found.to_dict(), indent=2))
        return
    typer.echo(f"{found.id}: {found.kind}, {found.state}, {found.done}/{found.total}"
               + (f" ({found.note})" if found.note else ""))
    if found.result:
        typer.echo(json.dumps(found.result))
    if found.error:
        typer.echo(f"error: {found.error['error']['message']}")


@app.command("reindex")
def reindex() -> None:
    """Re-embed every chunk with the current embedding alias (after changing the model)."""
    count, seconds = documents.reindex(STATE.runtime, STATE.principal)
    typer.echo(f"re-embedded {count} chunks in {seconds:.1f}s")


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts (documents, chunks; for admins also vectors, keyword entries and the chunks
    screened, flagged and not yet screened for injection), the index's model."""
    found = documents.status(STATE.runtime, STATE.principal)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    for name, value in found["counts"].items():
        typer.echo(f"{name}: {value}")
    typer.echo(f"embedding model: {found['embedding_model'] or '(no index yet)'}"
               + (f" ({found['dimension']} dimensions)" if found["dimension"] else ""))


@app.command("rescreen")
def rescreen() -> None:
    """Screen stored chunks for injected instructions again where the stored verdict is
    missing or from another detector version (after an upgrade or a new embedding model)."""
    report = documents.rescreen(STATE.runtime, STATE.principal)
    typer.echo(f"screened {report.screened} chunks ({report.flagged} flagged) with detector "
               f"{report.detector} in {report.seconds:.1f}s")


@app.command("search")
def search(query: str = typer.Argument(..., help="What to look for."),
           k: int = typer.Option(5, "--k", min=1, max=100, help="How many results."),
           mode: str = typer.Option("hybrid", "--mode", help="hybrid, bm25 or dense."),
           source: str | None = typer.Option(None, "--source", help="Only this source."),
           tag: str | None = typer.Option(None, "--tag", help="Only documents with this tag."),
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Search the knowledge base as the CLI's principal would, without answering."""
    filters = SearchFilters(sources=(source,) if source else (), tags=(tag,) if tag else ())
    hits = documents.search(STATE.runtime, STATE.principal, query, k=k, mode=mode,  # type: ignore[arg-type]
                            filters=filters)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(h) for h in hits], indent=2))
        return
    for i, h in enumerate(hits, start=1):
        typer.echo(f"{i}. {h.score:.4f} {h.title} ({h.uri.rsplit('/', 1)[-1]}: {h.location})")
        typer.echo("   " + " ".join(h.text.split())[:200])
