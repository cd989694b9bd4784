"""T2 for network policies: CG against the exact solve, the surrogate against the
mixed second derivative, reward-to-go by hand."""

import numpy as np
import pytest
import torch
from torch.func import jacrev

from rlsys.parl.hypergrad import (
    FlatParams,
    actor_log_prob,
    reward_to_go,
    t2_surrogate,
    t2_weights,
)
from rlsys.parl.reward_model import RewardEnsemble
from rlsys.rl.sac import SquashedGaussianActor


def _setup(seed=0):
    torch.manual_seed(seed)
    actor = SquashedGaussianActor(3, 1, [-2.0], [2.0], (4,)).double()
    gen = torch.Generator().manual_seed(seed)
    obs = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        actions, _, _ = actor.sample(obs.float().double(), gen)
    seg_obs = torch.randn(6, 2, 3, 3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        seg_actions, _, _ = actor.sample(seg_obs.reshape(-1, 3), gen)
    seg_actions = seg_actions.reshape(6, 2, 3, 1)
    utility = torch.randn(6, generator=gen, dtype=torch.float64)
    return actor, obs, actions, seg_obs, seg_actions, utility


def test_log_prob_of_given_actions_matches_sampling():
    actor, obs, *_ = _setup()
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        actions, logp, _ = actor.sample(obs, gen)
    params = dict(actor.named_parameters()) | dict(actor.named_buffers())
    torch.testing.assert_close(
        actor_log_prob(actor, params, obs, actions), logp, rtol=1e-4, atol=1e-4
    )


def test_cg_weights_match_the_exact_solve_on_a_small_network():
    actor, obs, actions, seg_obs, seg_actions, utility = _setup()
    starts = [0, 25]
    cg = t2_weights(actor, obs, actions, starts, seg_obs, seg_actions, utility, damping=1e-2,
                    cg_iterations=200)  # fmt: skip
    exact = t2_weights(
        actor, obs, actions, starts, seg_obs, seg_actions, utility, damping=1e-2,
        solve=lambda matvec, w: torch.linalg.solve(
            torch.stack([matvec(e) for e in torch.eye(len(w), dtype=w.dtype)], 1), w
        ),
    )  # fmt: skip
    assert exact.cg_residual < 1e-10
    rel = float((cg.c - exact.c).norm() / exact.c.norm())
    assert rel < 1e-6, rel
    # and the Fisher system itself, built from the explicit Jacobian
    flat = FlatParams(actor)
    jac = jacrev(lambda th: actor_log_prob(actor, flat.unflatten(th), obs, actions))(flat.flat)
    fisher = jac.T @ jac / len(obs) + 1e-2 * torch.eye(jac.shape[1], dtype=jac.dtype)
    # J has exactly zero singular values (parameters that do not move these log-probs);
    # an explicit cutoff keeps lstsq from inverting rounding noise (the default gelsy
    # cutoff let a ~1e-16 value through on one run, and J @ x came out as noise)
    x = torch.linalg.lstsq(jac, exact.c, rcond=1e-10, driver="gelsd").solution
    torch.testing.assert_close(jac @ x, exact.c)
    assert fisher.shape == (jac.shape[1], jac.shape[1])


def test_surrogate_gradient_is_the_mixed_derivative_times_x():
    actor, obs, actions, seg_obs, seg_actions, utility = _setup(1)
    model = RewardEnsemble(3, 1, members=2, hidden_sizes=(5,)).double()
    starts = [0, 10, 30]
    weights = t2_weights(actor, obs, actions, starts, seg_obs, seg_actions, utility)
    s = t2_surrogate(model.reward, weights)
    t2 = torch.autograd.grad(s, list(model.parameters()))
    # direct: x solves the system, M^T x = d/dnu (grad_theta g . x) by double backward
    flat = FlatParams(actor)
    x = torch.linalg.lstsq(
        jacrev(lambda th: actor_log_prob(actor, flat.unflatten(th), obs, actions))(flat.flat),
        weights.c,
    ).solution
    theta = flat.flat.clone().requires_grad_()
    logp = actor_log_prob(actor, flat.unflatten(theta), obs, actions)
    g = (logp * reward_to_go(model.reward(obs, actions), starts, 0.99)).sum() / len(obs)
    (g_theta,) = torch.autograd.grad(g, theta, create_graph=True)
    direct = torch.autograd.grad(g_theta @ x, list(model.parameters()))
    for a, b in zip(t2, direct, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9)


def test_reward_to_go_by_hand():
    r = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    out = reward_to_go(r, [0, 3], 0.5)
    np.testing.assert_allclose(out.numpy(), [1 + 1 + 0.75, 2 + 1.5, 3, 4 + 2.5, 5])


@pytest.mark.parametrize("damping", [0.01, 1.0, 100.0])
def test_damping_shrinks_the_weights(damping):
    actor, obs, actions, seg_obs, seg_actions, utility = _setup(2)
    base = t2_weights(actor, obs, actions, [0], seg_obs, seg_actions, utility, damping=1e-3)
    damped = t2_weights(actor, obs, actions, [0], seg_obs, seg_actions, utility, damping=damping)
    assert damped.c.norm() <= base.c.norm() * 1.0001
