"""Prometheus metrics: what this process has served, in the official client's types.

The gateway observes every chat request once, when its audit record is written (or,
for a request refused before it was routed, when it is refused):
requests by route, decision and status; time in the spine and in the backend;
tokens; abstentions; passages handed to the model and those screening neutralised.
``exposition`` renders them in Prometheus's text format, with gauges read from the
database at scrape time (pending reviews, agent runs by status, background jobs), so
every process reports the same queues.

Several worker processes (``charter serve --workers N``) each count their own requests:
``charter serve`` then points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before the
workers start (the client library's multi-process mode, which reads the variable when
it is imported), each worker writes its values to files there, and a scrape of any
worker sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily, Metric

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter("charter_requests", "Chat requests by route, charter decision and status.",
                   ["route", "decision", "status"])
REQUEST_SECONDS = Histogram("charter_request_seconds",
                            "Time from entering the spine to the audit record, by route.",
                            ["route"], buckets=SECONDS)
BACKEND_SECONDS = Histogram("charter_backend_seconds",
                            "Time inside model calls per request, by alias.", ["alias"],
                            buckets=SECONDS)
TOKENS = Counter("charter_tokens", "Prompt and completion tokens, by route.",
                 ["route", "kind"])
ABSTENTIONS = Counter("charter_abstentions",
                      "Answers that said the sources do not answer, by route.", ["route"])
PASSAGES = Histogram("charter_passages", "Passages handed to the model per request.",
                     buckets=(0, 1, 2, 3, 5, 8, 13, 21))
NEUTRALISED = Counter("charter_passages_neutralised",
                      "Retrieved passages screening neutralised (injected instructions).")


def observe_chat(*, route: str, decision: str, status: str, seconds: float,
                 backend_seconds: float, alias: str | None, prompt_tokens: int,
                 completion_tokens: int, abstained: bool, passages: int,
                 neutralised: int) -> None:
    REQUESTS.labels(route, decision, status).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)
    if alias:
        BACKEND_SECONDS.labels(alias).observe(backend_seconds)
    TOKENS.labels(route, "prompt").inc(prompt_tokens)
    TOKENS.labels(route, "completion").inc(completion_tokens)
    if abstained:
        ABSTENTIONS.labels(route).inc()
    PASSAGES.observe(passages)
    if neutralised:
        NEUTRALISED.inc(neutralised)


def observe_rejected(code: str) -> None:
    """A request refused before it was routed: route and decision ``none``, the error
    code (``not_found``, ``quota_exceeded``, ...) as the status."""
    REQUESTS.labels("none", "none", code).inc()


class _Queues:
    """Gauges read when scraped: ``depths`` gives {(metric, help): {label value: count}}."""

    def __init__(self, depths: Callable[[], Mapping[tuple[str, str], Mapping[str, int]]]
                 ) -> None:
        self.depths = depths

    def collect(self) -> Iterable[Metric]:
        for (name, help_text), values in self.depths().items():
            gauge = GaugeMetricFamily(name, help_text, labels=["state"])
            for state, count in sorted(values.items()):
                gauge.add_metric([state], count)
            yield gauge


def exposition(depths: Callable[[], Mapping[tuple[str, str], Mapping[str, int]]]
               ) -> tuple[bytes, str]:
    """The metrics in Prometheus's text format, and its content type: every worker's
    values in multi-process mode, this process's otherwise, and the queue gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in (REQUESTS, REQUEST_SECONDS, BACKEND_SECONDS, TOKENS, ABSTENTIONS,
                          PASSAGES, NEUTRALISED):
            registry.register(collector)
    registry.register(_Queues(depths))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def prepare_workers(folder: str) -> None:
    """Multi-process mode for workers spawned after this call: ``folder`` emptied and
    named in the environment they inherit."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))
    os.environ[MULTIPROC_ENV] = folder
