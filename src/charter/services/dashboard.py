"""Dashboard figures from the audit trail: requests by route, refusal and hold rates,
latency, tokens and estimated cost per day."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from charter.core.principal import Principal, require
from charter.core.routes import FAST, MINI, NONE, PRO, THINKING
from charter.runtime import Runtime

# Estimated cost per 1,000 tokens by route, for the dashboard only (configure real prices
# in your own deployment; the offline defaults cost nothing).
COST_PER_1K = {FAST: 0.0005, MINI: 0.0002, THINKING: 0.005, PRO: 0.02}


def dashboard(rt: Runtime, actor: Principal, days: int) -> dict[str, Any]:
    require(actor, "reviewer")
    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")
    per_day: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "requests": 0, "refused": 0, "held": 0, "tokens": 0, "cost": 0.0, "latencies": [],
        "routes": defaultdict(int)})
    for r in rt.audit.records(event="chat", since=since):
        day = per_day[r.created_at[:10]]
        p = r.payload
        day["requests"] += 1
        action = (p.get("decision") or {}).get("action")
        day["refused"] += action == "refuse"
        day["held"] += action == "hold_for_review"
        route = (p.get("route") or {}).get("name", NONE)
        day["routes"][route] += 1
        usage = p.get("usage") or {}
        tokens = int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
        day["tokens"] += tokens
        day["cost"] += tokens / 1000 * COST_PER_1K.get(route, 0.0)
        if p.get("latency_ms") is not None:
            day["latencies"].append(float(p["latency_ms"]))
    out = []
    for date in sorted(per_day):
        d = per_day[date]
        lat = sorted(d.pop("latencies"))
        n = d["requests"] or 1
        out.append({"date": date, **d, "routes": dict(d["routes"]), "cost": round(d["cost"], 4),
                    "refusal_rate": round(d["refused"] / n, 4), "hold_rate": round(d["held"] / n, 4),
                    "latency_p50_ms": round(statistics.median(lat), 2) if lat else None,
                    "latency_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2) if lat else None})
    return {"days": out, "cost_per_1k_tokens": COST_PER_1K}
