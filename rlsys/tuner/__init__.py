"""The central tuner: Ray Tune experiments for any workload (calibration is the first user).

- ``experiment.run_experiment(spec, storage_dir, resume)``: one Tune experiment with a
  search method (``bohb`` | ``random`` | ``single``), budgets, one CPU per trial, at most
  ``workers`` trials at once, FailureConfig retries, checkpoints, a journal of every
  evaluation, resume from the journal (no pickle read); returns the evaluations.
- ``searchers.HyperbandSearcher``: hpbandster's BOHB (KDE model + successive halving)
  as a Tune Searcher, with real multi-fidelity (promoted jobs continue from a checkpoint).
- ``space``: typed search spaces (uniform, loguniform, int, choice, fixed) for every
  search method; ``searchers.GridSearcher``: grid search, resumable point by point.
- ``stopping.TrendStopper``: extrapolation-based early stopping.
- ``trainable``: helpers for trainables that continue from checkpoints.
- ``keys``: the config keys of the trainable contract.

The names below are imported on first use: a trainable on a Ray worker imports
``rlsys.tuner.keys`` and ``rlsys.tuner.trainable`` only, not the driver's side.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ExperimentSpec": "experiment",
    "Journal": "experiment",
    "run_experiment": "experiment",
    "HyperbandSearcher": "searchers",
    "GridSearcher": "searchers",
    "Param": "space",
    "parse_space": "space",
    "hyperband_budgets": "searchers",
    "TrendStopper": "stopping",
    "forecast": "stopping",
    "BUDGET_KEY": "keys",
    "JOB_KEY": "keys",
    "PARENT_BUDGET_KEY": "keys",
    "PARENT_KEY": "keys",
    "PICK_KEY": "keys",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'rlsys.tuner' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rlsys.tuner.{_WHERE[name]}"), name)
