"""PARL and its PEBBLE-style baseline on continuous-control tasks, on the shared core.

One loop for every method: the shared ``Trainer`` (Ray rollout actors, checkpoints,
TensorBoard, resume) drives a ``PreferenceLearner``, which is SAC (``rlsys.rl.sac``)
whose reward comes from a learned reward model, plus a feedback round every
``feedback_every`` updates until the query budget is spent:

1. candidates: pairs of length-L segments, ``reward.candidates`` per query asked.
   parl draws them from its on-policy window, the newest episodes covering
   ``hypergradient.rollout_steps`` env steps (the recent policy: the upper objective's
   distribution is rho(theta*(nu)); T2 averages over the same window); pebble from
   every stored episode (replayed data, as PEBBLE);
2. the queries with the most ensemble disagreement (``reward.selection``) go to the
   scripted teacher (``rlsys.parl.teachers``), which sees the true rewards;
3. the ensemble is refitted by Bradley-Terry on all labels so far (T1); parl adds the
   T2 surrogate (``rlsys.parl.hypergrad``: the query distribution moves with nu),
   unless ``first_order``;
4. the whole replay buffer is relabelled with the new reward model.

With ``unsupervised_steps`` (PEBBLE's unsupervised pre-training) the rounds start only
after that many env steps, during which SAC maximises a k-nearest-neighbour estimate of
the state entropy instead (exploration before any label is spent); the critics are reset
when it ends.

Between rounds the lower level takes SAC steps (``sac.updates_per_step`` per env step,
K = feedback_every updates' worth). ``oracle`` skips feedback and learns from the true
reward (the upper bound). The logged ``charts/episodic_return`` is always the true
return; ``losses/queries`` counts the labels used.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import gymnasium as gym
import numpy as np
import torch

from rlsys.config import Config, config_field, invalid
from rlsys.parl.hypergrad import t2_surrogate, t2_weights
from rlsys.parl.reward_model import (
    RewardLearner,
    RewardModelConfig,
    preference_probability,
    select_queries,
)
from rlsys.parl.tabular import trust_scale
from rlsys.parl.teachers import Teacher, TeacherConfig
from rlsys.rl.rollout import GymEnvFn
from rlsys.rl.sac import SACConfig, SACLearner, SquashedGaussianActor, state_entropy_reward
from rlsys.rl.trainer import RolloutConfig, TrainConfig

TASKS = {
    "pendulum": "Pendulum-v1",
    "reacher": "Reacher-v5",
    "cheetah": "HalfCheetah-v5",
    "walker": "envs.preference.dmc:rlsys/dmc-walker-walk-v0",
}
"""task name -> gymnasium id (reacher, cheetah: gymnasium's MuJoCo envs; walker: DM Control's
walker-walk through ``envs.preference.dmc``, 1,000-step episodes)"""
METHODS = ("parl", "pebble", "oracle")
ENTROPY_K = 5  # PEBBLE's k for the state-entropy reward
ENTROPY_REFERENCE = 1024  # buffer states the k nearest neighbours are searched among


@dataclass
class HypergradConfig(Config):
    """A-PARL's T2 term (see ``rlsys.parl.hypergrad``)."""

    first_order: bool = False
    """drop T2 (reward learning on the on-policy queries only)"""
    damping: float = config_field(0.1, gt=0)
    """added to the Fisher matrix before the CG solve"""
    cg_iterations: int = config_field(10, ge=1)
    """conjugate-gradient iterations"""
    coef: float = config_field(1.0, ge=0)
    """weight of T2 against T1 (variance control; 1 = the hypergradient)"""
    trust_ratio: float = config_field(1.0, gt=0)
    """trust region: T2's gradient norm is scaled down to at most this multiple of T1's
    (at the start of each fit)"""
    pairs: Literal["on_policy", "mixed"] = "on_policy"
    """parl's query pairs: 'on_policy', both segments from the on-policy window (the
    upper objective's distribution); 'mixed', the first from the window and the second
    from every stored episode, so each label compares the current policy with earlier
    behaviour (Bradley-Terry is blind to a reward offset shared by both segments of a
    pair, so on-policy pairs cannot tell new behaviour from old); T2 then scores only
    the on-policy segment, the other's distribution does not move with nu"""
    rollout_steps: int = config_field(1000, ge=1)
    """parl's on-policy window: its queries are drawn from, and the surrogate
    g(theta, nu) averages over, the newest whole episodes covering this many env steps
    (at least the batch just collected)"""


