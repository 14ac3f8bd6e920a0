"""How the cost of traces (or conversations) spreads: median, 90th and 99th percentile,
maximum, and which cost over twice the median.

A total says what the work cost; it does not say whether a few runaway tasks made most of
it. The seeds' dashboard asks for exactly this: the distribution of cost per task with its
P50 / P90 / P99, and each task costing more than twice the median flagged. Only what was
fully priced takes part: a trace with spans that could not be priced has a cost that is a
part of its real one, and would pull the median down and hide the runaways.

Pure Python, no OpenTelemetry import.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CostSpread", "cost_spread"]

#: What costs more than this many times the median is flagged (the seeds' red rows).
RUNAWAY_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class CostSpread:
    """The spread of the costs of ``count`` fully priced items (traces or conversations)."""

    count: int
    median_usd: float
    #: Nearest-rank percentiles: the cost at or below which 90% (99%) of the items fall,
    #: always one of the items' own costs.
    p90_usd: float
    p99_usd: float
    max_usd: float
    #: The ids of the items costing more than twice the median, the most expensive first.
    over_twice_median: tuple[str, ...]

    def times_median(self, usd: float) -> float | None:
        """How many times the median ``usd`` is, when that is over twice (``None`` otherwise)."""
        if self.median_usd > 0 and usd > RUNAWAY_FACTOR * self.median_usd:
            return usd / self.median_usd
        return None

    def as_dict(self, rounded: Callable[[float], float]) -> dict[str, Any]:
        """For ``--json``; ``rounded`` rounds a USD sum as the rest of the document does."""
        return {
            "count": self.count,
            "median_usd": rounded(self.median_usd),
            "p90_usd": rounded(self.p90_usd),
            "p99_usd": rounded(self.p99_usd),
            "max_usd": rounded(self.max_usd),
            "over_twice_median": list(self.over_twice_median),
        }


def cost_spread(costs: Sequence[tuple[str, float]]) -> CostSpread | None:
    """The spread of ``(id, usd)`` pairs; ``None`` for fewer than two (one cost has no
    spread to speak of)."""
    if len(costs) < 2:
        return None
    values = sorted(usd for _, usd in costs)
    median = statistics.median(values)
    over = sorted(
        ((key, usd) for key, usd in costs if median > 0 and usd > RUNAWAY_FACTOR * median),
        key=lambda item: (-item[1], item[0]),
    )
    return CostSpread(
        count=len(values),
        median_usd=median,
        p90_usd=_nearest_rank(values, 90),
        p99_usd=_nearest_rank(values, 99),
        max_usd=values[-1],
        over_twice_median=tuple(key for key, _ in over),
    )


def _nearest_rank(ordered: Sequence[float], percent: int) -> float:
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]
