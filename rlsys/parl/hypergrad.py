"""A-PARL's T2 term for network policies: functional parameters, Fisher-vector products
and damped conjugate gradient.

The exact hypergradient (``tabular.py``) needs the lower level's Hessian H and mixed
derivative M. For a network policy theta trained by SAC neither is available in closed
form, so the lower level is approximated by its on-policy policy-gradient surrogate

    g(theta, nu) = 1/n sum_t log pi_theta(a_t | s_t) * Ghat_nu(t),

Ghat_nu(t) the discounted reward-to-go of step t under the reward model r_nu, whose
theta-gradient is the policy gradient of r_nu. Then (theta, n samples, P parameters):

    M^T x = d/dnu [ 1/n sum_t c_t Ghat_nu(t) ],  c = J x,   J = d log pi / d theta [n, P]
    -H ~= F + damping I,                         F = J^T J / n (the Fisher matrix, TRPO's
                                                 Gauss-Newton stand-in for -H)
    w = 1/Q sum_q (U_q - b) d/dtheta [log rho(seg0_q) + log rho(seg1_q)] = J_seg^T u
    T2 = M^T (F + damping I)^-1 w

Every product is a ``torch.func.jvp`` / ``vjp`` of the function flat theta -> per-step
log-probabilities (``functional_call``: the actor is not copied). The result is not a
gradient but the fixed per-step weights c (``T2Weights``): the T2 part of the upper
gradient is then the nu-gradient of ``t2_surrogate(model) = sum_t c_t Ghat_nu(t) / n``,
which the reward fit adds to its Bradley-Terry loss with a minus sign. Variance control:
U is centred by its mean (the baseline b), ``damping`` regularises the solve, and
``coef`` scales the term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call, jvp, vjp

from rlsys.parl.tabular import conjugate_gradient
from rlsys.rl.sac import SquashedGaussianActor, squashed_gaussian_log_prob


def actor_log_prob(
    actor: SquashedGaussianActor,
    params: dict[str, torch.Tensor],
    obs: torch.Tensor,
    actions: torch.Tensor,
) -> torch.Tensor:
    """log pi(a | s) [n] of given actions [n, A] under ``params`` (tanh-Gaussian)."""
    mean, log_std = functional_call(actor, params, (obs,))
    y = ((actions - actor.action_bias) / actor.action_scale).clamp(-1 + 1e-6, 1 - 1e-6)
    z = (torch.atanh(y) - mean) / log_std.exp()
    return squashed_gaussian_log_prob(z, log_std, y, actor.action_scale)


class FlatParams:
    """The actor's parameters as one flat vector and back (for CG)."""

    def __init__(self, actor: torch.nn.Module) -> None:
        self.names = [n for n, _ in actor.named_parameters()]
        self.shapes = [p.shape for _, p in actor.named_parameters()]
        self.flat = torch.cat([p.detach().reshape(-1) for _, p in actor.named_parameters()])
        self.buffers = dict(actor.named_buffers())

    def unflatten(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            n = int(np.prod(shape))
            out[name] = flat[start : start + n].reshape(shape)
            start += n
        return {**out, **self.buffers}


@dataclass
class T2Weights:
    """Per-step weights c [n] of the rollout steps (obs, actions, episode index) that
    define the T2 surrogate, and solver diagnostics."""

    c: torch.Tensor
    obs: torch.Tensor
    actions: torch.Tensor
    episode_starts: list[int]
    gamma: float
    cg_residual: float


def reward_to_go(rewards: torch.Tensor, episode_starts: list[int], gamma: float) -> torch.Tensor:
    """Discounted reward-to-go [n] within each episode (episodes contiguous, starting at
    the given indices); differentiable in ``rewards``."""
    bounds = [*episode_starts, len(rewards)]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        t = torch.arange(b - a, dtype=rewards.dtype)
        lag = t[None, :] - t[:, None]  # [t, t'] = t' - t
        discount = torch.where(lag >= 0, gamma ** lag.clamp_min(0), torch.zeros_like(lag))
        out.append(discount @ rewards[a:b])
    return torch.cat(out)


def t2_weights(
    actor: SquashedGaussianActor,
    rollout_obs: torch.Tensor,
    rollout_actions: torch.Tensor,
    episode_starts: list[int],
    seg_obs: torch.Tensor,
    seg_actions: torch.Tensor,
    utility: torch.Tensor,
    gamma: float = 0.99,
    damping: float = 0.1,
    cg_iterations: int = 10,
    solve: Callable | None = None,
) -> T2Weights:
    """The weights c = J (F + damping I)^-1 w (see the module docstring).

    rollout_obs [n, obs_dim], rollout_actions [n, A]: on-policy steps (the lower level's
    samples); seg_obs [Q, S, L, obs_dim], seg_actions [Q, S, L, A]: the fresh queries'
    on-policy segments (S = 2: both of each pair; 1: the first, the second replayed),
    utility [Q] their Bradley-Terry log-likelihood under the current reward model.
    ``solve(matvec, w)`` replaces CG (tests pass an exact solver).
    """
    flat = FlatParams(actor)
    n = len(rollout_obs)

    def step_logp(theta: torch.Tensor) -> torch.Tensor:
        return actor_log_prob(actor, flat.unflatten(theta), rollout_obs, rollout_actions)

    def query_logp(theta: torch.Tensor) -> torch.Tensor:
        q, two, length = seg_obs.shape[:3]
        logp = actor_log_prob(
            actor,
            flat.unflatten(theta),
            seg_obs.reshape(q * two * length, -1),
            seg_actions.reshape(q * two * length, -1),
        )
        return logp.reshape(q, two * length).sum(1)

    theta = flat.flat
    u = (utility - utility.mean()) / len(utility)
    _, pullback = vjp(query_logp, theta)
    (w,) = pullback(u.to(theta.dtype))
    _, step_pullback = vjp(step_logp, theta)

    def fisher(v: torch.Tensor) -> torch.Tensor:
        _, jv = jvp(step_logp, (theta,), (v,))
        (jtjv,) = step_pullback(jv / n)
        return jtjv

    if solve is None:
        x = conjugate_gradient(fisher, w, cg_iterations, damping)
    else:
        x = solve(lambda v: fisher(v) + damping * v, w)
    residual = float((fisher(x) + damping * x - w).norm() / w.norm().clamp_min(1e-30))
    _, c = jvp(step_logp, (theta,), (x,))
    return T2Weights(
        c.detach(), rollout_obs, rollout_actions, list(episode_starts), gamma, residual
    )


def t2_surrogate(reward: Callable, weights: T2Weights) -> torch.Tensor:
    """sum_t c_t Ghat_nu(t) / n: its gradient in the reward model's parameters is T2.
    ``reward(obs, actions) -> [n]`` is the reward model's (differentiable) reward."""
    r = reward(weights.obs, weights.actions)
    rtg = reward_to_go(r, weights.episode_starts, weights.gamma)
    return (weights.c.to(rtg.dtype) * rtg).sum() / len(rtg)
