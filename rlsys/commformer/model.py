"""CommFormer: a multi-agent transformer whose attention follows a learnable sparse graph.

Shapes: B samples (env steps), N agents, D = ``width``, A actions per agent.

- **Encoder** (one block in the reference): observation embedding [B, N, D], then
  graph-masked, relation-enhanced attention (``GraphAttention``): agent i attends only to
  its in-neighbours in the graph A [B, N, N] and to itself, and a learned relation
  embedding (self / in-edge) is added to keys and values; then an MLP. A per-agent value
  head reads each agent's encoding -> values [B, N].
- **Decoder**, autoregressive over agents 0..N-1: agent i attends to a start token and
  to the embedded *chosen actions* of its in-neighbours j < i, then a per-agent actor
  head gives its logits [B, A]. Training scores all agents in one pass (the chosen
  actions are known); acting generates agent by agent, each step attending over the
  already-embedded actions only (O(N) per agent, O(N^2) per joint action; the reference
  recomputes the whole decoder per agent, O(N^3)).
- **Temporal gating** (option): per agent and step a gate p_i = sigmoid(w . e_i) on the
  observation embedding decides whether agent i receives messages; a closed gate leaves
  only the self-loop in its row. The gate is part of each agent's action: sampled while
  training (stored like the graph), its Bernoulli log-probability is added to the
  agent's action log-probability, so PPO's ratio and advantage train it (IC3Net's
  gating), and its entropy to the agent's entropy; p > 0.5 at execution. With
  ``gate_ratio='separate'`` the two log-probabilities stay apart ([B, N, 2]) and PPO
  clips a ratio for each.
  ``auxiliary_loss`` adds ``gate_coef * mean(p)`` (fewer messages) to the PPO loss. A
  straight-through gate (the encoder's gradient on the hard gate, earlier versions)
  closed every gate even at ``gate_coef`` 0.

Graph modes: ``learned`` (logits trained by the bilevel alternation, ``graph.py`` rules),
``full`` (every edge), ``none`` (self-loops only: no communication), ``random`` (one
fixed k-hot graph drawn from the model seed, the equal-density baseline).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from rlsys.commformer.graph import (
    MAX_PG_SENDERS,
    edges_per_receiver,
    gumbel_topk,
    row_log_prob,
    straight_through,
    topk_graph,
)
from rlsys.config import Config, config_field, from_dict, invalid
from rlsys.rl.distributions import MaskedCategorical
from rlsys.rl.policy import read_policy_file, save_policy_file

GRAPH_MODES = ("learned", "full", "none", "random")


@dataclass
class CommFormerConfig(Config):
    """Size and graph options of a CommFormer policy (also stored in its checkpoints)."""

    n_agents: int = config_field(5, ge=2, le=1024)
    """agents in the team (the graph is N x N; heads are per agent)"""
    obs_dim: int = config_field(29, ge=1, le=1_000_000)
    """length of one agent's observation vector"""
    n_actions: int = config_field(5, ge=1, le=100_000)
    """discrete actions per agent"""
    width: int = config_field(64, ge=1, le=4096)
    """embedding width D (reference: 64)"""
    blocks: int = config_field(1, ge=1, le=64)
    """encoder and decoder blocks (reference: 1)"""
    heads: int = config_field(1, ge=1, le=256)
    """attention heads (reference: 1)"""
    sparsity: float = config_field(0.4, gt=0, le=1)
    """share S of the other agents each agent listens to: k = max(int(N * S), 1)"""
    graph: Literal["learned", "full", "none", "random"] = "learned"
    """see the module docstring"""
    gating: bool = False
    """temporal gating: each agent decides per step whether to receive messages"""
    gate_coef: float = config_field(0.01, ge=0)
    """weight of the gate-rate penalty (messages cost) in the loss"""
    gate_open_init: float | None = config_field(None, gt=0, lt=1)
    """initial probability that a gate is open (the gate head's bias, zero weights);
    None: PyTorch's default initialisation (p about 0.5)"""
    gate_entropy: bool = True
    """add the gates' Bernoulli entropy to the entropy bonus (it pulls every gate towards
    50 % open); False: the bonus sees the moves' entropy only"""
    gate_ratio: Literal["joint", "separate"] = "joint"
    """'joint': the gate's log-probability is added to the move's, one PPO ratio per
    agent; 'separate': the gate and the move each get their own clipped ratio (log-probs
    [B, N, 2], move then gate), so gate noise does not spend the move's clip range"""
    tau: float = config_field(1.0, gt=0)
    """Gumbel / straight-through temperature"""
    graph_gradient: Literal["straight_through", "policy_gradient"] = "straight_through"
    """how the logits learn (learned graph): 'straight_through' (the reference's
    estimator, through the attention), or 'policy_gradient' (each receiver's sampled row
    is part of its agent's action; its log-probability enters PPO's ratio)"""
    graph_draw: Literal["step", "episode"] = "step"
    """learned graph while training: a fresh Gumbel-top-k graph every env step (the
    reference), or one per episode, kept for all its steps (an edge's worth then shows in
    the episode's return, not in one step's)"""
    critic: Literal["graph", "full"] = "graph"
    """what the value heads read: the encoding on the acting graph (the reference), or a
    second encoder pass on the full graph (a centralised critic; its values, and so the
    advantages, do not depend on the sampled graph, and its loss sends no gradient to
    the graph logits)"""
    seed: int = 0
    """model seed: initial weights and the 'random' graph"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % self.heads:
            raise invalid(self, f"width {self.width} is not divisible by heads {self.heads}")
        k = edges_per_receiver(self.n_agents, self.sparsity)
        if self.graph_gradient == "policy_gradient" and self.graph == "learned":
            if k > MAX_PG_SENDERS:  # row_log_prob sums over the k! orders of a row's senders
                raise invalid(
                    self,
                    f"graph_gradient policy_gradient needs k <= {MAX_PG_SENDERS} in-edges per "
                    f"agent, got {k}",
                )


def _bernoulli_log_prob(p: Tensor, x: Tensor) -> Tensor:
    """log P(x) for x in {0, 1} under Bernoulli(p), elementwise (p clamped off 0 and 1)."""
    q = p.clamp(1e-6, 1 - 1e-6)
    return x * q.log() + (1 - x) * (1 - q).log()


class GraphAttention(nn.Module):
    """Relation-enhanced multi-head attention restricted to a graph.

    Query i attends to key j with weight proportional to ``A[i, j] * exp(s_ij)``, where
    ``s_ij = q_i . (k_j + r_ij) / sqrt(d)`` and ``r_ij`` is the relation embedding
    (self-loop or in-edge); values get ``r_ij`` added too. Multiplying by A (not
    masking with -inf) lets a straight-through graph pass gradients to its logits; the
    forward values equal a masked softmax for a 0/1 graph.

    Shapes: ``x_q`` [B, Nq, D], ``x_kv`` [B, Nk, D], ``adj`` [B, Nq, Nk] (0/1 forward
    values, diagonal = relation "self"), ``self_mask`` [Nq, Nk] bool (where relation is
    "self") -> [B, Nq, D].
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, width // heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.relation = nn.Embedding(2, width)  # 0 = in-edge, 1 = self
        self.out = nn.Linear(width, width)

    def forward(self, x_q: Tensor, x_kv: Tensor, adj: Tensor, self_mask: Tensor) -> Tensor:
        k, v = self.project_kv(x_kv)
        return self.attend(x_q, k, v, adj, self_mask)

    def project_kv(self, x_kv: Tensor) -> tuple[Tensor, Tensor]:
        """[B, Nk, D] -> keys, values [B, H, Nk, D / H] (cacheable: they depend on the
        senders only)."""
        b, nk, _ = x_kv.shape
        k, v = self.kv(x_kv).view(b, nk, 2, self.heads, self.head_dim).unbind(2)
        return k.transpose(1, 2), v.transpose(1, 2)

    def attend(self, x_q: Tensor, k: Tensor, v: Tensor, adj: Tensor, self_mask: Tensor) -> Tensor:
        b, nq, d = x_q.shape
        h, hd = self.heads, self.head_dim
        q = self.q(x_q).view(b, nq, h, hd).transpose(1, 2)  # [B, H, Nq, hd]
        e_edge, e_self = self.relation.weight.view(2, h, hd, 1).unbind(0)  # [H, hd, 1]
        # q . (k_j + r_ij) = q . k_j + q . r_ij, and r_ij is one of two vectors
        rel_scores = torch.where(self_mask, q @ e_self, q @ e_edge)  # [B, H, Nq, Nk]
        scores = (q @ k.transpose(-1, -2) + rel_scores) / math.sqrt(hd)
        a = adj.unsqueeze(1)  # [B, 1, Nq, Nk]
        live = a.detach() > 0
        top = scores.masked_fill(~live, float("-inf")).amax(-1, keepdim=True).detach()
        weights = torch.exp((scores - top).masked_fill(~live, float("-inf"))) * a
        weights = weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)
        # sum_j w_ij (v_j + r_ij): the relation part is (weight on self) e_self + rest e_edge
        w_self = (weights * self_mask).sum(-1, keepdim=True)  # [B, H, Nq, 1]
        w_edge = weights.sum(-1, keepdim=True) - w_self
        out = weights @ v + w_self * e_self.transpose(-1, -2) + w_edge * e_edge.transpose(-1, -2)
        return self.out(out.transpose(1, 2).reshape(b, nq, d))


