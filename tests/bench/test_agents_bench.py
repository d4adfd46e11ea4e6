"""`charter bench agents`: tokens per step stay flat as a run grows."""

from __future__ import annotations

from charter.bench import agents as bench
from charter.core.config import Settings


def test_tokens_grow_linearly_with_steps(settings: Settings) -> None:
    result = bench.run(settings, (4, 12))
    small, large = result["runs"]
    assert small["steps"] == 4 and large["steps"] == 12
    assert small["status"] == large["status"] == "completed"
    # Three times the steps cost about three times the tokens (quadratic would be ~9x).
    assert 2.5 <= result["growth"][0]["tokens_ratio"] <= 3.6, result
    assert large["engine_overhead_ms_per_step"] > 0
