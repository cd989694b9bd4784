"""CommFormer in the central tuner: ``WORKLOAD`` (see ``rlsys.tuner.workloads``).

One Tune iteration = one PPO update; the budget is updates, and a promoted or restored
trial continues its run from a checkpoint. Reported every update:
``train_success_rate`` and ``episodic_return`` of the update's training episodes,
``env_steps``, and ``success_rate``, ``steps``, ``return`` of the latest deterministic
evaluation once there is one (every ``train.eval_every`` updates).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rlsys.commformer.train import CommFormerTrainConfig
from rlsys.paths import CONFIG_DIR
from rlsys.rl.ppo import PPO_SETTINGS_PER_UPDATE
from rlsys.tuner.workloads import Workload, trainer_resources

# Typed search space over CommFormerTrainConfig's paths
SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "train.ppo.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 2e-3},
    # up to 1e-1: at 1e-4 (the reference) the logits barely move in short runs
    "bilevel.graph_lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "train.ppo.ent_coef": {"type": "loguniform", "low": 1e-3, "high": 5e-2},
    "model.sparsity": {"type": "choice", "values": [0.2, 0.4, 0.6]},
    "bilevel.warmup_updates": {"type": "choice", "values": [0, 5, 10]},
}


def trial(cfg: CommFormerTrainConfig):
    """(make_trainer, result) of one trial (``rlsys.tuner.trainable.trainer_trial``)."""
    import torch

    from rlsys.commformer.evaluate import Evaluator
    from rlsys.commformer.train import TeamEnvFn, make_learner, make_policy, policy_kwargs
    from rlsys.rl.trainer import Trainer

    torch.set_num_threads(1)
    kwargs = policy_kwargs(cfg)

    def make_trainer(run_dir: Path, resume: bool) -> Trainer:
        return Trainer(
            cfg.train,
            TeamEnvFn(cfg.env),
            functools.partial(make_policy, kwargs),
            run_dir,
            evaluate_fn=Evaluator(cfg.env, cfg.eval_episodes),
            policy_kwargs=kwargs,
            resume=resume,
            progress=False,
            learner_fn=make_learner(cfg),
            device=cfg.device,
        )

    latest: dict[str, float] = {}

    def result(metrics: dict) -> dict:
        for key in ("success_rate", "steps", "return", "messages_per_step"):
            if f"eval/{key}" in metrics:
                latest[key] = metrics[f"eval/{key}"]
        return {
            **latest,
            "train_success_rate": metrics.get("episode/success", 0.0),
            "episodic_return": metrics["charts/episodic_return"],
            "env_steps": metrics["env_steps"],
            "update": metrics["update"],
        }

    return make_trainer, result


WORKLOAD = Workload(
    name="commformer",
    description="CommFormer on predator-prey (PPO, learned communication graph)",
    config_cls=CommFormerTrainConfig,
    default_config=CONFIG_DIR / "commformer" / "tune.yaml",
    space=SEARCH_SPACE,
    # every update: the success rate of the update's training episodes (sampling policy)
    metric="train_success_rate",
    mode="max",
    budget_unit="PPO updates",
    max_budget=60,
    budget_key="train.total_updates",
    command="rlsys commformer train --config {config}",
    baseline="the base config (configs/commformer/tune.yaml or --config) unchanged",
    trial=trial,
    resources=trainer_resources,
    record_keys=(
        "success_rate",
        "steps",
        "return",
        "messages_per_step",
        "episodic_return",
        "env_steps",
    ),  # fmt: skip
    # read from the config at every update (learning rates are set on the optimisers each
    # update), so a PBT clone's new values take effect from its next update
    mutable=(
        *(f"train.ppo.{k}" for k in PPO_SETTINGS_PER_UPDATE),
        "bilevel.graph_lr",
        "bilevel.warmup_updates",
    ),
)
