"""Train the GNN dispatching policy with PPO on random ISBJSSP instances.

    rlsys jobshop train --config configs/jobshop/default.yaml [--actors N] [--resume DIR]

Each episode draws an instance (n jobs, m machines, processing times U[low, high],
random machine orders) and a shutdown probability from ``InstanceDistribution``; Ray
rollout workers collect episodes with CPU copies of the policy (``rlsys.rl``), the learner
updates it with PPO, and every ``eval_every`` updates the greedy policy is scored on a
fixed validation set against MWKR (the best rule on the benchmarks) on the same
disruption paths. Reward: minus the time advanced, divided by the instance's mean machine
load (sum of processing times / m), so returns are comparable across sizes.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch

from envs.jobshop.env import ISBJSSPEnv
from envs.jobshop.instance import Instance, random_instance
from rlsys.config import Config, config_field, invalid
from rlsys.jobshop.evaluate import run_episode
from rlsys.jobshop.policy import JobShopGNNPolicy, PolicyConfig
from rlsys.jobshop.teacher import TeacherConfig, TeacherLabels
from rlsys.rl.trainer import TrainConfig


def _check_range(cfg: Config, key: str) -> None:
    low, high = getattr(cfg, key)
    if low > high:
        raise invalid(cfg, f"{key} must be [low, high] with low <= high, got {[low, high]}")


@dataclasses.dataclass
class InstanceDistribution(Config):
    """Random training instances (Taillard-style)."""

    jobs: list[int] = config_field([6, 15], ge=1, min_len=2, max_len=2)
    """Inclusive range [low, high] of the number of jobs."""
    machines: list[int] = config_field([4, 10], ge=1, min_len=2, max_len=2)
    """Inclusive range [low, high] of the number of machines."""
    shutdown_probs: list[float] = config_field([0.0, 0.01, 0.02, 0.05, 0.1], ge=0, lt=1, min_len=1)
    """Shutdown probabilities, drawn uniformly per episode."""
    low: int = config_field(1, ge=0)
    """Smallest processing time."""
    high: int = config_field(99, ge=1)
    """Largest processing time (>= low)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_range(self, "jobs")
        _check_range(self, "machines")
        if self.low > self.high:
            raise invalid(self, f"high must be >= low ({self.low}), got {self.high}")

    def sample(self, seed: int) -> tuple[Instance, float]:
        rng = np.random.default_rng(seed)
        n = int(rng.integers(self.jobs[0], self.jobs[1] + 1))
        m = int(rng.integers(self.machines[0], self.machines[1] + 1))
        p = float(rng.choice(self.shutdown_probs))
        inst = random_instance(n, m, seed=int(rng.integers(2**31)), low=self.low, high=self.high)
        return inst, p


