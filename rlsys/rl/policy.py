"""The policy interface every PPO workload implements, and a small MLP example.

A policy takes a Python *list* of raw environment observations (whatever ``env.step``
returns: an array, a dict of arrays of varying size, ...) and turns them into tensors
with its own ``collate`` hook: the MLP stacks arrays, a graph policy builds a PyG
``Batch``, a multi-agent policy stacks joint observations [B, N, obs_dim]. Action masks
travel inside the observation (``obs["action_mask"]``) and are applied with
``MaskedCategorical``. Actions are integers (``Discrete``).

Single-agent policies return one action, log-probability and value per observation
([B]); team policies for a PettingZoo ``ParallelEnv`` return one per agent ([B, N], in
``env.possible_agents`` order). ``act`` also returns ``extras``: per-sample arrays that
the policy drew while acting and needs again to score the same actions (CommFormer's
sampled communication graph and gates); the rollout worker stores them in the batch and
the learner hands them back to ``evaluate``. Most policies return ``{}``.

Policies run on ``policy.device`` (the device of their parameters): CPU in rollout
workers, CUDA for the learner where present.

The easiest way to satisfy the protocol is to subclass ``MaskedActorCritic`` and write
one method, ``forward(obs) -> (logits [B, A], mask [B, A] or None, values [B])``; pad
ragged action sets to the widest row and mark the padding illegal in ``mask``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from rlsys.rl.distributions import MaskedCategorical


@runtime_checkable
class ActorCritic(Protocol):
    """What ``RolloutWorker`` and ``PPOLearner`` call (an ``nn.Module`` in practice)."""

    device: torch.device
    """where the parameters live; ``collate`` puts its tensors there"""

    def collate(self, obs: list) -> Any:
        """B raw observations -> the network's input (tensors on ``device``)."""
        ...

    def act(
        self,
        obs: list,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Choose actions for B observations, without gradient.

        Returns numpy ``actions`` [B] (or [B, N]) int64, ``logp`` float32 (log-probability
        of the chosen actions; an action of F independent factors may return [..., F], and
        PPO then clips one ratio per factor), ``values`` float32, shaped like the actions, and
        ``extras``: a dict of arrays with leading dimension B (``{}`` for most policies).
        Sampling draws only from ``generator`` (so a rollout is reproducible);
        ``deterministic`` takes the most probable action.
        """
        ...

    def evaluate(
        self, obs: list, actions: torch.Tensor, extras: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability, entropy and value of ``actions`` (long, [B] or [B, N]), each
        shaped like ``actions``, with gradient. ``extras`` are the arrays ``act`` returned
        for these samples (as tensors on the policy's device)."""
        ...

    # Optional: ``begin_episode(generator) -> draw | None``. A policy that draws something
    # once per episode (CommFormer's per-episode communication graph) defines it; the
    # rollout worker calls it when an episode starts and passes the draws of the episodes
    # in a batch to ``act(..., episode=[draw, ...])``. It must not touch ``generator``
    # when it returns None, so a policy that draws nothing per episode keeps its streams.


class MaskedActorCritic(nn.Module):
    """Base class: implement ``forward``; ``act`` and ``evaluate`` come for free."""

    @property
    def device(self) -> torch.device:
        """Where the parameters (and so the collated tensors) live."""
        return next(self.parameters()).device

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
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        dist, values = self.distribution(obs)
        actions = dist.mode() if deterministic else dist.sample(generator)
        return (
            actions.cpu().numpy().astype(np.int64),
            dist.log_prob(actions).cpu().numpy().astype(np.float32),
            values.cpu().numpy().astype(np.float32),
            {},
        )

    def evaluate(
        self, obs: list, actions: torch.Tensor, extras: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        dist, values = self.distribution(obs)
        return dist.log_prob(actions), dist.entropy(), values


def save_policy_file(path: str | Path, policy: nn.Module, meta: dict) -> Path:
    """The trainer's final.pt layout, ``{"model": state_dict, "meta": meta}``, loadable with
    ``weights_only=True``; ``meta["policy_kwargs"]`` rebuilds the network."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": policy.state_dict(), "meta": meta}, path)
    return path


def read_policy_file(path: str | Path, what: str = "policy file") -> tuple[dict, dict]:
    """(state_dict, meta) of a weights file a user hands in, weights only (no pickle).

    One-line ``ValueError``s: a missing file, not a torch weights file, no ``model``
    mapping of name -> tensor, non-finite weights. ``what`` names the file in messages.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such {what}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, or not weights-only
        raise ValueError(f"{path}: not a {what} ({type(exc).__name__})") from None
    state = blob.get("model") if isinstance(blob, dict) else None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path}: not a {what} (no mapping of weights)")
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise ValueError(f"{path}: the policy's weights are not all finite")
    meta = blob.get("meta")
    return state, meta if isinstance(meta, dict) else {}


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

    def collate(self, obs: list) -> tuple[torch.Tensor, torch.Tensor | None]:
        """List of B observations -> features [B, obs_dim] float32, mask [B, A] or None,
        on the policy's device."""
        device = self.device
        if isinstance(obs[0], dict):
            x = np.stack([np.asarray(o["obs"], dtype=np.float32) for o in obs])
            mask: Any = None
            if "action_mask" in obs[0]:
                mask = np.stack([o["action_mask"] for o in obs]).astype(bool)
                mask = torch.as_tensor(mask, device=device)
            return torch.as_tensor(x, device=device), mask
        x = np.stack(obs).astype(np.float32, copy=False)
        return torch.as_tensor(x, device=device), None

    def forward(self, obs: list) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        x, mask = self.collate(obs)
        return self.actor(x), mask, self.critic(x).squeeze(-1)
