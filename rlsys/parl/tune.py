"""PARL in the central tuner: ``WORKLOAD`` (see ``rlsys.tuner.workloads``).

One Tune iteration = one SAC update round of the shared trainer (a rollout request plus
its gradient steps and feedback); the budget is those updates. Reported every update:
``episodic_return`` (true return of the update's training episodes), ``queries``,
``env_steps`` and ``true_return`` of the latest deterministic evaluation once there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsys.parl.train import PARLConfig
from rlsys.tuner.workloads import Workload, trainer_resources

# Typed search space over PARLConfig's paths
SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "reward.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
    "queries_per_feedback": {"type": "choice", "values": [10, 20, 40]},
    "feedback_every": {"type": "choice", "values": [1, 2, 5]},
    "segment_length": {"type": "choice", "values": [10, 25, 50]},
    "hypergradient.damping": {"type": "loguniform", "low": 1e-3, "high": 1.0},
    "hypergradient.trust_ratio": {"type": "loguniform", "low": 0.1, "high": 3.0},
}


def trial(cfg: PARLConfig):
    """(make_trainer, result) of one trial (``rlsys.tuner.trainable.trainer_trial``)."""
    from rlsys.parl.train import make_trainer

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

    return trainer, result


WORKLOAD = Workload(
    name="parl",
    description="PARL / PEBBLE preference-based RL (SAC lower level)",
    config_cls=PARLConfig,
    default_config=None,
    space=SEARCH_SPACE,
    metric="episodic_return",
    mode="max",
    budget_unit="SAC update rounds",
    max_budget=60,
    budget_key="train.total_updates",
    command="rlsys parl train --config {config}",
    baseline="the base config (PARLConfig defaults or --config) unchanged",
    trial=trial,
    resources=trainer_resources,
    record_keys=("true_return", "queries", "env_steps"),
)
