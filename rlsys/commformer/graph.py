"""The learnable communication graph: N x N logits, k in-edges per receiver, top-k rules.

Row i is the receiver, column j the sender: ``A[i, j] = 1`` means agent i reads agent j's
message. Every receiver keeps exactly k = max(int(N * S), 1) in-edges from the *other*
agents (sparsity S in (0, 1]) plus its self-loop, which is always on.

The one rule that connects acting and learning (the reference code broke it: it trained
on the raw continuous logits while its rollouts used top-k, so the policy that learned
was not the one that acted):

- **acting while training** draws a hard k-hot graph per sample with Gumbel top-k
  (``gumbel_topk``, from the rollout's seeded generator; with ``graph_draw='episode'``
  one per episode, at its start) and stores it with the sample;
- **learning** runs the forward pass on exactly that stored hard graph, and the
  gradient reaches the logits through the straight-through estimator
  ``hard + soft - soft.detach()`` (``straight_through``): the forward values are the
  stored 0/1 graph, so the learning policy is the behaviour policy;
- **execution** (evaluation, ``--deterministic``) uses the deterministic top-k of the
  logits (``topk_graph``).

The alternative estimator (``graph_gradient='policy_gradient'``) keeps the same rule for
acting and the forward pass, but trains the logits by the score function instead: each
receiver's sampled row is part of that agent's action, and ``row_log_prob`` (the exact
probability of the k-set under the Gumbel-top-k draw) enters PPO's ratio, as the gate does.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor


def edges_per_receiver(n_agents: int, sparsity: float) -> int:
    """k = max(int(N * S), 1), capped at N - 1 (the other agents)."""
    if not 0.0 < sparsity <= 1.0:
        raise ValueError(f"sparsity must be in (0, 1], got {sparsity}")
    return min(max(int(n_agents * sparsity), 1), n_agents - 1)


def _off_diagonal(logits: Tensor) -> Tensor:
    """The logits with the diagonal at -inf: top-k picks among the other agents."""
    n = logits.shape[-1]
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)
    return logits.masked_fill(eye, float("-inf"))


def _k_hot(scores: Tensor, k: int) -> Tensor:
    """1 at the k largest entries of each row of ``scores`` [..., N, N], plus the diagonal."""
    n = scores.shape[-1]
    index = scores.topk(k, dim=-1).indices
    hard = torch.zeros_like(scores).scatter_(-1, index, 1.0)
    return torch.maximum(hard, torch.eye(n, dtype=scores.dtype, device=scores.device))


def topk_graph(logits: Tensor, k: int) -> Tensor:
    """Deterministic execution graph [N, N] (0/1 float): each row's top-k other agents
    by logit (ties broken by index) plus the self-loop."""
    return _k_hot(_off_diagonal(logits.detach()), k)


def gumbel_topk(
    logits: Tensor, k: int, batch: int, tau: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """``batch`` sampled graphs [batch, N, N] (0/1 float): per row, the top-k of
    (logits + Gumbel noise) / tau among the other agents, plus the self-loop.

    Top-k of Gumbel-perturbed logits draws k senders without replacement with
    probabilities proportional to exp(logit) (the Gumbel-top-k trick).
    """
    n = logits.shape[-1]
    uniform = torch.rand((batch, n, n), generator=generator, device=logits.device)
    exponential = -torch.log(uniform.clamp_min(1e-20))  # Exp(1)
    gumbel = -torch.log(exponential.clamp_min(1e-20))
    return _k_hot(_off_diagonal((logits.detach() + gumbel) / tau), k)


def straight_through(hard: Tensor, logits: Tensor, tau: float = 1.0) -> Tensor:
    """Forward: ``hard`` [B, N, N] exactly. Backward: the gradient of the relaxed graph
    softmax(logits / tau) over the other agents (scaled by k so a row sums to k, like the
    hard row), i.e. ``hard + soft - soft.detach()``."""
    k = hard.sum(-1, keepdim=True) - 1.0  # in-edges per row, without the self-loop
    soft = torch.softmax(_off_diagonal(logits) / tau, dim=-1) * k  # [B, N, N], diag 0
    return hard + soft - soft.detach()


MAX_PG_SENDERS = 6
"""row_log_prob enumerates the k! orders of a row's senders: k is capped here."""


def row_log_prob(graph: Tensor, logits: Tensor) -> Tensor:
    """log P(row i of ``graph``) [B, N] under ``gumbel_topk``: the probability of drawing
    that set of k senders without replacement, each draw proportional to exp(logit) among
    the other agents not drawn yet (Plackett-Luce), summed over the k! orders. (tau does
    not change which set Gumbel top-k draws, only the straight-through relaxation.)

    ``graph`` [B, N, N] (0/1, self-loops on, k in-edges per row); ``logits`` [N, N].
    Differentiable in ``logits``. k! orders are enumerated, so k <= ``MAX_PG_SENDERS``."""
    n = logits.shape[-1]
    k = int(graph[0, 0].sum().item()) - 1
    if k > MAX_PG_SENDERS:
        raise ValueError(
            f"policy-gradient graph needs k <= {MAX_PG_SENDERS} in-edges per agent, got {k}"
        )
    if k == n - 1:  # every other agent: the only possible set
        return torch.zeros(graph.shape[:2], dtype=logits.dtype, device=logits.device)
    eye = torch.eye(n, dtype=torch.bool, device=graph.device)
    # log-probability of each sender as the first draw: [N, N], diagonal -inf
    first = torch.log_softmax(_off_diagonal(logits), dim=-1)
    # the k chosen senders of each row, in index order: [B, N, k]
    chosen = (graph.bool() & ~eye).float().topk(k, dim=-1, sorted=True).indices
    picked = first.expand(graph.shape[0], n, n).gather(-1, chosen)  # [B, N, k]
    orders = torch.tensor(list(itertools.permutations(range(k))), device=graph.device)
    seq = picked[..., orders]  # [B, N, k!, k]: the chosen senders in each order
    # P(order) = prod_t p_t / (1 - sum_{s<t} p_s), p = softmax of the row
    p = seq.exp()
    drawn_before = torch.cumsum(p, dim=-1) - p
    log_p_order = (seq - torch.log1p(-drawn_before.clamp_max(1 - 1e-7))).sum(-1)
    return torch.logsumexp(log_p_order, dim=-1)  # [B, N]