@dataclasses.dataclass
class ValidationConfig(Config):
    """Fixed validation set: random instances x shutdown probabilities x seeds."""

    sizes: list[list[int]] = config_field([[10, 5], [15, 5], [10, 10], [20, 5]], ge=1, min_len=1)
    """[jobs, machines] of the validation instances."""
    instances_per_size: int = config_field(2, ge=1)
    """Instances per size (fixed seeds)."""
    shutdown_probs: list[float] = config_field([0.0, 0.05, 0.1], ge=0, lt=1, min_len=1)
    """Shutdown probabilities evaluated."""
    seeds: int = config_field(2, ge=1)
    """Disruption seeds per (instance, probability)."""
    first_seed: int = config_field(10_000, ge=0)
    """Instance seeds start here (a selection set after training takes other instances:
    ``bench/jobshop_select.py``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, size in enumerate(self.sizes):
            if len(size) != 2:
                raise invalid(self, f"sizes[{i}] must be [jobs, machines], got {size}")


@dataclasses.dataclass
class JobshopTrainConfig(Config):
    """Everything `rlsys jobshop train` needs (YAML: configs/jobshop/*.yaml)."""

    instances: InstanceDistribution = dataclasses.field(default_factory=InstanceDistribution)
    validation: ValidationConfig = dataclasses.field(default_factory=ValidationConfig)
    policy: PolicyConfig = dataclasses.field(default_factory=PolicyConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
    init_weights: str | None = None
    """start from this policy's weights ('pretrained' or a *.pt of the same width) instead
    of a fresh initialisation (None); the file's decision model may differ from the
    config's (a non-delay policy is a fair start for the reserve model), and a file with
    fewer layers or without the machine-load features starts as it acts
    (``load_initial_weights``)"""


def make_env(
    dist: InstanceDistribution,
    episode_seed: int,
    teacher: TeacherConfig | None = None,
    decisions: str = "non_delay",
) -> ISBJSSPEnv:
    """The environment of one training episode (a fresh instance per episode) in the
    policy's decision model, its observations labelled by the planning teacher when
    ``teacher.policy`` is set."""
    inst, p = dist.sample(episode_seed)
    load = float(inst.times.sum()) / inst.n_machines
    env = ISBJSSPEnv(inst, shutdown_prob=p, reward_scale=1.0 / load, decisions=decisions)
    if teacher is not None and teacher.policy is not None:
        return TeacherLabels(env, teacher, seed=episode_seed)
    return env


def make_policy(cfg: PolicyConfig, imitation_coef: float = 0.0) -> JobShopGNNPolicy:
    return JobShopGNNPolicy(
        hidden=cfg.hidden,
        layers=cfg.layers,
        imitation_coef=imitation_coef,
        decisions=cfg.decisions,
        machine_load=cfg.machine_load,
    )


def load_initial_weights(policy: JobShopGNNPolicy, source: str) -> None:
    """Copy the weights of a job-shop policy file ('pretrained' or a path) into ``policy``
    (one-line ``ValueError`` when its size differs from the config's).

    Two ways to grow a trained network keep it acting as the file does at the start:

    - a file without the machine-load features may start a policy with them: the
      encoder's columns for the new features start at zero;
    - a file with fewer layers (same width) may start a deeper policy (``deepen``): the
      new layers go on top and start as the identity."""
    from rlsys.jobshop.policies import learned_policy

    init = learned_policy(source, "init_weights")
    if init.config.hidden != policy.config.hidden or init.config.layers > policy.config.layers:
        raise ValueError(
            f"init_weights {source}: a policy of hidden {init.config.hidden}, layers "
            f"{init.config.layers}; the config's is hidden {policy.config.hidden}, layers "
            f"{policy.config.layers} (a file may start a deeper policy of its width, no other)"
        )
    state = init.state_dict()
    if init.config.machine_load != policy.config.machine_load:
        if init.config.machine_load:
            raise ValueError(
                f"init_weights {source}: a policy with the machine-load features; the "
                "config's has none (policy.machine_load: false)"
            )
        weight = state["encoder.0.weight"]
        extra = policy.encoder[0].in_features - weight.size(1)
        state["encoder.0.weight"] = torch.cat([weight, weight.new_zeros(weight.size(0), extra)], 1)
    if init.config.layers < policy.config.layers:
        state = deepen(state, init.config.layers, policy)
    policy.load_state_dict(state)


def deepen(state: dict, layers: int, policy: JobShopGNNPolicy) -> dict:
    """``state`` of a ``layers``-layer policy -> a state dict for the deeper ``policy``
    whose extra layers, on top of the file's, start as the identity (up to LayerNorm's
    epsilon: on `pretrained-large` grown to 7 layers the logits move by at most 1e-5,
    the same argmax; the test holds them to 1e-4).

    A layer computes ``norm(h + relu(conv(h)))``. Each new conv starts with a zero last
    weight and the same positive bias in every channel: its output is that constant, and
    LayerNorm removes a constant added to every channel, so the layer only normalises
    ``h``. The bias is positive so that ReLU passes gradients from the first step (a zero
    output would stop them). The file's last LayerNorm hands its scale and shift to the new
    top one and becomes a plain normalisation: what reaches the new layers is already
    normalised, so normalising it again changes nothing, and the top one rescales as the
    file's did. The new convs' other weights keep ``policy``'s random initialisation."""
    state = dict(state)
    fresh = policy.state_dict()
    last, top = layers - 1, policy.config.layers - 1
    for k in range(layers, top + 1):
        for key, value in fresh.items():
            if key.startswith((f"convs.{k}.", f"norms.{k}.")):
                state[key] = value.clone()
        weight = state[f"convs.{k}.mlp.2.weight"]
        state[f"convs.{k}.mlp.2.weight"] = torch.zeros_like(weight)
        state[f"convs.{k}.mlp.2.bias"] = torch.full_like(state[f"convs.{k}.mlp.2.bias"], 0.1)
        state[f"convs.{k}.eps"] = torch.zeros_like(state[f"convs.{k}.eps"])
    state[f"norms.{top}.weight"] = state[f"norms.{last}.weight"]
    state[f"norms.{top}.bias"] = state[f"norms.{last}.bias"]
    state[f"norms.{last}.weight"] = torch.ones_like(state[f"norms.{last}.weight"])
    state[f"norms.{last}.bias"] = torch.zeros_like(state[f"norms.{last}.bias"])
    for k in range(layers, top):  # between: plain normalisations
        state[f"norms.{k}.weight"] = torch.ones_like(state[f"norms.{k}.weight"])
        state[f"norms.{k}.bias"] = torch.zeros_like(state[f"norms.{k}.bias"])
    return state


def validation_set(cfg: ValidationConfig) -> list[tuple[Instance, float, int]]:
    cases = []
    for n, m in cfg.sizes:
        for i in range(cfg.instances_per_size):
            inst = random_instance(n, m, seed=cfg.first_seed + 100 * n + 10 * m + i)
            for p in cfg.shutdown_probs:
                for s in range(cfg.seeds):
                    cases.append((inst, float(p), s))
    return cases


class Validator:
    """Greedy policy vs MWKR on the fixed validation set (same disruption paths)."""

    def __init__(self, cfg: ValidationConfig) -> None:
        from rlsys.jobshop.rules import make_rule

        self.cases = validation_set(cfg)
        mwkr = make_rule("MWKR")
        self.mwkr = np.array([run_episode(i, mwkr, p, s).makespan for i, p, s in self.cases])

    def makespans(self, policy) -> np.ndarray:
        """The greedy policy's makespan on every case, in the order of ``self.cases``."""
        from rlsys.jobshop.policies import GNNDispatcher

        was_training = policy.training
        policy.eval()
        choose = GNNDispatcher(policy)
        ms = np.array([run_episode(i, choose, p, s).makespan for i, p, s in self.cases])
        policy.train(was_training)
        return ms

    def __call__(self, policy, update: int) -> dict:
        ms = self.makespans(policy)
        return {
            "val/makespan": float(ms.mean()),
            "val/mwkr_makespan": float(self.mwkr.mean()),
            "val/ratio_to_mwkr": float((ms / self.mwkr).mean()),
        }


def make_trainer(
    cfg: JobshopTrainConfig,
    run_dir: Path,
    evaluate_fn,
    resume: bool = False,
    progress: bool = True,
):
    """The ``Trainer`` of a job-shop run (``rlsys jobshop train`` and the tuner's trials)."""
    from rlsys.rl.trainer import Trainer

    teacher = cfg.teacher if cfg.teacher.policy is not None else None
    trainer = Trainer(
        cfg.train,
        env_fn=functools.partial(
            make_env, cfg.instances, teacher=teacher, decisions=cfg.policy.decisions
        ),
        policy_fn=functools.partial(
            make_policy, cfg.policy, imitation_coef=cfg.teacher.coef if teacher else 0.0
        ),
        run_dir=run_dir,
        evaluate_fn=evaluate_fn,
        policy_kwargs=dataclasses.asdict(cfg.policy),
        resume=resume,
        progress=progress,
    )
    if cfg.init_weights is not None and not resume:
        # the learner's copy only: the trainer sends its weights to the rollout workers
        load_initial_weights(trainer.policy, cfg.init_weights)
    return trainer


def train(
    cfg: JobshopTrainConfig, run_dir: Path, resume: bool = False, progress: bool = True
) -> dict:
    trainer = make_trainer(cfg, run_dir, Validator(cfg.validation), resume, progress)
    return trainer.train()
