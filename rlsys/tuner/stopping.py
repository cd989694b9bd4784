"""Extrapolation-based early stopping: end a run whose trend cannot reach the incumbent.

The calibration paper stops a BEAM run when the L1 curve of its first iterations,
extrapolated to the last iteration, stays above the best L1 found so far. Here that is
a Ray Tune ``Stopper`` for any trainable that reports ``iteration`` (units of budget
done), ``BUDGET_KEY`` (units it will do) and the metric; a result may also carry
``series``, the metric after each unit since the run started, so that a trainable can
report every few units (each report costs a few milliseconds of the driver's time).

The trend model is a saturating curve ``y(t) = a + b * r**t`` (the day loop of an
agent-based simulation relaxes geometrically towards its equilibrium), fitted by least
squares over a grid of rates ``r``; its value at the budget, minus twice the residual
standard deviation, minus a safety margin, is an optimistic forecast. The run stops when
even that forecast is worse than the incumbent: the best final value among finished runs
with the same or a larger budget (lower budgets are not comparable: fewer iterations).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from ray.tune import Stopper

from rlsys.tuner.keys import BUDGET_KEY, PROPOSAL_PICK_KEY

_RATES = (0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)


def forecast(
    values: list[float] | np.ndarray, at: float, first: float = 1.0
) -> tuple[float, float]:
    """Fit ``a + b r^t`` to values observed at t = first, first+1, ...; return (y(at), resid sd)."""
    y = np.asarray(values, dtype=np.float64)
    t = first + np.arange(y.size, dtype=np.float64)
    best = (np.inf, float(y[-1]), 0.0)
    for r in _RATES:
        x = np.column_stack([np.ones_like(t), r ** (t - t[0])])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        sse = float(resid @ resid)
        if sse < best[0]:
            pred = float(coef[0] + coef[1] * r ** (at - t[0]))
            sd = float(np.sqrt(sse / max(1, y.size - 2)))
            best = (sse, pred, sd)
    return best[1], best[2]


class TrendStopper(Stopper):
    """Stop runs whose optimistic forecast cannot beat the incumbent (``mode`` min or max).

    min_points: observations needed before a run may be stopped (never before that).
    margin: absolute slack in metric units (e.g. percentage points of L1).
    rel_margin: relative slack, as a fraction of the incumbent.
    """

    def __init__(
        self,
        metric: str,
        mode: str = "min",
        min_points: int = 4,
        margin: float = 0.5,
        rel_margin: float = 0.1,
        iteration_key: str = "iteration",
        series_key: str = "series",
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.metric, self.sign = metric, 1.0 if mode == "min" else -1.0
        self.min_points, self.margin, self.rel_margin = min_points, margin, rel_margin
        self.iteration_key, self.series_key = iteration_key, series_key
        self.history: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.finals: dict[int, float] = {}  # budget -> best final value (in "min" units)
        self.stopped: dict[str, tuple[int, int]] = {}  # trial_id -> (iteration, budget)

    def observe_final(self, budget: int, value: float) -> None:
        """Record a finished run's final value (also used to warm-start after a resume)."""
        v = self.sign * float(value)
        if np.isfinite(v) and v < self.finals.get(int(budget), np.inf):
            self.finals[int(budget)] = v

    def incumbent(self, budget: int) -> float:
        """Best final value (in "min" units) among runs with at least this budget."""
        values = [v for b, v in self.finals.items() if b >= budget]
        return min(values) if values else np.inf

    def __call__(self, trial_id: str, result: dict) -> bool:
        if BUDGET_KEY not in result or self.metric not in result:
            return False
        if (result.get("config") or {}).get(PROPOSAL_PICK_KEY):
            # a trainable's proposal refines the incumbent: the trend of its first
            # iterations (a fresh simulation settling) cannot tell how close it will end
            return False
        budget = int(result[BUDGET_KEY])
        iteration = int(result[self.iteration_key])
        value = self.sign * float(result[self.metric])
        if iteration >= budget:
            self.history.pop(trial_id, None)
            self.observe_final(budget, self.sign * value)
            return False
        series = result.get(self.series_key)
        if series:
            first = iteration - len(series) + 1
            hist = [(first + i, self.sign * float(v)) for i, v in enumerate(series)]
            self.history[trial_id] = hist
        else:
            hist = self.history[trial_id]
            hist.append((iteration, value))
        if len(hist) < self.min_points:
            return False
        best = self.incumbent(budget)
        if not np.isfinite(best):
            return False
        values = [v for _, v in hist]
        pred, sd = forecast(values, at=budget, first=hist[0][0])
        optimistic = min(pred, min(values)) - 2.0 * sd
        if optimistic > best + max(self.margin, self.rel_margin * abs(best)):
            self.stopped[trial_id] = (iteration, budget)
            self.history.pop(trial_id, None)
            return True
        return False

    def stop_all(self) -> bool:
        return False
