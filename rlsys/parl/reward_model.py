"""The learned reward: an ensemble of small MLPs on (s, a), fitted with Bradley-Terry.

A segment is L consecutive steps; its predicted return is the sum of the model's
per-step rewards. For a labelled query (segment 0, segment 1, y) with y = 1 when
segment 0 is preferred (0.5: equal), the Bradley-Terry log-likelihood is

    U = y log sigmoid(R0 - R1) + (1 - y) log sigmoid(R1 - R0)

and the loss is -mean(U) over labelled queries and ensemble members (every member fits
the same data from its own initialisation, as in PEBBLE). Which of many candidate pairs
to ask about is ``select_queries``: uniform, disagreement (largest std over members of
P(0 preferred)) or entropy (largest binary entropy of the members' mean P).

Shapes: obs [..., obs_dim], actions [..., act_dim] (discrete actions one-hot), segment
batches [Q, L, ...], rewards [Q, L], labels [Q].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from rlsys.config import Config, config_field
from rlsys.rl.sac import mlp

QUERY_SELECTION = ("uniform", "disagreement", "entropy")


@dataclass
class RewardModelConfig(Config):
    """The reward ensemble and how it is fitted."""

    members: int = config_field(3, ge=1)
    """ensemble members (each its own MLP)"""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """hidden layers of each member"""
    learning_rate: float = config_field(3e-4, gt=0)
    """Adam learning rate of the ensemble"""
    epochs: int = config_field(20, ge=1)
    """passes over the labelled queries per fit"""
    batch_size: int = config_field(64, ge=1)
    """labelled queries per minibatch"""
    selection: Literal["uniform", "disagreement", "entropy"] = "disagreement"
    """how queries are picked from the candidates"""
    candidates: int = config_field(10, ge=1)
    """candidate pairs drawn per query asked (B-Pref: 10)"""
    pessimism: float = config_field(0.0, ge=0)
    """the reward the policy is trained on is the members' mean minus this many standard
    deviations (0: the mean, as PEBBLE): where no label constrains the model its members
    disagree, so a pessimistic reward stops the policy from seeking out such states"""


class RewardEnsemble(nn.Module):
    """M reward MLPs r_m(s, a), outputs squashed to (-1, 1) by tanh (as PEBBLE)."""

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        members: int = 3,
        hidden_sizes: Sequence[int] = (64, 64),
        pessimism: float = 0.0,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.pessimism = obs_dim, act_dim, pessimism
        self.members = nn.ModuleList(
            [mlp(obs_dim + act_dim, 1, hidden_sizes) for _ in range(members)]
        )

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """obs [..., obs_dim], actions [..., act_dim] -> per-member rewards [M, ...]."""
        x = torch.cat([obs, actions], dim=-1)
        return torch.stack([torch.tanh(m(x).squeeze(-1)) for m in self.members])

    def reward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """What the policy is trained on [...]: the members' mean reward, minus
        ``pessimism`` standard deviations over members when that is > 0."""
        per_member = self(obs, actions)
        if self.pessimism == 0 or len(self.members) < 2:
            return per_member.mean(0)
        return per_member.mean(0) - self.pessimism * per_member.std(0)


def bradley_terry_loss(
    ret0: torch.Tensor, ret1: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """-mean Bradley-Terry log-likelihood; ret0, ret1 [..., Q] predicted segment returns,
    labels [Q] in [0, 1] (NaN: skipped, ignored). 0 when no query is labelled."""
    keep = ~torch.isnan(labels)
    if not bool(keep.any()):
        return ret0.sum() * 0.0
    diff = (ret0 - ret1)[..., keep]
    y = labels[keep].to(diff.dtype)
    loglik = y * nn.functional.logsigmoid(diff) + (1 - y) * nn.functional.logsigmoid(-diff)
    return -loglik.mean()


def segment_returns(
    model: RewardEnsemble, obs: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """Segments obs [Q, L, obs_dim], actions [Q, L, A] -> per-member returns [M, Q]."""
    return model(obs, actions).sum(-1)


def preference_probability(
    model: RewardEnsemble,
    obs0: torch.Tensor,
    act0: torch.Tensor,
    obs1: torch.Tensor,
    act1: torch.Tensor,
) -> torch.Tensor:
    """Each member's P(segment 0 preferred) [M, Q]."""
    return torch.sigmoid(segment_returns(model, obs0, act0) - segment_returns(model, obs1, act1))


