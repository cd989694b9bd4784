"""The central tuner: Ray Tune experiments for any workload (calibration is the first user).

- ``experiment.run_experiment(spec, storage_dir, resume)``: one Tune experiment with a
  search method (``bohb`` | ``random`` | ``single``), budgets, one CPU per trial, at most
  ``workers`` trials at once, FailureConfig retries, checkpoints, ``Tuner.restore`` on
  resume, a journal of every evaluation; returns the evaluations as a list of dicts.
- ``searchers.HyperbandSearcher``: hpbandster's BOHB (KDE model + successive halving)
  as a Tune Searcher, with real multi-fidelity (promoted jobs continue from a checkpoint).
- ``stopping.TrendStopper``: extrapolation-based early stopping.
- ``trainable``: helpers for trainables that continue from checkpoints.
"""

from rlsys.tuner.experiment import ExperimentSpec, Journal, run_experiment
from rlsys.tuner.searchers import (
    BUDGET_KEY,
    JOB_KEY,
    PARENT_BUDGET_KEY,
    PARENT_KEY,
    PICK_KEY,
    HyperbandSearcher,
    config_space,
    hyperband_budgets,
)
from rlsys.tuner.stopping import TrendStopper, forecast

__all__ = [
    "BUDGET_KEY",
    "JOB_KEY",
    "PARENT_BUDGET_KEY",
    "PARENT_KEY",
    "PICK_KEY",
    "ExperimentSpec",
    "HyperbandSearcher",
    "Journal",
    "TrendStopper",
    "config_space",
    "forecast",
    "hyperband_budgets",
    "run_experiment",
]
