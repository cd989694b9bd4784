"""Job-shop GNN-PPO in the central tuner: ``WORKLOAD`` (see ``rlsys.tuner.workloads``).

One Tune iteration = one PPO update of ``rlsys jobshop train`` (same trainer, same
rollout workers); the budget is PPO updates (24 episodes each by default, so equal
budgets are equal numbers of dispatching decisions in expectation: the minibatch size
changes how they are used, not how many there are). The metric is ``val_makespan``, the
greedy policy's mean makespan on the fixed validation set (random instances, never the
benchmarks), reported from the first validation on (every ``train.eval_every`` updates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsys.jobshop.train import JobshopTrainConfig
from rlsys.paths import CONFIG_DIR
from rlsys.rl.ppo import PPO_SETTINGS_PER_UPDATE
from rlsys.tuner.workloads import Workload, trainer_resources

SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "train.ppo.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
    "train.ppo.ent_coef": {"type": "loguniform", "low": 1e-3, "high": 5e-2},
    "policy.hidden": {"type": "choice", "values": [32, 64, 128]},
    "policy.layers": {"type": "int", "low": 2, "high": 5},
    "train.ppo.minibatch_size": {"type": "choice", "values": [128, 256, 512]},
}


def trial(cfg: JobshopTrainConfig):
    """(make_trainer, result) of one trial (``rlsys.tuner.trainable.trainer_trial``)."""
    from rlsys.jobshop.train import Validator, make_trainer

    validator = Validator(cfg.validation)

    def trial_trainer(run_dir: Path, resume: bool):
        return make_trainer(cfg, run_dir, validator, resume, progress=False)

    latest: dict[str, float] = {}

    def result(metrics: dict) -> dict:
        if "eval/val/makespan" in metrics:  # the Validator's keys, prefixed by the trainer
            latest["val_makespan"] = metrics["eval/val/makespan"]
            latest["val_ratio_to_mwkr"] = metrics["eval/val/ratio_to_mwkr"]
        return {
            **latest,
            "episodic_return": metrics["charts/episodic_return"],
            "env_steps": metrics["env_steps"],
            "update": metrics["update"],
        }

    return trial_trainer, result


WORKLOAD = Workload(
    name="jobshop",
    description="job-shop GNN-PPO dispatching (validation makespan)",
    config_cls=JobshopTrainConfig,
    default_config=CONFIG_DIR / "jobshop" / "tune.yaml",
    space=SEARCH_SPACE,
    metric="val_makespan",
    mode="min",
    budget_unit="PPO updates",
    max_budget=60,
    # the metric comes every eval_every (10) updates: no rung below the first validation
    min_budget=20,
    budget_key="train.total_updates",
    command="rlsys jobshop train --config {config}",
    baseline="the base config's hyperparameters (configs/jobshop/default.yaml's)",
    trial=trial,
    resources=trainer_resources,
    record_keys=("val_ratio_to_mwkr", "env_steps"),
    # PPO reads these from the config at every update (the learning rate is set on the
    # optimiser each update), so a PBT clone's new values take effect from its next one
    mutable=tuple(f"train.ppo.{k}" for k in PPO_SETTINGS_PER_UPDATE),
)
