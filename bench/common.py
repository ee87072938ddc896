"""What a benchmark reports: a measured value, its baseline from the same run, and the ratio."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    name: str
    value: float
    baseline: float
    unit: str = "s"
    goal: float | None = None  # the ratio to stay under, when the issue sets one
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def line(self) -> str:
        goal = ""
        if self.goal is not None:
            verdict = "ok" if self.ratio <= self.goal else "MISSED"
            goal = f"  goal <= {self.goal:g}x {verdict}"
        extra = "".join(f"  {k}={v}" for k, v in self.notes.items())
        measured = f"{self.value:.4f} {self.unit} vs {self.baseline:.4f} {self.unit}"
        return f"{self.name}: {self.ratio:.2f}x ({measured}){goal}{extra}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "ratio": round(self.ratio, 3),
            "value": self.value,
            "baseline": self.baseline,
            "unit": self.unit,
            "goal": self.goal,
            **self.notes,
        }


async def timed(fn: Callable[[], Awaitable[object]], repeat: int = 1) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        await fn()
        best = min(best, time.perf_counter() - start)
    return best
