"""What rlsys reports over repeats: the 95% confidence interval over seeds (bench scripts,
`parl compare`) and the median wall time of a benchmarked call."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def ci95(values: list[float]) -> float:
    """Half-width of the 95% Student-t interval of the mean (0 for one value)."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return 0.0
    return float(stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n))


def median_seconds(fn: Callable[[], object], repeats: int, warm_up: bool = False) -> float:
    """Median wall time of ``repeats`` calls of ``fn`` (after one untimed call if
    ``warm_up``)."""
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
