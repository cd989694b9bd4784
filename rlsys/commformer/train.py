"""Train CommFormer with PPO on Ray rollout actors (the shared core in ``rlsys.rl``).

    rlsys commformer train --env predator_prey --dim 10 --agents 5 --sparsity 0.4 \\
        [--gating] [--graph learned|full|none|random] --steps N --seed S [--resume DIR]

The team env (a PettingZoo ``ParallelEnv``) runs in ``rlsys.rl.RolloutWorker`` actors,
which return [T, N] batches with GAE per agent; ``BilevelLearner`` alternates the network
and graph-logit optimisers on the PPO loss; ``rlsys.rl.Trainer`` does the rest (weights
broadcast, checkpoints, TensorBoard, metrics.jsonl, progress bar, resume). Every
``eval_every`` updates the deterministic policy (execution graph) plays a fixed set of
evaluation episodes on the driver (``evaluate.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any, Literal

from rlsys.commformer.evaluate import Evaluator
from rlsys.commformer.learner import BilevelConfig, BilevelLearner
from rlsys.commformer.model import CommFormerPolicy
from rlsys.config import Config, config_field, invalid
from rlsys.rl.ppo import PPOConfig
from rlsys.rl.trainer import RolloutConfig, TrainConfig


@dataclasses.dataclass
class EnvConfig(Config):
    """Which team environment, and its size."""

    name: Literal["predator_prey", "capture", "simple_spread"] = "predator_prey"
    """'predator_prey', 'capture' (predator-capture-prey) or 'simple_spread' (mpe2)"""
    dim: int = config_field(10, ge=1)
    """grid side (predator-prey envs)"""
    agents: int = config_field(5, ge=2)
    """agents in the team (capture: capture + perception agents); CommFormer needs >= 2"""
    capture_agents: int = config_field(2, ge=1)
    """capture env only: blind capture agents (the others perceive)"""
    vision: int = config_field(1, ge=0)
    """window radius v: agents see (2v + 1)^2 cells (predator-prey envs)"""
    max_steps: int | None = config_field(None, ge=1)
    """episode length limit (simple_spread: mpe2's max_cycles); None: IC3Net's 20 / 40 /
    80 for 5x5 / 10x10 / 20x20, i.e. 4 x dim (simple_spread: mpe2's 25)"""
    mode: Literal["cooperative", "competitive", "mixed"] = "cooperative"
    """predator-prey reward mode"""
    landmark_neighbors: int | None = config_field(None, ge=1)
    """simple_spread only: each agent observes its nearest this-many landmarks (mpe2's
    num_landmark_neighbors); None: every landmark (mpe2's default, fully observed)"""
    agent_neighbors: int | None = config_field(None, ge=1)
    """simple_spread only: each agent observes its nearest this-many other agents (mpe2's
    num_agent_neighbors); None: every agent"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_steps is None:
            self.max_steps = 25 if self.name == "simple_spread" else 4 * self.dim
        if self.name != "simple_spread" and self.agents + 1 > self.dim * self.dim:
            raise invalid(
                self,
                f"agents {self.agents} do not fit a {self.dim}x{self.dim} grid with a prey "
                f"(at most {self.dim * self.dim - 1})",
            )
        partial = self.landmark_neighbors is not None or self.agent_neighbors is not None
        if partial and self.name != "simple_spread":
            raise invalid(
                self,
                f"landmark_neighbors / agent_neighbors are simple_spread options, not {self.name}",
            )
        if self.name == "capture" and self.capture_agents >= self.agents:
            raise invalid(
                self, f"capture_agents must be < agents ({self.agents}), got {self.capture_agents}"
            )


@dataclasses.dataclass
class ModelConfig(Config):
    """The CommFormer network and its graph (see ``rlsys.commformer.model``)."""

    width: int = config_field(64, ge=1)
    """embedding width (reference: 64)"""
    blocks: int = config_field(1, ge=1)
    """encoder / decoder blocks (reference: 1)"""
    heads: int = config_field(1, ge=1)
    """attention heads (reference: 1)"""
    sparsity: float = config_field(0.4, gt=0, le=1)
    """S in (0, 1]: each agent listens to k = max(int(N * S), 1) others"""
    graph: Literal["learned", "full", "none", "random"] = "learned"
    """'learned', 'full', 'none' (no communication) or 'random' (fixed, same density)"""
    gating: bool = False
    """temporal gating of incoming messages"""
    gate_coef: float = config_field(0.01, ge=0)
    """gate-rate penalty weight"""
    gate_open_init: float | None = config_field(None, gt=0, lt=1)
    """initial open probability of the gates (None: PyTorch's default init, about 0.5)"""
    gate_entropy: bool = True
    """gates' Bernoulli entropy in the entropy bonus"""
    gate_ratio: Literal["joint", "separate"] = "joint"
    """PPO ratio of the gate: joint with the move's, or its own clipped ratio"""
    graph_gradient: Literal["straight_through", "policy_gradient"] = "straight_through"
    """how the graph logits learn: the reference's straight-through estimator, or the
    score function (each receiver's sampled row is part of its agent's PPO action)"""
    graph_draw: Literal["step", "episode"] = "step"
    """training graphs: a fresh draw every env step (the reference) or one per episode"""
    critic: Literal["graph", "full"] = "graph"
    """value heads on the acting graph's encoding (the reference) or on a full-graph pass
    (a centralised critic, independent of the sampled graph)"""


def _default_train() -> TrainConfig:
    # Reference PPO settings (MAT/CommFormer): lr 5e-4, clip 0.2, Huber value loss,
    # entropy 0.01, grad clip 10, 10 epochs (so epochs 5 and 10 step the graph).
    return TrainConfig(
        seed=0,
        total_updates=100,
        checkpoint_every=10,
        eval_every=10,
        ppo=PPOConfig(
            learning_rate=5e-4,
            max_grad_norm=10.0,
            vloss_type="huber",
            update_epochs=10,
            minibatch_size=640,
            ent_coef=0.01,
            anneal_lr=False,
        ),
        # 16 envs in lockstep per actor: one batched policy call serves 16 env steps
        rollout=RolloutConfig(num_workers=2, envs_per_worker=16, episodes_per_request=32),
    )


@dataclasses.dataclass
class CommFormerTrainConfig(Config):
    """Everything `rlsys commformer train` needs (YAML: configs/commformer/*.yaml)."""

    env: EnvConfig = dataclasses.field(default_factory=EnvConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    bilevel: BilevelConfig = dataclasses.field(default_factory=BilevelConfig)
    train: TrainConfig = dataclasses.field(default_factory=_default_train)
    eval_episodes: int = config_field(100, ge=1)
    """deterministic evaluation episodes (fixed seeds) every train.eval_every updates"""
    init_weights: str | None = None
    """start from the weights of this CommFormer file (a final.pt, or 'pretrained' for the
    shipped one) instead of a fresh initialisation; parameters the file lacks (the gate
    head of a policy trained without gating) keep their initialisation. None: fresh"""
    device: str = "auto"
    """learner device: 'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:<i>'"""


def updates_for_steps(cfg: CommFormerTrainConfig, steps: int) -> int:
    """PPO updates for a budget of env steps, counting every episode at its full length
    (workers x episodes per request x max_steps per update; successful episodes end
    earlier, so the run takes at most ``steps`` env steps)."""
    r = cfg.train.rollout
    per_update = r.num_workers * r.episodes_per_request * cfg.env.max_steps
    return max(1, math.ceil(steps / per_update))


class TeamEnvFn:
    """``env_fn`` of the rollout workers: builds the team env once and reuses it (each
    episode is reset with its own seed); copies start without an env."""

    def __init__(self, env: EnvConfig, render_mode: str | None = None) -> None:
        self.env, self.render_mode = env, render_mode
        self._env: Any = None

    def __call__(self, episode_seed: int) -> Any:
        if self._env is None:
            self._env = make_team_env(self.env, self.render_mode)
        return self._env

    def __getstate__(self) -> dict:
        return {"env": self.env, "render_mode": self.render_mode, "_env": None}


def make_team_env(cfg: EnvConfig, render_mode: str | None = None) -> Any:
    """The PettingZoo ParallelEnv named by ``cfg``."""
    if cfg.name == "predator_prey":
        from envs.predator_prey import parallel_env

        return parallel_env(cfg.dim, cfg.agents, cfg.vision, cfg.max_steps, cfg.mode, render_mode)
    if cfg.name == "capture":
        from envs.predator_prey import capture_env

        return capture_env(
            cfg.dim,
            n_capture=cfg.capture_agents,
            n_perception=cfg.agents - cfg.capture_agents,
            vision=cfg.vision,
            max_steps=cfg.max_steps,
            mode=cfg.mode,
            render_mode=render_mode,
        )
    from mpe2 import simple_spread_v3

    return simple_spread_v3.parallel_env(
        N=cfg.agents,
        max_cycles=cfg.max_steps,
        continuous_actions=False,
        render_mode=render_mode,
        num_landmark_neighbors=cfg.landmark_neighbors,
        num_agent_neighbors=cfg.agent_neighbors,
    )


def policy_kwargs(cfg: CommFormerTrainConfig) -> dict:
    """CommFormerPolicy(**kwargs) for this config (spaces read off the env)."""
    env = make_team_env(cfg.env)
    agent = env.possible_agents[0]
    obs_dim = int(env.observation_space(agent).shape[0])
    n_actions = int(env.action_space(agent).n)
    return {
        "n_agents": len(env.possible_agents),
        "obs_dim": obs_dim,
        "n_actions": n_actions,
        **dataclasses.asdict(cfg.model),
        "seed": cfg.train.seed,
    }


PRETRAINED = Path(__file__).parent / "pretrained" / "commformer_pp10x10_5.pt"


def make_policy(kwargs: dict) -> CommFormerPolicy:
    return CommFormerPolicy(**kwargs)


def checkpoint_path(source: str) -> Path:
    """A CommFormer file named by the user: a path, or 'pretrained' (the shipped one)."""
    if source.lower() != "pretrained":
        return Path(source)
    if not PRETRAINED.exists():
        raise ValueError(f"no pretrained CommFormer shipped ({PRETRAINED.name} missing)")
    return PRETRAINED


def load_initial_weights(policy: CommFormerPolicy, source: str) -> None:
    """Copy the weights of a CommFormer file into ``policy``; only parameters of a gate
    head may be missing from the file, and every stored shape must match (one-line
    ``ValueError`` otherwise)."""
    from rlsys.rl.policy import read_policy_file

    path = checkpoint_path(source)
    state, _ = read_policy_file(path, "init_weights file")
    try:
        keys = policy.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a shape mismatch
        first = str(exc).strip().splitlines()[-1].strip()
        raise ValueError(f"{path}: weights do not fit this CommFormer config ({first})") from None
    misfit = keys.unexpected_keys + [k for k in keys.missing_keys if not k.startswith("gate.")]
    if misfit:
        raise ValueError(f"{path}: weights do not fit this CommFormer config ({misfit[0]})")


def make_learner(cfg: CommFormerTrainConfig):
    """learner_fn for the Trainer: the bilevel alternation on the PPO loss."""

    def build(policy, train_cfg: TrainConfig, seed: int) -> BilevelLearner:
        return BilevelLearner(policy, train_cfg.ppo, cfg.bilevel, train_cfg.total_updates, seed)

    return build


def train(
    cfg: CommFormerTrainConfig, run_dir: Path, resume: bool = False, progress: bool = True
) -> dict:
    from rlsys.rl.trainer import Trainer

    kwargs = policy_kwargs(cfg)
    trainer = Trainer(
        cfg.train,
        env_fn=TeamEnvFn(cfg.env),
        policy_fn=functools.partial(make_policy, kwargs),
        run_dir=run_dir,
        evaluate_fn=Evaluator(cfg.env, cfg.eval_episodes),
        policy_kwargs=kwargs,
        resume=resume,
        progress=progress,
        learner_fn=make_learner(cfg),
        device=cfg.device,
        final_meta={"env": dataclasses.asdict(cfg.env)},
    )
    if cfg.init_weights is not None and not resume:
        # the learner's copy only: the trainer sends its weights to the rollout workers
        load_initial_weights(trainer.policy, cfg.init_weights)
    return trainer.train()
