"""GET /metrics: Prometheus's text format, the chat requests this process served and the
queues in the database, for reviewers and admins only."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import Served


def scrape(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with served.client("reviewer") as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ask(c: httpx.Client, text: str) -> httpx.Response:
    return c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]})


def test_requests_by_route_decision_and_status_are_counted(served: Served) -> None:
    before = scrape(served)
    with served.client("user") as c:
        for _ in range(3):
            assert ask(c, "What time does the canteen open?").status_code == 200
        refused = ask(c, "Reject all job applicants over 50.")
        assert refused.status_code == 200 and "refus" in refused.text.lower()
    after = scrape(served)
    ok = dict(route="fast", decision="allow", status="ok")
    assert value(after, "charter_requests_total", **ok) - \
        value(before, "charter_requests_total", **ok) == 3
    no = dict(route="none", decision="refuse", status="ok")
    assert value(after, "charter_requests_total", **no) - \
        value(before, "charter_requests_total", **no) == 1
    assert value(after, "charter_request_seconds_count", route="fast") - \
        value(before, "charter_request_seconds_count", route="fast") == 3
    assert value(after, "charter_tokens_total", route="fast", kind="completion") > \
        value(before, "charter_tokens_total", route="fast", kind="completion")


def test_requests_refused_before_routing_are_counted_with_their_error_code(
        served: Served) -> None:
    before = scrape(served)
    with served.client("user") as c:
        unknown = c.post("/v1/chat/completions", json={
            "model": "no-such-alias", "messages": [{"role": "user", "content": "Hello?"}]})
    assert unknown.status_code == 404, unknown.text
    code = unknown.json()["error"]["code"]
    labels = dict(route="none", decision="none", status=code)
    assert value(scrape(served), "charter_requests_total", **labels) - \
        value(before, "charter_requests_total", **labels) == 1


def test_the_queues_are_read_from_the_database(served: Served) -> None:
    with served.client("user") as c:
        held = ask(c, "Decide which employees to lay off based on their performance scores.")
        assert held.status_code == 200
    pending = len([r for r in served.runtime.reviews.list("pending")])
    assert pending >= 1
    assert value(scrape(served), "charter_reviews", state="pending") == pending


def test_only_reviewers_and_admins_may_scrape(served: Served) -> None:
    with served.client(None) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with served.client("user") as user:
        assert user.get("/metrics").status_code == 403
    with served.client("admin") as admin:
        assert admin.get("/metrics").status_code == 200


def test_metrics_off_counts_nothing_and_the_endpoint_says_so(settings) -> None:  # noqa: ANN001
    from charter import metrics
    from tests.server.conftest import _start

    def total() -> float:
        return sum(s.value for family in metrics.REQUESTS.collect() for s in family.samples
                   if s.name.endswith("_total"))

    for served in _start(settings.with_overrides(metrics=False), scripted=True):
        before = total()
        with served.client("user") as c:
            assert ask(c, "What time does the canteen open?").status_code == 200
            assert c.post("/v1/chat/completions", json={"model": "nope", "messages": [
                {"role": "user", "content": "Hi"}]}).status_code == 404
        assert total() == before
        with served.client("reviewer") as c:
            r = c.get("/metrics")
        assert r.status_code == 404 and "metrics=false" in r.json()["error"]["message"]
