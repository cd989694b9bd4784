"""PPO, shared by every workload: the config, GAE, the clipped loss and the learner.

Follows CleanRL's ``ppo.py`` (same formulas, same stats), but as functions that the
job-shop, CommFormer and PARL trainers import instead of copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass
class PPOConfig:
    """PPO hyperparameters (CleanRL's names and defaults unless stated)."""

    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """lambda of generalised advantage estimation"""
    clip_coef: float = 0.2
    """policy ratio clip range: ratios outside [1 - c, 1 + c] get no gradient"""
    clip_vloss: bool = True
    """clip the value update to clip_coef around the old value (CleanRL's clipped value loss)"""
    vf_coef: float = 0.5
    """weight of the value loss"""
    ent_coef: float = 0.01
    """weight of the entropy bonus"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    learning_rate: float = 2.5e-4
    """Adam learning rate (at the start of training when anneal_lr)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    update_epochs: int = 4
    """passes over each batch"""
    minibatch_size: int = 256
    """samples (env steps) per minibatch; a batch is split into ceil(n / size) equal parts"""
    norm_adv: bool = True
    """normalise advantages to zero mean, unit std within each minibatch"""
    target_kl: float | None = None
    """stop the epochs of an update early once approx_kl exceeds this (None = never)"""
    vloss_type: str = "mse"
    """value error: 'mse' (0.5 * squared error, CleanRL) or 'huber' (smooth L1, delta 1)"""
    adam_eps: float = 1e-5
    """Adam epsilon (CleanRL uses 1e-5 rather than torch's 1e-8)"""


def compute_gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Generalised advantage estimation, backwards over time.

    Shapes: ``rewards``, ``values``, ``dones`` are [T] (one trajectory) or [T, N] (N
    trajectories side by side); ``last_value`` is a scalar or [N]. numpy in -> numpy out,
    torch in -> torch out (no gradient).

    ``dones[t]`` = the episode terminated after step t: nothing is bootstrapped past it
    (and with [T, N] arrays the next row starts a new episode). ``last_value`` is the value
    of the observation after the last step; it is used unless ``dones[T-1]``, so a
    truncated trajectory (time limit, or a rollout cut mid-episode) is bootstrapped and a
    terminated one is not. Pass ``last_value = 0`` for a terminal end.

    Returns ``(advantages, returns)``, each shaped like ``rewards``; returns = adv + values.
    """
    is_torch = isinstance(rewards, torch.Tensor)
    if is_torch:
        rewards, values = rewards.detach(), values.detach()
        dtype = torch.promote_types(rewards.dtype, values.dtype)
        rewards, values = rewards.to(dtype), values.to(dtype)
        not_done = 1.0 - torch.as_tensor(dones, device=rewards.device).to(dtype)
        next_value = torch.as_tensor(last_value, dtype=dtype, device=rewards.device)
        advantages = torch.zeros_like(rewards)
    else:
        rewards = np.asarray(rewards, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64)
        not_done = 1.0 - np.asarray(dones, dtype=np.float64)
        next_value = np.asarray(last_value, dtype=np.float64)
        advantages = np.zeros_like(rewards)
    next_advantage = 0.0
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * next_value * not_done[t] - values[t]
        next_advantage = delta + gamma * lam * not_done[t] * next_advantage
        advantages[t] = next_advantage
        next_value = values[t]
    return advantages, advantages + values


def ppo_loss(
    new_logp: torch.Tensor,
    old_logp: torch.Tensor,
    advantages: torch.Tensor,
    new_values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    entropy: torch.Tensor,
    cfg: PPOConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The PPO objective on one minibatch; every argument is [B].

    loss = clipped policy loss + vf_coef * value loss - ent_coef * entropy.
    Stats (floats): policy_loss, value_loss, entropy, approx_kl (CleanRL's unbiased
    estimator mean((r - 1) - log r)), clipfrac (share of samples with |r - 1| > clip_coef).
    """
    logratio = new_logp - old_logp
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean()

    if cfg.norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
    policy_loss = torch.max(pg_loss1, pg_loss2).mean()

    def value_error(v: torch.Tensor) -> torch.Tensor:
        if cfg.vloss_type == "huber":
            return nn.functional.smooth_l1_loss(v, returns, reduction="none")
        return 0.5 * (v - returns) ** 2

    if cfg.clip_vloss:
        v_clipped = old_values + torch.clamp(new_values - old_values, -cfg.clip_coef, cfg.clip_coef)
        value_loss = torch.max(value_error(new_values), value_error(v_clipped)).mean()
    else:
        value_loss = value_error(new_values).mean()

    entropy_mean = entropy.mean()
    loss = policy_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * value_loss
    stats = {
        "policy_loss": policy_loss.item(),
        "value_loss": value_loss.item(),
        "entropy": entropy_mean.item(),
        "approx_kl": approx_kl.item(),
        "clipfrac": clipfrac.item(),
    }
    return loss, stats


class PPOLearner:
    """Owns the policy's Adam optimizer and runs the PPO minibatch epochs.

    ``policy`` follows the ``ActorCritic`` protocol (``rlsys.rl.policy``); ``seed`` seeds
    the minibatch shuffling (its state is in ``generator``, saved in checkpoints).
    """

    def __init__(self, policy: nn.Module, cfg: PPOConfig, seed: int = 0) -> None:
        self.policy = policy
        self.cfg = cfg
        self.optimizer = torch.optim.Adam(
            policy.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps
        )
        self.generator = torch.Generator().manual_seed(seed)

    def update(self, batch: Any, progress_fraction: float = 0.0) -> dict[str, float]:
        """One PPO update on ``batch``; returns mean stats over the minibatches.

        batch: anything with ``obs`` (list of S raw observations) and numpy/torch arrays
            [S] ``actions``, ``logp``, ``values``, ``advantages``, ``returns``
            (a ``RolloutBatch``).
        progress_fraction: share of training done before this update, in [0, 1); the
            learning rate is ``learning_rate * (1 - progress_fraction)`` when anneal_lr.
        """
        cfg = self.cfg
        lr = cfg.learning_rate * (1.0 - progress_fraction) if cfg.anneal_lr else cfg.learning_rate
        for group in self.optimizer.param_groups:
            group["lr"] = lr

        device = next(self.policy.parameters()).device

        def tensor(x: Any, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)

        actions = tensor(batch.actions, torch.long)
        old_logp = tensor(batch.logp, torch.float32)
        old_values = tensor(batch.values, torch.float32)
        advantages = tensor(batch.advantages, torch.float32)
        returns = tensor(batch.returns, torch.float32)
        n = len(actions)
        n_minibatches = max(1, math.ceil(n / cfg.minibatch_size))

        self.policy.train()
        totals: dict[str, float] = {}
        n_steps = 0
        epochs_run = 0
        for _epoch in range(cfg.update_epochs):
            epochs_run += 1
            order = torch.randperm(n, generator=self.generator).to(device)
            for idx in torch.tensor_split(order, n_minibatches):
                mb_obs = [batch.obs[i] for i in idx.tolist()]
                new_logp, entropy, new_values = self.policy.evaluate(mb_obs, actions[idx])
                loss, stats = ppo_loss(
                    new_logp,
                    old_logp[idx],
                    advantages[idx],
                    new_values,
                    old_values[idx],
                    returns[idx],
                    entropy,
                    cfg,
                )
                self.optimizer.zero_grad()
                loss.backward()
                stats["grad_norm"] = float(
                    nn.utils.clip_grad_norm_(self.policy.parameters(), cfg.max_grad_norm)
                )
                self.optimizer.step()
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v
                n_steps += 1
            # CleanRL's early stop: judged on the last minibatch of the epoch.
            if cfg.target_kl is not None and stats["approx_kl"] > cfg.target_kl:
                break

        out = {k: v / n_steps for k, v in totals.items()}
        var_returns = returns.var().item() if n > 1 else 0.0
        out["explained_variance"] = (
            float("nan")
            if var_returns == 0
            else 1.0 - (returns - old_values).var().item() / var_returns
        )
        out["learning_rate"] = lr
        out["epochs"] = float(epochs_run)
        return out
