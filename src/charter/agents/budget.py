"""What a run has spent, and which limit of its budget (if any) it has reached."""

from __future__ import annotations

from dataclasses import dataclass

from charter.agents.spec import Budget


@dataclass(frozen=True)
class Spent:
    steps: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0
    repeats: int = 0

    def plus(self, *, steps: int = 0, tool_calls: int = 0, tokens: int = 0, cost: float = 0.0,
             seconds: float = 0.0, repeats: int = 0) -> Spent:
        return Spent(self.steps + steps, self.tool_calls + tool_calls, self.tokens + tokens,
                     self.cost + cost, self.seconds + seconds, self.repeats + repeats)

    def as_dict(self) -> dict[str, float | int]:
        return {"steps": self.steps, "tool_calls": self.tool_calls, "tokens": self.tokens,
                "cost": round(self.cost, 6), "seconds": round(self.seconds, 3),
                "repeats": self.repeats}


def exhausted(budget: Budget, spent: Spent, *, next_step: str = "model") -> str | None:
    """The limit the next step would pass, as a sentence; None while the budget holds.
    ``next_step`` is ``model`` or ``tool``: only a tool call counts against tool calls."""
    if next_step == "model" and spent.steps >= budget.steps:
        return f"the run used its {budget.steps} model steps"
    if next_step == "tool" and spent.tool_calls >= budget.tool_calls:
        return f"the run used its {budget.tool_calls} tool calls"
    if spent.tokens >= budget.tokens:
        return f"the run used {spent.tokens:,} of its {budget.tokens:,} tokens"
    if spent.cost > 0 and spent.cost >= budget.cost:  # a limit of 0 allows no priced step
        return f"the run's estimated cost reached its limit of {budget.cost}"
    if spent.seconds >= budget.wall_seconds:
        return f"the run's steps took {spent.seconds:.0f} s of its {budget.wall_seconds:.0f} s"
    if spent.repeats > budget.repeats:
        return (f"an agent repeated an identical tool call {spent.repeats} times "
                f"(limit {budget.repeats})")
    return None