@dataclass
class PARLTrainConfig(TrainConfig):
    """``TrainConfig`` with PARL's defaults: SAC, one rollout actor, one episode each."""

    algorithm: Literal["ppo", "sac"] = "sac"
    """must be 'sac' (the lower level)"""
    total_updates: int = config_field(50, ge=1)
    """updates (one collected episode each by default)"""
    checkpoint_every: int = config_field(5, ge=0)
    """checkpoint every this many updates"""
    eval_every: int = config_field(5, ge=0)
    """deterministic true-return evaluation every this many updates"""
    sac: SACConfig = field(default_factory=lambda: SACConfig(learning_starts=1000))
    """SAC hyperparameters"""
    rollout: RolloutConfig = field(
        default_factory=lambda: RolloutConfig(
            num_workers=1, envs_per_worker=1, episodes_per_request=1
        )
    )
    """rollout actors"""


@dataclass
class PARLConfig(Config):
    """A PARL / PEBBLE / oracle run on a gymnasium continuous-control task."""

    task: Literal["pendulum", "reacher", "cheetah", "walker"] = "pendulum"
    """the task (gymnasium id in rlsys.parl.train.TASKS)"""
    method: Literal["parl", "pebble", "oracle"] = "parl"
    """parl (on-policy queries + T2), pebble (replayed queries, T1), oracle (true reward)"""
    queries: int = config_field(200, ge=0)
    """feedback budget: labels the teacher gives over the run"""
    queries_per_feedback: int = config_field(20, ge=1)
    """labels per feedback round"""
    feedback_every: int = config_field(2, ge=1)
    """updates (collected batches) between feedback rounds: the K lower-level steps"""
    segment_length: int = config_field(25, ge=1)
    """steps per segment shown to the teacher"""
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    """the scripted teacher"""
    reward: RewardModelConfig = field(default_factory=RewardModelConfig)
    """the reward ensemble"""
    hypergradient: HypergradConfig = field(default_factory=HypergradConfig)
    """parl's T2 term"""
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 128])
    """the actor's hidden layers"""
    eval_episodes: int = config_field(5, ge=1)
    """deterministic episodes with the true reward per evaluation"""
    unsupervised_steps: int = config_field(0, ge=0)
    """PEBBLE's unsupervised pre-training: for the first this many env steps SAC learns
    from the state-entropy reward (``rlsys.rl.sac.state_entropy_reward``) and no label is
    asked; then the critics are reset, the first feedback round runs and the buffer is
    relabelled. 0 = off; parl and pebble alike; the oracle ignores it"""
    device: str = "cpu"
    """learner device: cpu, cuda or auto"""
    train: PARLTrainConfig = field(default_factory=PARLTrainConfig)
    """loop, SAC and rollout settings (train.algorithm must be 'sac')"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.train.algorithm != "sac":
            raise invalid(self, f"train.algorithm must be 'sac', got {self.train.algorithm!r}")


@functools.cache
def env_spec(task: str) -> dict:
    """obs_dim, act_dim, action bounds and episode length of a task (builds it once per
    process; callers must not change the dict)."""
    if task not in TASKS:
        raise ValueError(f"unknown PARL task {task!r}: one of {', '.join(TASKS)}")
    try:
        env = gym.make(TASKS[task])
    except (ImportError, gym.error.DependencyNotInstalled) as exc:
        raise ValueError(f"task {task!r} needs an optional package: {exc}") from None
    spec = {
        "obs_dim": int(np.prod(env.observation_space.shape)),
        "act_dim": int(np.prod(env.action_space.shape)),
        "action_low": env.action_space.low.astype(float).tolist(),
        "action_high": env.action_space.high.astype(float).tolist(),
        "episode_steps": int(env.spec.max_episode_steps),
    }
    env.close()
    return spec


def check_budget(cfg: PARLConfig, spec: dict) -> None:
    """Queries must fit the sample budget (at most one label per env step collected), and
    a segment must fit in an episode."""
    r = cfg.train.rollout
    steps = cfg.train.total_updates * r.num_workers * r.episodes_per_request * spec["episode_steps"]
    if cfg.segment_length > spec["episode_steps"]:
        raise ValueError(
            f"segment length {cfg.segment_length} is longer than a {cfg.task} episode "
            f"({spec['episode_steps']} steps)"
        )
    if cfg.method != "oracle" and cfg.unsupervised_steps >= steps:
        raise ValueError(
            f"unsupervised pre-training of {cfg.unsupervised_steps} env steps leaves none of "
            f"the sample budget of {steps} for feedback"
        )
    if cfg.method != "oracle" and cfg.queries > steps:
        raise ValueError(
            f"{cfg.queries} queries is more than the sample budget of {steps} env steps"
        )


class PreferenceLearner(SACLearner):
    """SAC on a learned reward, with feedback rounds (see the module docstring)."""

    def __init__(self, actor: SquashedGaussianActor, cfg: PARLConfig, seed: int = 0) -> None:
        self.parl = cfg
        self.oracle = cfg.method == "oracle"
        self.rewards = RewardLearner(actor.obs_dim, actor.act_dim, cfg.reward, seed=seed + 1)
        super().__init__(
            actor, cfg.train.sac, seed, reward_fn=None if self.oracle else self.model_reward
        )
        self.teacher = Teacher(cfg.teacher, seed=seed + 2)
        self.query_generator = torch.Generator().manual_seed(seed + 3)
        self.queries_asked = 0
        # whole episodes (obs [T, d], actions [T, A], true rewards [T]) for pebble's
        # replayed candidates, at most a buffer's worth of steps
        self.episodes: deque = deque()
        self.last_feedback: dict[str, float] = {}
        self.pretrained = self.oracle or cfg.unsupervised_steps == 0
        self._set_pretraining_reward()

    def _set_pretraining_reward(self) -> None:
        self.minibatch_reward = None if self.pretrained else self.entropy_reward

    def entropy_reward(self, mb: dict) -> torch.Tensor:
        """Pre-training reward of a minibatch: the state entropy of its next states
        against a random sample of the buffer, divided by its standard deviation (PEBBLE
        normalises by a running one; per minibatch keeps the learner stateless)."""
        n = min(ENTROPY_REFERENCE, self.buffer.size)
        idx = torch.randint(0, self.buffer.size, (n,), generator=self.generator)
        reference = self.buffer.next_obs[idx].to(mb["next_obs"].device)
        r = state_entropy_reward(mb["next_obs"], reference, ENTROPY_K)
        return r / (r.std() + 1e-8)

    def model_reward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.rewards.model.reward(obs, actions)

    # ---------------------------------------------------------------- the loop
    def update(self, batch, progress_fraction: float = 0.0) -> dict[str, float]:
        episodes = self._split(batch)
        self.episodes.extend(episodes)
        while sum(len(e[2]) for e in self.episodes) > self.cfg.buffer_size:
            self.episodes.popleft()
        stats: dict[str, float] = {}
        due = self.updates % self.parl.feedback_every == 0
        if (
            not self.pretrained
            and self.buffer.added + batch.env_steps > self.parl.unsupervised_steps
        ):
            # pre-training ends: fresh critics, and the first feedback round now
            self.pretrained, due = True, True
            self._set_pretraining_reward()
            self.reset_critics()
        if self.pretrained and not self.oracle and due and self.queries_asked < self.parl.queries:
            self.last_feedback = self.feedback(episodes)
        stats.update(super().update(batch, progress_fraction))
        stats["pretraining"] = float(not self.pretrained)
        stats.update(self.last_feedback)
        stats["queries"] = float(self.queries_asked)
        return stats

    @staticmethod
    def _split(batch) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        out, start = [], 0
        obs = np.stack(batch.obs).astype(np.float32)
        actions = np.asarray(batch.actions, dtype=np.float32).reshape(len(obs), -1)
        for length in batch.episode_lengths.tolist():
            sl = slice(start, start + length)
            out.append((obs[sl], actions[sl], np.asarray(batch.rewards[sl], dtype=np.float64)))
            start += length
        return out

    def _segments(self, episodes: list, n: int) -> tuple[np.ndarray, ...]:
        """n random segments (obs [n, L, d], actions [n, L, A], true rewards [n, L])."""
        length = self.parl.segment_length
        usable = [e for e in episodes if len(e[2]) >= length]
        pick = torch.randint(0, len(usable), (n,), generator=self.query_generator).tolist()
        obs, act, rew = [], [], []
        for i in pick:
            o, a, r = usable[i]
            s = int(torch.randint(0, len(r) - length + 1, (1,), generator=self.query_generator))
            obs.append(o[s : s + length])
            act.append(a[s : s + length])
            rew.append(r[s : s + length])
        return np.stack(obs), np.stack(act), np.stack(rew)

    def feedback(self, fresh: list) -> dict[str, float]:
        """One feedback round: candidates, selection, labels, reward fit, relabel."""
        cfg = self.parl
        n = min(cfg.queries_per_feedback, cfg.queries - self.queries_asked)
        source = self.on_policy_window(fresh) if cfg.method == "parl" else list(self.episodes)
        mixed = cfg.method == "parl" and cfg.hypergradient.pairs == "mixed"
        candidates = n * cfg.reward.candidates
        o0, a0, r0 = self._segments(source, candidates)
        o1, a1, r1 = self._segments(list(self.episodes) if mixed else source, candidates)
        t = functools.partial(torch.as_tensor, dtype=torch.float32)
        with torch.no_grad():
            probs = preference_probability(self.rewards.model, t(o0), t(a0), t(o1), t(a1))
        idx = select_queries(probs, n, cfg.reward.selection, self.query_generator).numpy()
        labels = self.teacher.label(r0[idx], r1[idx])
        self.rewards.data.add(o0[idx], a0[idx], o1[idx], a1[idx], labels)
        self.queries_asked += n

        extra_loss = None
        stats: dict[str, float] = {}
        hg = cfg.hypergradient
        if cfg.method == "parl" and not hg.first_order and hg.coef > 0:
            segments = (t(o0[idx]), t(a0[idx]), t(o1[idx]), t(a1[idx]))
            extra_loss, stats = self._t2(
                source, *segments, labels, on_policy_segments=1 if mixed else 2
            )
        stats.update(self.rewards.fit(extra_loss))
        self.relabel(self.model_reward)
        return stats

    def on_policy_window(self, fresh: list) -> list:
        """The newest stored episodes covering ``hypergradient.rollout_steps`` env steps,
        and at least the ``fresh`` ones (the batch just collected)."""
        budget = self.parl.hypergradient.rollout_steps
        window, steps = [], 0
        for episode in reversed(self.episodes):
            if len(window) >= len(fresh) and steps >= budget:
                break
            window.append(episode)
            steps += len(episode[2])
        return window[::-1]

    def _t2(self, window: list, o0, a0, o1, a1, labels, on_policy_segments: int = 2) -> tuple:
        """The T2 surrogate for this round's fit, over the on-policy window; the score
        function covers the first ``on_policy_segments`` segments of each pair (2: both
        from the window; 1: the second was replayed)."""
        hg = self.parl.hypergradient
        keep = ~np.isnan(labels)
        if not keep.any():
            return None, {}
        y = torch.as_tensor(labels[keep], dtype=torch.float32)
        with torch.no_grad():  # U: the Bradley-Terry likelihood of the members' mean
            ret0 = self.rewards.model(o0[keep], a0[keep]).mean(0).sum(-1)
            diff = ret0 - self.rewards.model(o1[keep], a1[keep]).mean(0).sum(-1)
        utility = y * torch.nn.functional.logsigmoid(diff) + (1 - y) * (
            torch.nn.functional.logsigmoid(-diff)
        )
        obs = torch.as_tensor(np.concatenate([e[0] for e in window]), dtype=torch.float32)
        actions = torch.as_tensor(np.concatenate([e[1] for e in window]), dtype=torch.float32)
        starts = np.cumsum([0] + [len(e[2]) for e in window[:-1]]).tolist()
        seg_obs = torch.stack([o0[keep], o1[keep]][:on_policy_segments], 1)
        seg_act = torch.stack([a0[keep], a1[keep]][:on_policy_segments], 1)
        device = self.actor.device
        weights = t2_weights(
            self.actor, obs.to(device), actions.to(device), starts, seg_obs.to(device),
            seg_act.to(device), utility.to(device),
            gamma=self.cfg.gamma, damping=hg.damping, cg_iterations=hg.cg_iterations,
        )  # fmt: skip
        # the reward model (CPU) scores the same steps
        weights = dataclasses.replace(weights, c=weights.c.cpu(), obs=obs, actions=actions)
        scale = hg.coef * self._trust_scale(weights)

        def extra_loss(model) -> torch.Tensor:
            # minimising -G: the T2 part enters with a minus sign
            return -scale * t2_surrogate(model.reward, weights)

        return extra_loss, {"cg_residual": weights.cg_residual, "t2_scale": scale}

    def _trust_scale(self, weights) -> float:
        """``trust_scale`` of T2 against T1, both gradients over every labelled query."""
        params = list(self.rewards.model.parameters())
        t1 = torch.autograd.grad(self.rewards.label_loss(), params, allow_unused=True)
        t2 = torch.autograd.grad(
            t2_surrogate(self.rewards.model.reward, weights), params, allow_unused=True
        )

        def norm(grads) -> float:
            return float(torch.sqrt(sum((g**2).sum() for g in grads if g is not None)))

        return trust_scale(norm(t1), norm(t2), self.parl.hypergradient.trust_ratio)

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            **super().state_dict(),
            "rewards": self.rewards.state_dict(),
            "teacher_rng": self.teacher.rng.bit_generator.state,
            "query_generator": self.query_generator.get_state(),
            "queries_asked": self.queries_asked,
            "episodes": [
                [torch.as_tensor(o), torch.as_tensor(a), torch.as_tensor(r)]
                for o, a, r in self.episodes
            ],
            "last_feedback": dict(self.last_feedback),
            "pretrained": self.pretrained,
        }

    def load_state_dict(self, state: dict) -> None:
        self.rewards.load_state_dict(state["rewards"])
        super().load_state_dict(state)
        self.teacher.rng.bit_generator.state = state["teacher_rng"]
        self.query_generator.set_state(state["query_generator"])
        self.queries_asked = int(state["queries_asked"])
        self.episodes = deque((o.numpy(), a.numpy(), r.numpy()) for o, a, r in state["episodes"])
        self.last_feedback = dict(state["last_feedback"])
        self.pretrained = bool(state.get("pretrained", True))  # checkpoints from before it
        self._set_pretraining_reward()
        if not self.oracle:
            self.reward_fn = self.model_reward


class TrueReturn:
    """evaluate_fn: mean true return of the deterministic actor on fixed seeds."""

    def __init__(self, task: str, episodes: int) -> None:
        self.task, self.episodes = task, episodes

    def __call__(self, policy, update: int) -> dict[str, float]:
        env = gym.make(TASKS[self.task])
        total = 0.0
        for e in range(self.episodes):
            obs, _ = env.reset(seed=10_000 + e)
            done = False
            while not done:
                action, *_ = policy.act([obs], deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(action[0])
                total += float(reward)
                done = terminated or truncated
        env.close()
        return {"true_return": total / self.episodes}


def policy_kwargs(cfg: PARLConfig, spec: dict) -> dict:
    return {
        "obs_dim": spec["obs_dim"],
        "act_dim": spec["act_dim"],
        "action_low": spec["action_low"],
        "action_high": spec["action_high"],
        "hidden_sizes": list(cfg.hidden_sizes),
    }


def updates_for_steps(cfg: PARLConfig, steps: int, spec: dict) -> int:
    """Updates that collect at least ``steps`` env steps."""
    r = cfg.train.rollout
    per_update = r.num_workers * r.episodes_per_request * spec["episode_steps"]
    return max(1, -(-steps // per_update))


def _learner(cfg: PARLConfig, policy, train_cfg, seed: int) -> PreferenceLearner:
    return PreferenceLearner(policy, cfg, seed)


def make_trainer(cfg: PARLConfig, run_dir: Path, resume: bool = False, progress: bool = True):
    """The shared ``Trainer`` of a PARL run (``train`` and the Tune trainable use it)."""
    from rlsys.rl.trainer import Trainer

    spec = env_spec(cfg.task)
    check_budget(cfg, spec)
    kwargs = policy_kwargs(cfg, spec)
    return Trainer(
        cfg.train,
        env_fn=GymEnvFn(TASKS[cfg.task]),
        policy_fn=functools.partial(SquashedGaussianActor, **kwargs),
        run_dir=run_dir,
        evaluate_fn=TrueReturn(cfg.task, cfg.eval_episodes),
        policy_kwargs=kwargs,
        resume=resume,
        progress=progress,
        learner_fn=functools.partial(_learner, cfg),
        device=cfg.device,
        final_meta={"task": cfg.task, "method": cfg.method},
    )


def train(cfg: PARLConfig, run_dir: Path, resume: bool = False, progress: bool = True) -> dict:
    return make_trainer(cfg, run_dir, resume, progress).train()
