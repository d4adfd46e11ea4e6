"""Settings, declared once with their help text.

Each setting is read, in rising precedence, from its default, from a TOML file
(``CHARTER_CONFIG``, else ``./charter.toml``, else ``<data_dir>/charter.toml``) and
from the environment variable ``CHARTER_<NAME>``. ``Settings.source(name)`` says
where the value came from; ``charter config show`` prints all of them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charter.core.errors import ConfigError


def mask_url(url: str) -> str:
    """The URL with any password replaced, safe for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _parse_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected a whole number")
    if isinstance(raw, int):
        return raw
    return int(str(raw).strip())


def _parse_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    return float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)


def _parse_str(raw: Any) -> str:
    if not isinstance(raw, (str, int, float)):
        raise ValueError("expected text")
    return str(raw)


@dataclass(frozen=True)
class Setting:
    """One setting: its name, default, help text and how to parse and check it."""

    name: str
    default: Any
    help: str
    parse: Callable[[Any], Any] = _parse_str
    example: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    secret: bool = False

    @property
    def env_var(self) -> str:
        return f"CHARTER_{self.name.upper()}"

    def coerce(self, raw: Any, origin: str) -> Any:
        try:
            value = self.parse(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(self._bad(raw, origin, str(exc))) from None
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(self._bad(raw, origin, f"must be at least {self.minimum:g}"))
        if self.maximum is not None and value > self.maximum:
            raise ConfigError(self._bad(raw, origin, f"must be at most {self.maximum:g}"))
        if self.choices and value not in self.choices:
            raise ConfigError(self._bad(raw, origin, "must be one of " + ", ".join(self.choices)))
        return value

    def _bad(self, raw: Any, origin: str, why: str) -> str:
        shown = "***" if self.secret else repr(raw)
        hint = f" (for example {self.example})" if self.example else ""
        return (
            f"invalid value {shown} for setting '{self.name}' from {origin}: {why}; "
            f"set {self.env_var} or '{self.name}' in charter.toml to a valid value{hint}"
        )


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "./charter-data",
            "Folder for the SQLite database and other local state.", example="./charter-data"),
    Setting("database_url", "",
            "SQLAlchemy URL of the database. Empty means a SQLite file in data_dir. "
            "For PostgreSQL with pgvector: postgresql+psycopg://user:pass@host/db.",
            example="postgresql+psycopg://charter@localhost/charter", secret=True),
    Setting("audit_key_file", "",
            "File holding the key of the audit head's MAC (created, readable by the owner "
            "only, when missing); keep it off the database host's backups of the database. "
            "Empty: audit.key in the data folder. Every server process on one database needs "
            "the same file.", example="/etc/charter/audit.key"),
    Setting("read_cache_ttl", 2.0,
            "Seconds this process keeps rarely-changing rows (charter version, aliases, tier "
            "limits, profiles, router version) before reading them again; changes made in this "
            "process show at once, changes from other processes within this time (0: no cache).",
            parse=_parse_float, minimum=0.0, example="2"),
    Setting("auto_migrate", True,
            "Apply pending database migrations when Charter opens the database.",
            parse=_parse_bool, example="true"),
    Setting("db_connect_timeout", 5.0,
            "Seconds to wait when connecting to a database server.",
            parse=_parse_float, minimum=0.1, example="5"),
    Setting("default_route", "fast",
            "Model alias used when a request asks for 'auto' and no other stage picks a route.",
            example="fast"),
    Setting("pro_drafts", 3,
            "Drafts the pro route writes in parallel before the thinking model picks one.",
            parse=_parse_int, minimum=2, example="3"),
    Setting("thinking_parts", 4,
            "Parts the thinking route splits one question into at most (the rest stay with "
            "the last part).", parse=_parse_int, minimum=1, maximum=12, example="4"),
    Setting("thinking_steps", 10,
            "Model calls the thinking route may make for one question (one per part, and "
            "one more per part it revises).", parse=_parse_int, minimum=1, maximum=500,
            example="10"),
    Setting("thinking_searches", 10,
            "Knowledge-base searches the thinking route may make for one question.",
            parse=_parse_int, minimum=0, maximum=1000, example="10"),
    Setting("thinking_tokens", 40_000,
            "Prompt and answer tokens the thinking route may spend on one question, every "
            "call together.", parse=_parse_int, minimum=100, maximum=5_000_000,
            example="40000"),
    Setting("thinking_seconds", 120.0,
            "Seconds the thinking route may spend in searches and model calls for one "
            "question; the answer is made from what is written by then.",
            parse=_parse_float, minimum=1.0, maximum=86_400.0, example="120"),
    Setting("request_timeout", 60.0,
            "Seconds a call to a remote model backend may take in total, retries included.",
            parse=_parse_float, minimum=0.1, example="60"),
    Setting("max_retries", 2,
            "Retries of a remote backend call that failed with 429, 5xx or a connection error.",
            parse=_parse_int, minimum=0, example="2"),
    Setting("retry_backoff", 0.5,
            "Seconds before the first retry; doubles each retry (a Retry-After header wins).",
            parse=_parse_float, minimum=0.0, example="0.5"),
    Setting("max_tokens", 256,
            "Default cap on generated tokens per answer when an alias sets none.",
            parse=_parse_int, minimum=1, example="256"),
    Setting("max_messages", 200,
            "Messages one chat request may hold (400 above).",
            parse=_parse_int, minimum=1, example="200"),
    Setting("max_conversation_chars", 100_000,
            "Characters one chat request's messages may hold together (400 above): every "
            "one is screened and checked for personal data, so this bounds that work "
            "(about 25,000 tokens; raise it for long-context models).",
            parse=_parse_int, minimum=100, example="100000"),
    Setting("llamacpp_threads", 0,
            "CPU threads for in-process GGUF inference; 0 means one per core.",
            parse=_parse_int, minimum=0, example="2"),
    Setting("llamacpp_context", 2048,
            "Context window, in tokens, for in-process GGUF models.",
            parse=_parse_int, minimum=128, example="2048"),
    Setting("embedding_batch_size", 32,
            "Texts embedded per batch by the local embedder.",
            parse=_parse_int, minimum=1, example="32"),
    Setting("embedding_onnx", True,
            "Embed short inputs (questions, screening) with onnxruntime: the packaged model's "
            "graph is exported once into <data_dir>/cache/onnx and checked against PyTorch.",
            parse=_parse_bool, example="true"),
    Setting("embedding_quantized", True,
            "Embed queries (questions, screening, routing) with an int8 copy of the ONNX graph: "
            "about 3x less CPU per question, cosine 0.98 or more to the full model. "
            "Documents are always embedded at full precision.",
            parse=_parse_bool, example="true"),
    Setting("onnx_cache_dir", "",
            "Folder for the exported ONNX graphs (empty: <data_dir>/cache/onnx).",
            example="/var/cache/charter/onnx"),
    Setting("judgement_onnx", True,
            "Run Charter's trained judgement models (answerability and the others of `charter "
            "finetune`) with onnxruntime, from a graph exported once per model into the ONNX "
            "cache; false: PyTorch.", parse=_parse_bool, example="true"),
    Setting("judgement_threads", 1,
            "Threads each judgement model call may use (1 suits a server answering many "
            "requests at once; more lowers one request's latency).",
            parse=_parse_int, minimum=1, example="1"),
    Setting("embedding_alias", "embed",
            "Model alias (kind embedding) that embeds documents and questions.", example="embed"),
    Setting("kb_chunk_size", 1000,
            "Largest chunk, in characters; chunks follow headings, paragraphs and sentences.",
            parse=_parse_int, minimum=100, example="1000"),
    Setting("kb_chunk_overlap", 150,
            "Characters of trailing sentences repeated at the start of the next chunk of a section.",
            parse=_parse_int, minimum=0, example="150"),
    Setting("kb_batch_chunks", 256,
            "Chunks embedded together and written in one transaction during ingestion.",
            parse=_parse_int, minimum=1, example="256"),
    Setting("kb_max_pages", 2_000,
            "Pages a PDF may have; the page tree is counted before any page is read "
            "(413 above).", parse=_parse_int, minimum=1, example="2000"),
    Setting("kb_max_blocks", 100_000,
            "Paragraphs, headings, table rows or records (empty ones included) one file may "
            "yield (413 above).", parse=_parse_int, minimum=1, example="100000"),
    Setting("kb_max_chunks", 20_000,
            "Chunks one file may yield (413 above); about kb_chunk_size characters each.",
            parse=_parse_int, minimum=1, example="20000"),
    Setting("kb_max_expanded_mb", 100.0,
            "MiB the members of an archive format (.docx) may unpack to in total (413 above).",
            parse=_parse_float, minimum=0.01, example="100"),
    Setting("kb_max_expansion_ratio", 100.0,
            "How many times its packed size a member of 1 MiB or more of an archive (.docx) "
            "may unpack to: the zip-bomb check (413 above).",
            parse=_parse_float, minimum=1.0, example="100"),
    Setting("kb_max_depth", 64,
            "Nesting levels a record (a JSONL line) may have (413 above).",
            parse=_parse_int, minimum=1, example="64"),
    Setting("kb_load_seconds", 120.0,
            "Seconds reading and chunking one file may take before it is refused (413).",
            parse=_parse_float, minimum=0.1, example="120"),
    Setting("kb_job_memory_mb", 1024,
            "MiB of address space the child process that reads a background upload may use; "
            "a file that needs more is refused (413) and the server is untouched.",
            parse=_parse_int, minimum=128, example="1024"),
    Setting("kb_background_mb", 1.0,
            "Uploads larger than this many MiB ingest as a background job (202 with a job "
            "to poll at /api/jobs/ID) instead of inside the request.",
            parse=_parse_float, minimum=0.0, example="1"),
    Setting("jobs_max_queued", 8,
            "Background jobs (large uploads) that may wait behind the running one in each "
            "server process; one more is refused with 429 until one finishes.",
            parse=_parse_int, minimum=0, example="8"),
    Setting("agents_file", "",
            "A YAML file of agents and teams, added to the built-in ones and overriding them "
            "name by name (empty: the built-in teams only). Fields: docs/agents.md.",
            example="./agents.yaml"),
    Setting("agents_fetch_hosts", "",
            "Hosts the agents' http_fetch tool may read, comma-separated (host, host:port, "
            "or *.domain for its sub-domains); redirects are checked against the same list. "
            "Empty: the tool is off and a team that lists it is refused.",
            example="docs.example.com,*.wiki.internal"),
    Setting("agents_max_active", 4,
            "Agent runs one user may have queued, running or waiting at once; one more is "
            "refused with 429.",
            parse=_parse_int, minimum=1, example="4"),
    Setting("kb_top_k", 5,
            "Passages retrieved per question and handed to the answering model.",
            parse=_parse_int, minimum=1, example="5"),
    Setting("kb_min_similarity", 0.25,
            "Passages whose cosine similarity to the question is below this are not handed "
            "to the model (0 keeps every retrieved passage).",
            parse=_parse_float, minimum=0.0, example="0.25"),
    Setting("kb_reuse_screening_vector", True,
            "Search with the question vector screening computed on the int8 graph of the "
            "index's own embedding model instead of embedding the question again at full "
            "precision (about a quarter of a chat request's CPU). On SciFact's 300 test "
            "queries hybrid nDCG@10 was 0.7317 with it and 0.7304 without.",
            parse=_parse_bool, example="true"),
    Setting("kb_fusion", "convex",
            "How the keyword and vector rankings are fused: rrf (reciprocal rank) or convex.",
            choices=("rrf", "convex"), example="convex"),
    Setting("kb_alpha", 0.5,
            "Weight of the vector leg in convex fusion (0 = keywords only, 1 = vectors only).",
            parse=_parse_float, minimum=0.0, example="0.5"),
    Setting("charter_model", True,
            "Screen requests with the trained charter model (the shipped one, or the active "
            "version of `charter finetune charter`) after the charter's patterns and "
            "examples; false: patterns, examples and the judge only.",
            parse=_parse_bool, example="true"),
    Setting("pii_model", True,
            "Find person names, street addresses, places, organisations and dates with the "
            "trained PII model (the shipped one, or the active version of `charter finetune "
            "pii`) for the charter's PII entities that need it; false: only the pattern "
            "recognizers run, and those entities are not detected.",
            parse=_parse_bool, example="true"),
    Setting("policy_judge_alias", "",
            "Chat alias asked to judge requests the charter classifier is unsure about; "
            "empty means no judge.", example="thinking"),
    Setting("usecase_approvals", 2,
            "Approvals, from reviewers with distinct roles, that a high-risk use case needs.",
            parse=_parse_int, minimum=1, example="2"),
    Setting("usecase_review_days", 365,
            "Days after approval when a use case must be reviewed again.",
            parse=_parse_int, minimum=1, example="365"),
    Setting("server_host", "127.0.0.1",
            "Address `charter serve` listens on (0.0.0.0 for every interface).",
            example="127.0.0.1"),
    Setting("server_port", 8080, "Port `charter serve` listens on.", parse=_parse_int,
            minimum=1, example="8080"),
    Setting("server_workers", 1, "Worker processes for `charter serve`.", parse=_parse_int,
            minimum=1, example="1"),
    Setting("server_threads", 128,
            "Threads a server process runs blocking work in (screening, storage, backend "
            "calls); each request in flight holds one.", parse=_parse_int, minimum=4,
            example="128"),
    Setting("server_warmup", True,
            "Load the screening models when a server process starts, before it takes "
            "requests (else the first requests wait for them).", parse=_parse_bool,
            example="true"),
    Setting("server_telemetry", False,
            "FastAPI's OpenTelemetry spans and metrics for each HTTP request (needs an "
            "OpenTelemetry SDK configured in the process).", parse=_parse_bool, example="false"),
    Setting("max_body_mb", 10.0, "Largest request body the server accepts, in MiB (413 above).",
            parse=_parse_float, minimum=0.01, example="10"),
    Setting("rate_limit_per_minute", 600,
            "Requests one user (all their API keys together) may make per minute, per "
            "server process (0: no limit).",
            parse=_parse_int, minimum=0, example="600"),
    Setting("auth_failures_per_minute", 30,
            "Failed sign-ins one client address may make per minute, per server process, "
            "before it is answered 429 without a lookup (0: no limit).",
            parse=_parse_int, minimum=0, example="30"),
    Setting("metrics", True,
            "Count requests, latencies, tokens and abstentions in Prometheus metrics "
            "(GET /metrics); false: nothing is counted and /metrics answers 404.",
            parse=_parse_bool, example="true"),
    Setting("drift", True,
            "Keep a sample of each request (its screening embedding, decision, route and "
            "redacted question) and check the latest window against a reference for "
            "drift; false: nothing is sampled or checked.",
            parse=_parse_bool, example="true"),
    Setting("drift_window", 100,
            "Requests in the current window a drift check compares.",
            parse=_parse_int, minimum=10, maximum=1000, example="100"),
    Setting("drift_reference", 300,
            "Requests in the reference window: the ones just before the current window, "
            "unless `charter drift baseline` pinned a window (a wider pinned window is "
            "sampled evenly down to this many).",
            parse=_parse_int, minimum=10, maximum=2000, example="300"),
    Setting("drift_check_every", 25,
            "A drift check runs after every this many requests, in the background of the "
            "server process that served the last of them.",
            parse=_parse_int, minimum=1, example="25"),
    Setting("drift_alpha", 0.002,
            "False-alarm probability of one drift check on traffic that has not changed, "
            "split among its tests (half to the embedding test, a quarter each to decision "
            "and route rates).",
            parse=_parse_float, minimum=1e-6, maximum=0.5, example="0.002"),
    Setting("drift_min_auc", 0.55,
            "A significant embedding difference alerts only when a classifier tells the "
            "windows apart at least this well (cross-validated ROC AUC; 0: MMD alone).",
            parse=_parse_float, minimum=0.0, maximum=1.0, example="0.55"),
    Setting("drift_keep", 20000,
            "Drift samples kept; older ones (outside a pinned reference window) are deleted "
            "when a check runs.",
            parse=_parse_int, minimum=100, example="20000"),
    Setting("drift_webhook", "",
            "URL a drift alert is also POSTed to as JSON, with its evidence (example "
            "questions, redacted); empty: the log and the audit trail only. A failed "
            "delivery is logged, never retried.",
            example="https://alerts.example.com/charter"),
    Setting("mlflow_tracking_uri", "local",
            "Where evaluation runs are also logged to MLflow: local (an SQLite store, "
            "mlflow.db in the data folder, when the mlflow package is installed; nothing "
            "otherwise), off, or a tracking URI.",
            example="sqlite:////srv/mlflow/mlflow.db"),
    Setting("rollout_share", 0.2,
            "Part of the users a new rollout serves its challenger version to (sticky per "
            "user); `charter rollout start --share` overrides it for one rollout.",
            parse=_parse_float, minimum=0.001, maximum=0.999, example="0.2"),
    Setting("rollout_margin", 0.05,
            "How much worse than the champion a challenger may be on its abstention and "
            "negative-feedback rates: worse by more, significantly, and it is rolled back; "
            "promotion needs every observed difference within its margin.",
            parse=_parse_float, minimum=0.0, maximum=1.0, example="0.05"),
    Setting("rollout_strict_margin", 0.01,
            "The same margin for a challenger's error, refusal and hold rates (requests "
            "not served at all).",
            parse=_parse_float, minimum=0.0, maximum=1.0, example="0.01"),
    Setting("rollout_alpha", 0.01,
            "One-sided error probability of a rollout's comparisons (checked after every "
            "challenger request, so kept small).",
            parse=_parse_float, minimum=1e-6, maximum=0.5, example="0.01"),
    Setting("rollout_judge_interval", 1.0,
            "Seconds between two judgements of one rollout in one server process (each "
            "reads all of the rollout's requests); 0: after every challenger request.",
            parse=_parse_float, minimum=0.0, maximum=3600.0, example="1"),
    Setting("rollout_min_requests", 20,
            "Challenger requests before a rollout is judged at all.",
            parse=_parse_int, minimum=1, example="20"),
    Setting("rollout_promote_after", 200,
            "Challenger requests before a rollout can be promoted.",
            parse=_parse_int, minimum=1, example="200"),
    Setting("rollout_min_users", 5,
            "Distinct challenger users before a rollout is judged at all.",
            parse=_parse_int, minimum=1, example="5"),
    Setting("rollout_per_user_cap", 20,
            "Requests one user counts for at most in each arm of a rollout (one account "
            "cannot decide a rollout alone).",
            parse=_parse_int, minimum=1, example="20"),
    Setting("log_level", "warning",
            "Logging level for Charter's own messages.",
            choices=("debug", "info", "warning", "error"), example="info"),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> Setting:
    """Look up a declared setting by name."""
    return _BY_NAME[name]


