"""A planning teacher for training: the lookahead planner's choices, distilled into the
one-pass policy.

``rollout:N`` over a policy (``planning.py``) schedules 10-17 % better than the policy
itself, at a whole greedy completion per candidate and decision. Training can pay that
cost once so that the plain policy need not pay it per decision: a rollout worker's
episode is wrapped in ``TeacherLabels``, which asks the teacher planner about each state
the *learner's* policy visits (DAgger's state distribution, not the teacher's) and puts
its answer in the observation (``teacher_target``: 1 / ties on the candidates with the
best rollout score, or a softmax of the scores; 0 on jobs that cannot move).
``imitation_loss`` is the cross-entropy of the policy against it, added to PPO's loss with
weight ``TeacherConfig.coef`` (kickstarting, with a planner instead of a fixed teacher
policy as the target).

The teacher never sees the episode's true future: under shutdowns it scores candidates by
rollouts against its own sampled futures (``RolloutPlanner``), from a stream seeded by the
episode seed, so the labels are reproducible and a resumed run gets the same ones.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from rlsys.config import Config, config_field

TARGET_KEY = "teacher_target"
_LABEL_TAG = 0x4C41424C


@dataclasses.dataclass
class TeacherConfig(Config):
    """Distillation of a planning teacher into the policy (off by default)."""

    policy: str | None = None
    """the teacher's policy: 'pretrained', a policy file (*.pt), or None (no teacher)"""
    rollouts: int = config_field(4, ge=1)
    """sampled futures per candidate under shutdowns (at p = 0 one greedy completion)"""
    coef: float = config_field(1.0, ge=0)
    """weight of the cross-entropy to the teacher's choice in the loss"""
    temperature: float = config_field(0.0, ge=0)
    """0: the target is the best-scoring candidates (ties shared); > 0: a softmax of the
    candidates' scores, exp(-(score - best) / (temperature x best)), so a candidate 1 %
    worse than the best gets weight exp(-0.01 / temperature)"""
    label_fraction: float = config_field(1.0, gt=0, le=1)
    """share of decisions the teacher labels (its cost is a greedy completion per candidate
    and future, so labelling fewer decisions buys more episodes per hour)"""


class TeacherLabels(gym.Wrapper):
    """Adds ``obs[TARGET_KEY]`` ([n_jobs] float32, sums to 1, or all 0 when unlabelled) to
    every observation of an ``ISBJSSPEnv`` episode: the teacher planner's choice there."""

    def __init__(self, env, cfg: TeacherConfig, seed: int) -> None:
        from rlsys.jobshop.planning import RolloutPlanner
        from rlsys.jobshop.policies import learned_policy

        super().__init__(env)
        # at p = 0 only the greedy completion scores a candidate: more copies are waste
        n = cfg.rollouts if env.unwrapped.shutdown_prob > 0 else 1
        teacher = learned_policy(cfg.policy, "teacher.policy")
        if teacher.config.decisions != env.unwrapped.decisions:
            # its rollouts run in the env's model, where the teacher was never trained
            raise ValueError(
                f"teacher.policy {cfg.policy} acts in the {teacher.config.decisions} decision "
                f"model, the training env in {env.unwrapped.decisions}"
            )
        self.planner = RolloutPlanner(teacher, n, seed=seed)
        self.fraction, self.temperature = cfg.label_fraction, cfg.temperature
        self.rng = np.random.default_rng([seed, _LABEL_TAG])

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self._label(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._label(obs), reward, terminated, truncated, info

    def _label(self, obs: dict) -> dict:
        sim = self.env.unwrapped.sim
        target = np.zeros(sim.n_jobs, dtype=np.float32)
        candidates = sim.candidates if not sim.done else []
        # the draw happens for every decision, so which ones are labelled does not
        # depend on the teacher's answers
        if len(candidates) > 1 and self.rng.random() < self.fraction:
            self.planner(sim, candidates)
            jobs = np.fromiter(self.planner.last_scores, dtype=np.int64)
            scores = np.fromiter(self.planner.last_scores.values(), dtype=np.float64)
            best = scores.min()
            if self.temperature > 0 and np.isfinite(best):  # inf: every rollout deadlocked
                weights = np.exp(-(scores - best) / (self.temperature * best))
            else:
                weights = (scores == best).astype(np.float64)
            target[jobs] = weights / weights.sum()
        obs[TARGET_KEY] = target
        return obs


def imitation_loss(logits: Tensor, mask: Tensor, obs: list[dict]) -> Tensor | None:
    """Mean cross-entropy of the masked policy ``logits`` [B, n_max] against the teacher
    targets of ``obs`` over the labelled rows (None when no row is labelled)."""
    targets = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(o[TARGET_KEY]) for o in obs], batch_first=True
    ).to(logits.device)  # [B, n_max]: every graph has one candidate slot per job
    labelled = targets.sum(-1) > 0
    if not labelled.any():
        return None
    logp = torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)
    # the teacher only picks legal jobs; 0 * -inf elsewhere must not become nan
    per_row = -torch.where(targets > 0, targets * logp, torch.zeros_like(logp)).sum(-1)
    return per_row[labelled].mean()