def select_queries(
    probs: torch.Tensor, n: int, method: str, generator: torch.Generator
) -> torch.Tensor:
    """Indices [n] of the candidates to ask: probs [M, C] (each member's P(0 preferred))."""
    if method not in QUERY_SELECTION:
        raise ValueError(f"query selection {method!r}: one of {', '.join(QUERY_SELECTION)}")
    candidates = probs.shape[1]
    n = min(n, candidates)
    if method == "uniform":
        return torch.randperm(candidates, generator=generator)[:n]
    if method == "disagreement":
        score = probs.std(0) if probs.shape[0] > 1 else torch.zeros(candidates)
    else:
        p = probs.mean(0).clamp(1e-6, 1 - 1e-6)
        score = -(p * p.log() + (1 - p) * (1 - p).log())
    # ties (e.g. a one-member "disagreement") broken at random, not by position
    jitter = torch.rand(candidates, generator=generator) * 1e-9
    return torch.topk(score.detach().cpu() + jitter, n).indices


FIELDS = ("obs0", "act0", "obs1", "act1", "labels")


class PreferenceDataset:
    """The labelled queries so far, as tensors: obs/actions [Q, L, ...], labels [Q]."""

    def __init__(self) -> None:
        self.obs0: list[torch.Tensor] = []
        self.act0: list[torch.Tensor] = []
        self.obs1: list[torch.Tensor] = []
        self.act1: list[torch.Tensor] = []
        self.labels: list[torch.Tensor] = []

    def __len__(self) -> int:
        return sum(len(x) for x in self.labels)

    def add(self, obs0, act0, obs1, act1, labels) -> None:
        for name, value in zip(
            ("obs0", "act0", "obs1", "act1", "labels"),
            (obs0, act0, obs1, act1, labels),
            strict=True,
        ):
            getattr(self, name).append(torch.as_tensor(np.asarray(value), dtype=torch.float32))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.cat(getattr(self, n)) for n in ("obs0", "act0", "obs1", "act1", "labels")
        )

    def state_dict(self) -> dict:
        if not self.labels:
            return {}
        return dict(zip(FIELDS, self.tensors(), strict=True))

    def load_state_dict(self, state: dict) -> None:
        self.__init__()
        if state:
            self.add(*(state[n] for n in FIELDS))


class RewardLearner:
    """Owns the ensemble, its Adam and the labelled queries; ``fit`` = Bradley-Terry."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: RewardModelConfig, seed: int = 0) -> None:
        self.cfg = cfg
        with torch.random.fork_rng():  # the seed picks the init, the global RNG is untouched
            torch.manual_seed(seed)
            self.model = RewardEnsemble(
                obs_dim, act_dim, cfg.members, cfg.hidden_sizes, cfg.pessimism
            )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.learning_rate)
        self.data = PreferenceDataset()
        self.generator = torch.Generator().manual_seed(seed)

    def label_loss(self, tensors: tuple[torch.Tensor, ...] | None = None) -> torch.Tensor:
        """Bradley-Terry loss (T1's objective) of the model on labelled queries
        (obs0, act0, obs1, act1, labels; default: all of them)."""
        obs0, act0, obs1, act1, labels = self.data.tensors() if tensors is None else tensors
        return bradley_terry_loss(
            segment_returns(self.model, obs0, act0), segment_returns(self.model, obs1, act1), labels
        )

    def fit(self, extra_loss=None) -> dict[str, float]:
        """``epochs`` passes of minibatch Bradley-Terry over every labelled query.

        extra_loss(model) -> scalar tensor (PARL's T2 surrogate): first one full-batch
        step on Bradley-Terry + extra_loss (the upper step along the hypergradient T1 +
        T2), then the epochs on Bradley-Terry alone. T2 enters once: it is linear in the
        rewards and never converges, so added to every minibatch step it would push the
        reward epochs x minibatches times along one direction (Adam makes every push
        full-size) and outweigh the labels. Returns the mean loss and the label accuracy
        of the ensemble mean.
        """
        if not len(self.data):
            return {}
        tensors = self.data.tensors()
        obs0, act0, obs1, act1, labels = tensors

        def step(loss: torch.Tensor) -> float:
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return loss.item()

        if extra_loss is not None:
            step(self.label_loss(tensors) + extra_loss(self.model))
        losses = []
        for _ in range(self.cfg.epochs):
            order = torch.randperm(len(labels), generator=self.generator)
            for idx in order.split(self.cfg.batch_size):
                losses.append(step(self.label_loss(tuple(x[idx] for x in tensors))))
        with torch.no_grad():
            p = preference_probability(self.model, obs0, act0, obs1, act1).mean(0)
            keep = ~torch.isnan(labels) & (labels != 0.5)
            hits = ((p > 0.5).float() == labels)[keep].float()
            accuracy = hits.mean().item() if keep.any() else float("nan")
        return {"reward_loss": float(np.mean(losses)), "reward_accuracy": accuracy}

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data": self.data.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.data.load_state_dict(state["data"])
        self.generator.set_state(state["generator"])
