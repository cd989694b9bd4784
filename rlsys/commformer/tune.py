"""CommFormer as a Ray Tune function trainable, with its default search space.

``commformer_trainable(config)``: one Tune iteration = one PPO update (the budget is
real: more iterations continue the same run). Every update is reported
(``train_success_rate`` and ``episodic_return`` of the update's training episodes,
``env_steps``, and ``success_rate``, ``steps``, ``return`` of the latest evaluation once
there is one); every ``checkpoint_every`` updates the trainer's
checkpoint goes into a ``tune.Checkpoint`` (a weights-only torch file, no pickle), and a
restored trial continues from it bit for bit.

config keys: the hyperparameters of ``SEARCH_SPACE`` plus ``base`` (a plain dict of
``CommFormerTrainConfig`` overrides, e.g. the env size) and ``updates`` (the trial's
length; it also sets the learning-rate and freezing schedules).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

# Typed search space (plain data; the central tuner turns it into Tune's domains).
SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 2e-3},
    # up to 1e-1: at 1e-4 (the reference) the logits barely move in short runs
    "graph_lr": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
    "ent_coef": {"type": "loguniform", "low": 1e-3, "high": 5e-2},
    "sparsity": {"type": "choice", "values": [0.2, 0.4, 0.6]},
    "warmup_updates": {"type": "choice", "values": [0, 5, 10]},
}
METRIC, MODE = "train_success_rate", "max"
"""Reported every update: the success rate of the update's training episodes (sampling
policy); ``success_rate`` (deterministic evaluation) comes every ``eval_every`` updates."""


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
    """The ``CommFormerTrainConfig`` of a trial (validated like a config file)."""
    from rlsys.commformer.train import CommFormerTrainConfig
    from rlsys.config import from_dict

    cfg = from_dict(CommFormerTrainConfig, dict(config.get("base") or {}), source="base")
    ppo = {k: config[k] for k in ("learning_rate", "ent_coef") if k in config}
    cfg.train = dataclasses.replace(
        cfg.train,
        total_updates=int(config.get("updates", cfg.train.total_updates)),
        ppo=dataclasses.replace(cfg.train.ppo, **ppo),
    )
    if "sparsity" in config:
        cfg.model = dataclasses.replace(cfg.model, sparsity=float(config["sparsity"]))
    bilevel = {k: config[k] for k in ("graph_lr", "warmup_updates") if k in config}
    cfg.bilevel = dataclasses.replace(cfg.bilevel, **bilevel)
    return cfg


def commformer_trainable(config: dict[str, Any]) -> None:
    """Tune function trainable (see the module docstring)."""
    import functools

    import torch

    from rlsys.commformer.evaluate import Evaluator
    from rlsys.commformer.train import TeamEnvFn, make_learner, make_policy, policy_kwargs
    from rlsys.rl.trainer import Trainer
    from rlsys.tuner.trainable import trainer_trial

    torch.set_num_threads(1)
    cfg = build_config(config)
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

    trainer_trial(
        make_trainer, result, cfg.train.checkpoint_every, cfg.train.total_updates, "commformer-"
    )
