"""The policy interface every PPO workload implements, and a small MLP example.

A policy takes a Python *list* of raw environment observations (whatever ``env.step``
returns: an array, a dict of arrays of varying size, ...) and collates them itself: the
MLP stacks arrays, a graph policy builds a PyG ``Batch``. Action masks travel inside the
observation (``obs["action_mask"]``) and are applied with ``MaskedCategorical``. Actions
are integers (``Discrete``).

The easiest way to satisfy the protocol is to subclass ``MaskedActorCritic`` and write
one method, ``forward(obs) -> (logits [B, A], mask [B, A] or None, values [B])``; pad
ragged action sets to the widest row and mark the padding illegal in ``mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from rlsys.rl.distributions import MaskedCategorical


@runtime_checkable
class ActorCritic(Protocol):
    """What ``RolloutWorker`` and ``PPOLearner`` call (an ``nn.Module`` in practice)."""

    def act(
        self,
        obs: list,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Choose actions for B observations, without gradient.

        Returns numpy ``actions`` [B] int64, ``logp`` [B] float32 (log-probability of the
        chosen actions), ``values`` [B] float32. Sampling draws only from ``generator``
        (so a rollout is reproducible); ``deterministic`` takes the most probable action.
        """
        ...

    def evaluate(
        self, obs: list, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability [B], entropy [B] and value [B] of ``actions`` [B] (long), with
        gradient."""
        ...


class MaskedActorCritic(nn.Module):
    """Base class: implement ``forward``; ``act`` and ``evaluate`` come for free."""

    def forward(self, obs: list) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``obs`` (list of B raw observations) -> logits [B, A], legal mask [B, A] bool
        (or None: all legal), values [B]."""
        raise NotImplementedError

    def distribution(self, obs: list) -> tuple[MaskedCategorical, torch.Tensor]:
        logits, mask, values = self(obs)
        if mask is None:
            mask = torch.ones_like(logits, dtype=torch.bool)
        return MaskedCategorical(logits, mask), values

    @torch.no_grad()
    def act(
        self,
        obs: list,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dist, values = self.distribution(obs)
        actions = dist.mode() if deterministic else dist.sample(generator)
        return (
            actions.cpu().numpy().astype(np.int64),
            dist.log_prob(actions).cpu().numpy().astype(np.float32),
            values.cpu().numpy().astype(np.float32),
        )

    def evaluate(
        self, obs: list, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dist, values = self.distribution(obs)
        return dist.log_prob(actions), dist.entropy(), values


def _layer_init(layer: nn.Linear, std: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    # CleanRL's orthogonal init: small actor output = near-uniform initial policy.
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class MLPPolicy(MaskedActorCritic):
    """CleanRL's CartPole actor-critic: separate tanh MLPs for actor and critic.

    Observations are flat arrays [obs_dim], or dicts ``{"obs": array, "action_mask":
    array [n_actions]}``. Rebuild from ``MLPPolicy(**policy_kwargs)``.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int] = (64, 64)):
        super().__init__()

        def mlp(out_dim: int, out_std: float) -> nn.Sequential:
            layers: list[nn.Module] = []
            width = obs_dim
            for h in hidden_sizes:
                layers += [_layer_init(nn.Linear(width, h)), nn.Tanh()]
                width = h
            layers.append(_layer_init(nn.Linear(width, out_dim), std=out_std))
            return nn.Sequential(*layers)

        self.actor = mlp(n_actions, 0.01)
        self.critic = mlp(1, 1.0)

    @staticmethod
    def collate(obs: list) -> tuple[torch.Tensor, torch.Tensor | None]:
        """List of B observations -> features [B, obs_dim] float32, mask [B, A] or None."""
        if isinstance(obs[0], dict):
            x = np.stack([np.asarray(o["obs"], dtype=np.float32) for o in obs])
            mask: Any = None
            if "action_mask" in obs[0]:
                mask = torch.as_tensor(np.stack([o["action_mask"] for o in obs]).astype(bool))
            return torch.as_tensor(x), mask
        return torch.as_tensor(np.stack(obs).astype(np.float32, copy=False)), None

    def forward(self, obs: list) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        x, mask = self.collate(obs)
        return self.actor(x), mask, self.critic(x).squeeze(-1)