@dataclass(frozen=True)
class Settings:
    """Resolved settings with the origin of each value."""

    values: Mapping[str, Any]
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # Called only for names the dataclass lacks; while an unpickled copy is being
        # rebuilt even ``values`` is missing, and looking it up here would recurse.
        if name in ("values", "sources") or name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    @property
    def data_path(self) -> Path:
        return Path(self.values["data_dir"]).expanduser()

    @property
    def resolved_database_url(self) -> str:
        url = self.values["database_url"]
        if url:
            return url
        return f"sqlite:///{(self.data_path / 'charter.db').resolve()}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some values replaced (checked like any other source)."""
        values = dict(self.values)
        sources = dict(self.sources)
        for name, raw in overrides.items():
            if name not in _BY_NAME:
                raise ConfigError(f"unknown setting '{name}'; see `charter config show`")
            values[name] = _BY_NAME[name].coerce(raw, "override")
            sources[name] = "override"
        return Settings(values, sources)


def _config_file(env: Mapping[str, str]) -> Path | None:
    explicit = env.get("CHARTER_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"CHARTER_CONFIG points at {path}, which is not a file; "
                "fix the path or unset CHARTER_CONFIG"
            )
        return path
    local = Path("charter.toml")
    if local.is_file():
        return local
    data_dir = Path(env.get("CHARTER_DATA_DIR", _BY_NAME["data_dir"].default)).expanduser()
    in_data = data_dir / "charter.toml"
    return in_data if in_data.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix the file") from None
    table = data.get("charter", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: expected a [charter] table of settings")
    unknown = sorted(k for k in table if k not in _BY_NAME)
    if unknown:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(unknown)}; "
            "`charter config show` lists the valid names"
        )
    return table


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting from defaults, the TOML file and ``CHARTER_*`` variables."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    sources: dict[str, str] = {s.name: "default" for s in SETTINGS}
    path = _config_file(env)
    if path is not None:
        for name, raw in _read_toml(path).items():
            values[name] = _BY_NAME[name].coerce(raw, str(path))
            sources[name] = str(path)
    for s in SETTINGS:
        if s.env_var in env:
            values[s.name] = s.coerce(env[s.env_var], f"environment variable {s.env_var}")
            sources[s.name] = f"env {s.env_var}"
    return Settings(values, sources)


def settings_markdown() -> str:
    """The settings reference, as written to docs/configuration.md."""
    lines = [
        "# Configuration",
        "",
        "Every setting can be given as an environment variable `CHARTER_<NAME>` or as",
        "`name = value` in a TOML file (a `[charter]` table or top-level keys). The file is",
        "`$CHARTER_CONFIG`, else `./charter.toml`, else `<data_dir>/charter.toml`.",
        "Environment variables win over the file, which wins over the defaults.",
        "`charter config show` prints each value and where it came from.",
        "",
        "This page is generated from `charter/core/config.py`; a test keeps the two in step.",
        "",
        "| setting | environment variable | default | meaning |",
        "|---|---|---|---|",
    ]
    for s in SETTINGS:
        default = "(empty)" if s.default == "" else f"`{str(s.default).lower() if isinstance(s.default, bool) else s.default}`"
        help_text = s.help + (f" One of: {', '.join(s.choices)}." if s.choices else "")
        lines.append(f"| `{s.name}` | `{s.env_var}` | {default} | {help_text} |")
    return "\n".join(lines) + "\n"
