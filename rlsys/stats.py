"""The one confidence interval rlsys reports over seeds (bench scripts, `parl compare`)."""

from __future__ import annotations

import math
import statistics


def ci95(values: list[float]) -> float:
    """Half-width of the 95% Student-t interval of the mean (0 for one value)."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return 0.0
    return float(stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n))
