"""PARL as a Ray Tune function trainable, with its default search space.

``parl_trainable(config)``: one Tune iteration = one update of the shared trainer (a
collected batch, its SAC steps and, when due, a feedback round). Every update reports
``episodic_return`` (the true return of the update's training episodes), ``queries``,
``env_steps`` and ``true_return`` of the latest deterministic evaluation once there is
one; checkpoints and restore as in ``rlsys.tuner.trainable.trainer_trial``.

config keys: the hyperparameters of ``SEARCH_SPACE`` plus ``base`` (a plain dict of
``PARLConfig`` overrides: task, method, teacher, budgets) and ``updates`` (the trial's
length).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "reward_lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
    "queries_per_feedback": {"type": "choice", "values": [10, 20, 40]},
    "feedback_every": {"type": "choice", "values": [1, 2, 5]},
    "segment_length": {"type": "choice", "values": [10, 25, 50]},
    "damping": {"type": "loguniform", "low": 1e-3, "high": 1.0},
    "trust_ratio": {"type": "loguniform", "low": 0.1, "high": 3.0},
}
METRIC, MODE = "episodic_return", "max"
"""Reported every update: the true return of the update's training episodes."""


def tune_domains(space: dict[str, dict[str, Any]] = SEARCH_SPACE) -> dict[str, Any]:
    """``SEARCH_SPACE`` as Ray Tune sampling domains."""
    from rlsys.tuner.trainable import tune_domains as domains

    return domains(space)


def trial_resources(config: dict[str, Any], learner_cpus: float = 1.0) -> Any:
    """The trial's placement group (``rlsys.tuner.trainable.trainer_resources``)."""
    from rlsys.tuner.trainable import trainer_resources

    cfg = build_config({"base": config.get("base")})  # the sizes only, no sampled values
    return trainer_resources(cfg.train.rollout, learner_cpus)


def build_config(config: dict[str, Any]):
    """The ``PARLConfig`` of a trial (validated like a config file)."""
    from rlsys.config import from_dict
    from rlsys.parl.train import PARLConfig

    cfg = from_dict(PARLConfig, dict(config.get("base") or {}), source="base")
    cfg.train = dataclasses.replace(
        cfg.train, total_updates=int(config.get("updates", cfg.train.total_updates))
    )
    keys = ("queries_per_feedback", "feedback_every", "segment_length")
    cfg = dataclasses.replace(cfg, **{k: int(config[k]) for k in keys if k in config})
    if "reward_lr" in config:
        cfg.reward = dataclasses.replace(cfg.reward, learning_rate=float(config["reward_lr"]))
    hg = {k: float(config[k]) for k in ("damping", "trust_ratio") if k in config}
    cfg.hypergradient = dataclasses.replace(cfg.hypergradient, **hg)
    return cfg


def parl_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable (see the module docstring)."""
    from rlsys.parl.train import make_trainer
    from rlsys.tuner.trainable import trainer_trial

    cfg = build_config(config)
    latest: dict[str, float] = {}

    def result(metrics: dict) -> dict:
        if "eval/true_return" in metrics:
            latest["true_return"] = metrics["eval/true_return"]
        return {
            **latest,
            "episodic_return": metrics["charts/episodic_return"],
            "queries": metrics.get("losses/queries", 0.0),
            "env_steps": metrics["env_steps"],
            "update": metrics["update"],
        }

    def trainer(run_dir: Path, resume: bool):
        return make_trainer(cfg, run_dir, resume, progress=False)

    trainer_trial(trainer, result, cfg.train.checkpoint_every, cfg.train.total_updates, "parl-")
