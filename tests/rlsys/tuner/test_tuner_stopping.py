"""Extrapolation-based early stopping (rlsys/tuner/stopping.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rlsys.tuner import BUDGET_KEY, TrendStopper, forecast


def curve(t: np.ndarray, floor: float, start: float, rate: float = 0.8) -> np.ndarray:
    return floor + (start - floor) * rate**t


def test_forecast_recovers_a_saturating_curve():
    t = np.arange(1, 7)
    pred, sd = forecast(curve(t, 10.0, 40.0), at=18, first=1)
    assert pred == pytest.approx(curve(np.array(18), 10.0, 40.0), abs=0.3)
    assert sd < 1e-6
    pred, _ = forecast([5.0, 5.0, 5.0, 5.0], at=18)
    assert pred == pytest.approx(5.0)


def feed(stopper: TrendStopper, trial: str, values, budget: int = 18, first: int = 1):
    decisions = []
    for i, v in enumerate(values):
        result = {"l1": float(v), "iteration": first + i, BUDGET_KEY: budget}
        decisions.append(stopper(trial, result))
        if decisions[-1]:
            break  # Tune sends nothing after a stop
    return decisions


def test_stops_a_hopeless_run_and_keeps_a_promising_one():
    s = TrendStopper("l1", "min", min_points=4, margin=0.5)
    assert not any(feed(s, "a", curve(np.arange(1, 19), 5.0, 20.0)))  # finishes: incumbent
    assert s.incumbent(18) == pytest.approx(curve(np.array(18), 5.0, 20.0))
    hopeless = feed(s, "b", curve(np.arange(1, 19), 30.0, 60.0))
    assert hopeless[:3] == [False, False, False]  # never before min_points
    assert hopeless[3:] == [True] and s.stopped["b"] == (4, 18)
    promising = feed(s, "c", curve(np.arange(1, 19), 3.0, 25.0, rate=0.7))
    assert not any(promising)


def test_no_incumbent_or_smaller_budget_means_no_stop():
    s = TrendStopper("l1", "min")
    assert not any(feed(s, "a", [90, 91, 92, 93, 94, 95], budget=18))  # nothing finished yet
    feed(s, "b", [1.0, 1.0], budget=2)  # a finished budget-2 run is no incumbent for 18
    assert s.incumbent(18) == np.inf
    assert not any(feed(s, "c", [90, 91, 92, 93, 94, 95], budget=18))
    assert not s({"trial": 1}.get("x", "d"), {"l1": 3.0})  # results without a budget


def test_warm_start_and_max_mode():
    s = TrendStopper("score", "max", margin=0.0, rel_margin=0.0)
    s.observe_final(10, 100.0)
    low = [{"score": v, "iteration": i + 1, BUDGET_KEY: 10} for i, v in enumerate([1, 2, 3, 4])]
    assert [s("t", r) for r in low][-1] is True
    with pytest.raises(ValueError):
        TrendStopper("x", "median")


def test_a_series_in_one_report_counts_as_many_points():
    s = TrendStopper("l1", "min", min_points=4)
    s.observe_final(18, 5.0)
    series = list(curve(np.arange(1, 5), 30.0, 60.0))
    assert s("t", {"l1": series[-1], "iteration": 4, BUDGET_KEY: 18, "series": series})
    promoted = list(curve(np.arange(7, 11), 30.0, 60.0))  # a run continued from iteration 6
    assert s("p", {"l1": promoted[-1], "iteration": 10, BUDGET_KEY: 18, "series": promoted})
    assert s.stopped["p"] == (10, 18)


def test_a_proposal_pick_is_never_stopped():
    from rlsys.tuner.keys import PROPOSAL_PICK_KEY

    s = TrendStopper("l1", "min", min_points=4, margin=0.5)
    feed(s, "a", curve(np.arange(1, 19), 5.0, 20.0))
    hopeless = curve(np.arange(1, 19), 30.0, 60.0)
    for i, v in enumerate(hopeless):
        result = {"l1": float(v), "iteration": i + 1, BUDGET_KEY: 18}
        assert not s("p", {**result, "config": {PROPOSAL_PICK_KEY: True}})
    assert any(feed(s, "b", hopeless))  # the same curve without the flag is stopped