class Block(nn.Module):
    """Post-norm transformer block: graph attention, then an MLP, both residual."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.attn = GraphAttention(width, heads)
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))

    def forward(self, x_q: Tensor, x_kv: Tensor, adj: Tensor, self_mask: Tensor) -> Tensor:
        k, v = self.attn.project_kv(x_kv)
        return self.with_kv(x_q, k, v, adj, self_mask)

    def with_kv(self, x_q: Tensor, k: Tensor, v: Tensor, adj: Tensor, self_mask: Tensor) -> Tensor:
        """The block on precomputed keys and values (``GraphAttention.project_kv``)."""
        h = self.norm1(x_q + self.attn.attend(x_q, k, v, adj, self_mask))
        return self.norm2(h + self.mlp(h))


class PerAgentLinear(nn.Module):
    """One linear map per agent: [B, N, D] -> [B, N, out] (agent i uses weight i)."""

    def __init__(self, n_agents: int, width: int, out: int, std: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_agents, width, out))
        self.bias = nn.Parameter(torch.zeros(n_agents, out))
        for i in range(n_agents):
            nn.init.orthogonal_(self.weight.data[i], std)

    def forward(self, x: Tensor, agent: int | None = None) -> Tensor:
        if agent is not None:  # x [B, D] of one agent -> [B, out]
            return x @ self.weight[agent] + self.bias[agent]
        return torch.einsum("bnd,ndo->bno", x, self.weight) + self.bias


class CommFormerPolicy(nn.Module):
    """The actor-critic of a team (``rlsys.rl.policy.ActorCritic``, [B, N] outputs).

    Observations are joint observations [N, obs_dim] (what ``TeamEnv`` returns).
    Buffers ``warmup`` (full communication during the first updates) and ``sampling``
    (Gumbel graphs while training; off once the graph is frozen) travel with the
    weights, so rollout workers act in the learner's current phase.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        cfg = self.config = CommFormerConfig(**kwargs)
        n, d = cfg.n_agents, cfg.width
        self.k = edges_per_receiver(n, cfg.sparsity)
        # The model seed decides the initial weights (the reference ignored --seed here).
        init = torch.Generator().manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**31, (1,), generator=init)))
            self.obs_embed = nn.Sequential(nn.Linear(cfg.obs_dim, d), nn.GELU(), nn.LayerNorm(d))
            self.encoder = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.blocks))
            self.value_head = PerAgentLinear(n, d, 1, std=1.0)
            self.action_embed = nn.Embedding(cfg.n_actions, d)
            self.start = nn.Parameter(torch.randn(d) * 0.02)
            self.decoder = nn.ModuleList(Block(d, cfg.heads) for _ in range(cfg.blocks))
            self.actor_head = PerAgentLinear(n, d, cfg.n_actions, std=0.01)
            self.gate = nn.Linear(d, 1) if cfg.gating else None
            if self.gate is not None and cfg.gate_open_init is not None:
                # start from (mostly) listening agents: they learn when to stop
                nn.init.zeros_(self.gate.weight)
                nn.init.constant_(
                    self.gate.bias, math.log(cfg.gate_open_init / (1 - cfg.gate_open_init))
                )
            # Row i = receiver. Reference initialisation: all ones (a uniform start).
            self.edge_logits = nn.Parameter(torch.ones(n, n), requires_grad=cfg.graph == "learned")
            random_graph = topk_graph(torch.rand(n, n, generator=init), self.k)
        self.register_buffer("random_graph", random_graph)
        self.register_buffer("warmup", torch.tensor(False))
        self.register_buffer("sampling", torch.tensor(True))
        self._aux: Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.start.device

    def graph_parameters(self) -> list[nn.Parameter]:
        """The upper level of the bilevel problem (stepped by its own Adam)."""
        return [self.edge_logits]

    def network_parameters(self) -> list[nn.Parameter]:
        """The lower level: everything but the graph logits."""
        return [p for name, p in self.named_parameters() if name != "edge_logits"]

    # ------------------------------------------------------------------ graphs
    def execution_graph(self) -> Tensor:
        """The deterministic graph [N, N] this policy acts with at execution."""
        n = self.config.n_agents
        mode = self.config.graph
        if mode == "full" or bool(self.warmup):
            return torch.ones(n, n, device=self.device)
        if mode == "none":
            return torch.eye(n, device=self.device)
        if mode == "random":
            return self.random_graph
        return topk_graph(self.edge_logits, self.k)

    def _sample_graphs(
        self,
        batch: int,
        deterministic: bool,
        generator: torch.Generator | None,
        episode: list | None = None,
    ) -> Tensor:
        """[B, N, N] graphs to act with (see ``graph.py`` for the rule): each sample's
        episode graph (``begin_episode``) when there is one, else a fresh draw per step."""
        if self._draws_graphs() and not deterministic:
            if episode is not None and all(g is not None for g in episode):
                return torch.stack(episode).to(self.device)
            return gumbel_topk(self.edge_logits, self.k, batch, self.config.tau, generator)
        return self.execution_graph().expand(batch, -1, -1)

    def begin_episode(self, generator: torch.Generator | None = None) -> Tensor | None:
        """The graph [N, N] of a new training episode (``graph_draw='episode'``, while
        the logits are sampled), else None without touching ``generator``."""
        if self.config.graph_draw != "episode" or not self._draws_graphs():
            return None
        return gumbel_topk(self.edge_logits, self.k, 1, self.config.tau, generator)[0]

    def _draws_graphs(self) -> bool:
        """Does acting (not deterministic) draw Gumbel graphs from the logits now?"""
        learned = self.config.graph == "learned" and not bool(self.warmup)
        return learned and bool(self.sampling)

    def _graph_policy_gradient(self) -> bool:
        """Are the drawn graph rows part of the agents' actions (their log-probs in PPO)?"""
        return self._draws_graphs() and self.config.graph_gradient == "policy_gradient"

    def _graph_for_learning(self, stored: Tensor) -> Tensor:
        """The stored acting graphs, with straight-through gradient to the logits when
        they were drawn from them (learned mode, after warm-up)."""
        if self.config.graph_gradient == "policy_gradient":
            return stored  # the logits learn through row_log_prob instead
        if self.config.graph == "learned" and not bool(self.warmup):
            return straight_through(stored, self.edge_logits, self.config.tau)
        return stored

    # ------------------------------------------------------------------ network
    def collate(self, obs: list) -> Tensor:
        """B joint observations [N, obs_dim] -> [B, N, obs_dim] float32 on the device."""
        x = np.stack(obs).astype(np.float32, copy=False)
        return torch.as_tensor(x, device=self.device)

    def _encode(self, x: Tensor, graph: Tensor, gate: Tensor | None) -> tuple[Tensor, Tensor]:
        """obs [B, N, F], graph [B, N, N], gate [B, N] or None -> encodings [B, N, D],
        values [B, N]."""
        n = self.config.n_agents
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        if gate is not None:  # a closed gate keeps only the self-loop of its row
            graph = torch.where(eye, graph, graph * gate.unsqueeze(-1))
        e = self.obs_embed(x)
        h = e
        for block in self.encoder:
            h = block(h, h, graph, eye)
        if self.config.critic == "full":  # the critic hears everyone, whatever the graph
            full = torch.ones_like(graph).detach()
            hv = e
            for block in self.encoder:
                hv = block(hv, hv, full, eye)
            return h, self.value_head(hv).squeeze(-1)
        return h, self.value_head(h).squeeze(-1)

    def _decoder_graph(self, graph: Tensor) -> Tensor:
        """[B, N, N+1]: column 0 is the start token (always on), column 1 + j is agent j's
        action, visible to agent i when j is an in-neighbour of i and j < i."""
        n = self.config.n_agents
        earlier = torch.ones(n, n, device=graph.device).tril(-1)
        start = torch.ones_like(graph[..., :1])
        return torch.cat([start, graph * earlier], dim=-1)

    def _decode_all(self, h: Tensor, actions: Tensor, graph: Tensor) -> Tensor:
        """Teacher-forced logits [B, N, A] of all agents given the joint actions [B, N]."""
        b, n, d = h.shape
        tokens = torch.cat([self.start.expand(b, 1, d), self.action_embed(actions)], dim=1)
        adj = self._decoder_graph(graph)
        self_mask = torch.zeros(n, n + 1, dtype=torch.bool, device=h.device)
        self_mask[:, 0] = True  # the start token plays the "self" relation
        z = h
        for block in self.decoder:
            z = block(z, tokens, adj, self_mask)
        return self.actor_head(z)

    def _gate(self, x: Tensor) -> Tensor | None:
        """Gate-open probabilities [B, N] (None without gating)."""
        if self.gate is None:
            return None
        return torch.sigmoid(self.gate(self.obs_embed(x))).squeeze(-1)

    # ------------------------------------------------------------------ protocol
    @torch.no_grad()
    def act(
        self,
        obs: list,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
        episode: list | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Joint actions [B, N] generated agent by agent; extras: the acting graph
        [B, N, N] (uint8) and, with gating, the gates [B, N] (uint8). ``episode``: the
        samples' ``begin_episode`` graphs (from the rollout worker)."""
        x = self.collate(obs)
        b, n = x.shape[0], self.config.n_agents
        graph = self._sample_graphs(b, deterministic, generator, episode)
        p_gate = self._gate(x)
        gate = None
        if p_gate is not None:
            if deterministic:
                gate = (p_gate > 0.5).float()
            else:
                gate = (torch.rand(p_gate.shape, generator=generator) < p_gate).float()
        h, values = self._encode(x, graph, gate)

        adj = self._decoder_graph(graph)  # [B, N, N+1]
        self_mask = torch.zeros(1, n + 1, dtype=torch.bool, device=x.device)
        self_mask[0, 0] = True
        # keys / values of the tokens seen so far, per decoder block: each new action is
        # projected once (the reference re-ran the decoder over all agents per agent)
        start = self.start.expand(b, 1, -1)
        cache = [block.attn.project_kv(start) for block in self.decoder]
        actions = torch.empty(b, n, dtype=torch.long, device=x.device)
        logp = torch.empty(b, n, device=x.device)
        for i in range(n):  # agent i sees the start token and actions 0..i-1 only
            z = h[:, i : i + 1]
            for block, (k, v) in zip(self.decoder, cache, strict=True):
                z = block.with_kv(z, k, v, adj[:, i : i + 1, : i + 1], self_mask[:, : i + 1])
            log_probs = torch.log_softmax(self.actor_head(z[:, 0], agent=i), dim=-1)
            if deterministic:
                a = log_probs.argmax(-1)
            else:  # Gumbel-max: argmax(log p - log Exp(1)) draws from p
                noise = torch.empty_like(log_probs).exponential_(generator=generator)
                a = (log_probs - noise.log()).argmax(-1)
            actions[:, i], logp[:, i] = a, log_probs.gather(-1, a[:, None])[:, 0]
            if i + 1 < n:
                token = self.action_embed(a)[:, None]
                for c, block in enumerate(self.decoder):
                    k_new, v_new = block.attn.project_kv(token)
                    cache[c] = (
                        torch.cat([cache[c][0], k_new], dim=2),
                        torch.cat([cache[c][1], v_new], dim=2),
                    )

        extras = {"graph": graph.to(torch.uint8).cpu().numpy()}
        if self._graph_policy_gradient() and not deterministic:
            logp = logp + row_log_prob(graph, self.edge_logits)
        if gate is not None:
            logp = self._with_gate(logp, _bernoulli_log_prob(p_gate, gate))
            extras["gate"] = gate.to(torch.uint8).cpu().numpy()
        return actions.cpu().numpy(), logp.cpu().numpy(), values.cpu().numpy(), extras

    def evaluate(
        self, obs: list, actions: Tensor, extras: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Log-probabilities, entropies and values [B, N] of joint ``actions`` [B, N],
        on the graphs (and gates) they were taken with (``extras``)."""
        x = self.collate(obs)
        if extras and "graph" in extras:
            graph = self._graph_for_learning(extras["graph"].float())
        else:  # no stored graphs (e.g. scoring expert data): the execution graph
            graph = self.execution_graph().expand(x.shape[0], -1, -1)
        p_gate = self._gate(x)
        gate = None
        if p_gate is not None:
            gate = extras["gate"].float() if extras and "gate" in extras else (p_gate > 0.5).float()
            self._aux = self.config.gate_coef * p_gate.mean()
        h, values = self._encode(x, graph, gate)
        logits = self._decode_all(h, actions, graph)
        dist = MaskedCategorical(logits, torch.ones_like(logits, dtype=torch.bool))
        logp, entropy = dist.log_prob(actions), dist.entropy()
        if self._graph_policy_gradient() and extras and "graph" in extras:
            # (graph row, move) is the agent's action: the logits learn from its advantage
            logp = logp + row_log_prob(graph, self.edge_logits)
        if gate is not None:  # (gate, action) is the agent's action
            logp = self._with_gate(logp, _bernoulli_log_prob(p_gate, gate))
            if self.config.gate_entropy:
                q = p_gate.clamp(1e-6, 1 - 1e-6)
                entropy = entropy - q * q.log() - (1 - q) * (1 - q).log()
        return logp, entropy, values

    def _with_gate(self, move_logp: Tensor, gate_logp: Tensor) -> Tensor:
        """[B, N] move and gate log-probs -> [B, N] joint, or [B, N, 2] with
        ``gate_ratio='separate'`` (PPO then clips each factor's ratio on its own)."""
        if self.config.gate_ratio == "separate":
            return torch.stack([move_logp, gate_logp], dim=-1)
        return move_logp + gate_logp

    def auxiliary_loss(self) -> Tensor | float:
        """The gate-rate penalty of the last ``evaluate`` call (0 without gating)."""
        return self._aux if self._aux is not None else 0.0

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path, metadata: dict | None = None) -> Path:
        """{"model": state_dict, "meta": {"policy_kwargs": config, ...}}."""
        meta = {"policy_kwargs": asdict(self.config), **(metadata or {})}
        return save_policy_file(path, self, meta)

    @classmethod
    def load(cls, path: str | Path) -> CommFormerPolicy:
        """Rebuild from ``save``'s file or the trainer's final.pt (weights only)."""
        state, meta = read_policy_file(path, "checkpoint file")
        kwargs = meta.get("policy_kwargs")
        if not isinstance(kwargs, dict) or "edge_logits" not in state:
            raise ValueError(f"{path}: not a CommFormer checkpoint")
        # the sizes are checked (and capped) before anything is allocated
        config = from_dict(CommFormerConfig, kwargs, source=f"{path}: policy_kwargs")
        policy = cls(**asdict(config))
        try:
            policy.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[-1].strip()
            raise ValueError(f"{path}: weights do not fit the stored config ({first})") from None
        policy.eval()
        return policy

    def messages_per_step(self, graph: Tensor, gate: Tensor | None = None) -> Tensor:
        """Messages received per sample [B]: in-edges without self-loops, of open gates."""
        per_agent = graph.sum(-1) - torch.diagonal(graph, dim1=-2, dim2=-1)  # [B, N]
        if gate is not None:
            per_agent = per_agent * gate
        return per_agent.sum(-1)
