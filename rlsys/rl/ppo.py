"""PPO, shared by every workload: the config, GAE, the clipped loss and the learner.

Follows CleanRL's ``ppo.py`` (same formulas, same stats), but as functions that the
job-shop, CommFormer and PARL trainers import instead of copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn

from rlsys.config import Config, config_field


@dataclass
class PPOConfig(Config):
    """PPO hyperparameters (CleanRL's names and defaults unless stated)."""

    gamma: float = config_field(0.99, ge=0, le=1)
    """discount factor"""
    gae_lambda: float = config_field(0.95, ge=0, le=1)
    """lambda of generalised advantage estimation"""
    clip_coef: float = config_field(0.2, gt=0)
    """policy ratio clip range: ratios outside [1 - c, 1 + c] get no gradient"""
    clip_vloss: bool = True
    """clip the value update to clip_coef around the old value (CleanRL's clipped value loss)"""
    vf_coef: float = config_field(0.5, ge=0)
    """weight of the value loss"""
    ent_coef: float = config_field(0.01, ge=0)
    """weight of the entropy bonus"""
    max_grad_norm: float = config_field(0.5, gt=0)
    """global gradient-norm clip"""
    learning_rate: float = config_field(2.5e-4, gt=0)
    """Adam learning rate (at the start of training when anneal_lr)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over the run"""
    update_epochs: int = config_field(4, ge=1)
    """passes over each batch"""
    minibatch_size: int = config_field(256, ge=1)
    """samples (env steps) per minibatch; a batch is split into ceil(n / size) equal parts"""
    norm_adv: bool = True
    """normalise advantages to zero mean, unit std within each minibatch"""
    target_kl: float | None = config_field(None, gt=0)
    """stop the epochs of an update early once approx_kl exceeds this (None = never)"""
    vloss_type: Literal["mse", "huber"] = "mse"
    """value error: 'mse' (0.5 * squared error, CleanRL) or 'huber' (smooth L1, delta 1)"""
    adam_eps: float = config_field(1e-5, gt=0)
    """Adam epsilon (CleanRL uses 1e-5 rather than torch's 1e-8)"""


PPO_SETTINGS_PER_UPDATE = (
    "learning_rate", "ent_coef", "vf_coef", "clip_coef", "max_grad_norm",
    "update_epochs", "minibatch_size", "target_kl",
)  # fmt: skip
"""``PPOConfig`` fields the learner reads at every update (the learning rate is set on the
optimisers each update): a run continued from a checkpoint with other values uses them
from its next update (what the tuner's PBT relies on)."""


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


def batch_advantages(batch: Any, gamma: float, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE of every episode of a ``RolloutBatch`` (per agent for a team): (advantages,
    returns), float32, shaped like ``batch.rewards`` ([S] or [S, N]).

    Episodes are the contiguous runs of ``batch.episode_lengths``; a terminated episode
    bootstraps nothing, a truncated one its ``bootstrap_values`` entry.
    """
    rewards = np.asarray(batch.rewards, dtype=np.float64)
    values = np.asarray(batch.values, dtype=np.float64)
    advantages = np.zeros_like(rewards)
    start = 0
    for e, length in enumerate(np.asarray(batch.episode_lengths).tolist()):
        sl = slice(start, start + length)
        dones = np.zeros(rewards[sl].shape)
        dones[-1] = bool(batch.terminated[start + length - 1])
        advantages[sl], _ = compute_gae(
            rewards[sl],
            values[sl],
            dones,
            np.asarray(batch.bootstrap_values[e], dtype=np.float64),
            gamma,
            lam,
        )
        start += length
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


def value_error(values: torch.Tensor, returns: torch.Tensor, vloss_type: str) -> torch.Tensor:
    """Elementwise value loss: Huber (``vloss_type='huber'``) or half the squared error."""
    if vloss_type == "huber":
        return nn.functional.smooth_l1_loss(values, returns, reduction="none")
    return 0.5 * (values - returns) ** 2


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
    """The PPO objective on one minibatch; every argument is [B], except that the
    log-probabilities may be [B, F] for an action of F independent factors.

    loss = clipped policy loss + vf_coef * value loss - ent_coef * entropy.
    With factors, each factor has its own clipped ratio and the factors' surrogates are
    summed (at ratio 1 the gradient equals the joint ratio's, but noise in one factor no
    longer spends the clip range of the others).
    Stats (floats): policy_loss, value_loss, entropy, approx_kl (CleanRL's unbiased
    estimator mean((r - 1) - log r), summed over factors), clipfrac (share of samples, and
    factors, with |r - 1| > clip_coef).
    """
    logratio = new_logp - old_logp
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).reshape(len(ratio), -1).sum(-1).mean()
        clipfrac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean()

    if cfg.norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    if ratio.dim() == 2:
        advantages = advantages[:, None]
    pg_loss1 = -advantages * ratio
    pg_loss2 = -advantages * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
    policy_loss = torch.max(pg_loss1, pg_loss2).reshape(len(ratio), -1).sum(-1).mean()

    if cfg.clip_vloss:
        v_clipped = old_values + torch.clamp(new_values - old_values, -cfg.clip_coef, cfg.clip_coef)
        value_loss = torch.max(
            value_error(new_values, returns, cfg.vloss_type),
            value_error(v_clipped, returns, cfg.vloss_type),
        ).mean()
    else:
        value_loss = value_error(new_values, returns, cfg.vloss_type).mean()

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


class Learner(Protocol):
    """What the trainer drives: one update per batch, and its state for checkpoints.

    PPO (``PPOLearner``) is one; CommFormer's bilevel alternation is a ``PPOLearner``
    with two parameter groups. ``state_dict`` holds plain data and tensors only (saved
    with the run's checkpoints, loaded with ``weights_only=True``).
    """

    def update(self, batch: Any, progress_fraction: float = 0.0) -> dict[str, float]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class ParamGroup:
    """One optimiser of a ``PPOLearner``: its parameters, Adam settings and schedule."""

    name: str
    """key in stats (``grad_norm/<name>``) and checkpoints"""
    params: list[nn.Parameter]
    """the parameters this Adam steps (groups must not share parameters)"""
    learning_rate: float
    """Adam learning rate (annealed with the run when PPOConfig.anneal_lr)"""
    max_grad_norm: float | None = None
    """gradient-norm clip of this group (None: PPOConfig.max_grad_norm)"""
    steps_in: Callable[[int, int], bool] | None = None
    """steps_in(update, epoch) -> does this group step in that epoch of that update
    (0-based; None: every epoch). Epochs in which no group steps are skipped."""


class PPOLearner:
    """Runs the PPO minibatch epochs and owns the optimisers (implements ``Learner``).

    ``policy`` follows the ``ActorCritic`` protocol (``rlsys.rl.policy``). By default one
    Adam steps all its parameters; ``groups`` splits them into several optimisers with
    their own learning rate, clip and epoch schedule (every parameter of the policy must
    be in exactly one group). ``seed`` seeds the minibatch shuffling.

    Batches may be single-agent ([S] per-step arrays) or a team's ([S, N]); minibatches
    are drawn over the S steps and the loss averages over every (step, agent).
    """

    def __init__(
        self,
        policy: nn.Module,
        cfg: PPOConfig,
        seed: int = 0,
        groups: list[ParamGroup] | None = None,
    ) -> None:
        self.policy = policy
        self.cfg = cfg
        if groups is None:
            groups = [ParamGroup("policy", list(policy.parameters()), cfg.learning_rate)]
        grouped = [id(p) for g in groups for p in g.params]
        if len(grouped) != len(set(grouped)) or set(grouped) != {
            id(p) for p in policy.parameters()
        }:
            raise ValueError("PPOLearner groups must partition the policy's parameters")
        self.groups = groups
        self.optimizers = {
            g.name: torch.optim.Adam(g.params, lr=g.learning_rate, eps=cfg.adam_eps) for g in groups
        }
        self.generator = torch.Generator().manual_seed(seed)
        self.updates = 0
        """updates done (the ``update`` argument of ``ParamGroup.steps_in``)"""

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The first group's optimiser (the only one by default)."""
        return self.optimizers[self.groups[0].name]

    def state_dict(self) -> dict:
        return {
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "generator": self.generator.get_state(),
            "updates": self.updates,
        }

    def load_state_dict(self, state: dict) -> None:
        if set(state["optimizers"]) != set(self.optimizers):
            raise ValueError(
                f"learner state has optimisers {sorted(state['optimizers'])}, "
                f"this learner {sorted(self.optimizers)}"
            )
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])

    def update(self, batch: Any, progress_fraction: float = 0.0) -> dict[str, float]:
        """One PPO update on ``batch``; returns mean stats over the minibatches.

        batch: a ``RolloutBatch`` of complete episodes (``obs``, [S] or [S, N]
            ``actions``, ``logp``, ``values``, ``rewards``, ``terminated``, per-episode
            ``episode_lengths`` and ``bootstrap_values``, optionally ``policy_extras``);
            GAE is computed here (``batch_advantages``) with this config's gamma/lambda.
        progress_fraction: share of training done before this update, in [0, 1); each
            group's learning rate is ``learning_rate * (1 - progress_fraction)`` when
            anneal_lr.
        """
        cfg = self.cfg
        scale = (1.0 - progress_fraction) if cfg.anneal_lr else 1.0
        for g in self.groups:
            for pg in self.optimizers[g.name].param_groups:
                pg["lr"] = g.learning_rate * scale

        device = next(self.policy.parameters()).device

        def tensor(x: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
            return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)

        adv, ret = batch_advantages(batch, cfg.gamma, cfg.gae_lambda)
        discrete = np.asarray(batch.actions).dtype.kind in "iu"
        actions = tensor(batch.actions, torch.long if discrete else torch.float32)
        old_logp = tensor(batch.logp, torch.float32)
        old_values = tensor(batch.values, torch.float32)
        advantages = tensor(adv, torch.float32)
        returns = tensor(ret, torch.float32)
        extras = {k: tensor(v) for k, v in (getattr(batch, "policy_extras", None) or {}).items()}
        n = len(actions)
        n_minibatches = max(1, math.ceil(n / cfg.minibatch_size))
        aux_loss = getattr(self.policy, "auxiliary_loss", None)

        self.policy.train()
        totals: dict[str, float] = {}
        n_steps = 0
        epochs_run = 0
        for epoch in range(cfg.update_epochs):
            active = [
                g for g in self.groups if g.steps_in is None or g.steps_in(self.updates, epoch)
            ]
            if not active:
                continue
            epochs_run += 1
            order = torch.randperm(n, generator=self.generator).to(device)
            for idx in torch.tensor_split(order, n_minibatches):
                mb_obs = [batch.obs[i] for i in idx.tolist()]
                mb_extras = {k: v[idx] for k, v in extras.items()}
                new_logp, entropy, new_values = self.policy.evaluate(
                    mb_obs, actions[idx], mb_extras
                )
                mb_adv = advantages[idx].reshape(-1)
                # [B] or, for a policy whose action has F factors, [B, F]
                factors = new_logp.numel() // mb_adv.numel()
                logp_shape = (-1,) if factors == 1 else (-1, factors)
                loss, stats = ppo_loss(
                    new_logp.reshape(logp_shape),
                    old_logp[idx].reshape(logp_shape),
                    mb_adv,
                    new_values.reshape(-1),
                    old_values[idx].reshape(-1),
                    returns[idx].reshape(-1),
                    entropy.reshape(-1),
                    cfg,
                )
                if aux_loss is not None:
                    # a policy's own regulariser (e.g. CommFormer's gate-rate penalty),
                    # computed during the evaluate call above
                    extra = aux_loss()
                    loss = loss + extra
                    stats["aux_loss"] = float(torch.as_tensor(extra).detach())
                for opt in self.optimizers.values():
                    opt.zero_grad()
                loss.backward()
                for g in active:
                    clip = cfg.max_grad_norm if g.max_grad_norm is None else g.max_grad_norm
                    norm = float(nn.utils.clip_grad_norm_(g.params, clip))
                    stats[f"grad_norm/{g.name}"] = norm
                    self.optimizers[g.name].step()
                stats["grad_norm"] = stats[f"grad_norm/{active[0].name}"]
                for k, v in stats.items():
                    totals[k] = totals.get(k, 0.0) + v
                n_steps += 1
            # CleanRL's early stop: judged on the last minibatch of the epoch.
            if cfg.target_kl is not None and stats["approx_kl"] > cfg.target_kl:
                break

        self.updates += 1
        out = {k: v / n_steps for k, v in totals.items()}
        var_returns = returns.var().item() if returns.numel() > 1 else 0.0
        out["explained_variance"] = (
            float("nan")
            if var_returns == 0
            else 1.0 - (returns - old_values).var().item() / var_returns
        )
        out["learning_rate"] = cfg.learning_rate * scale
        out["epochs"] = float(epochs_run)
        return out
