"""The exact bilevel problem: lower-level optimality and the hypergradient against finite
differences of the exact upper objective."""

import numpy as np
import pytest
import torch
from torch.func import grad

from envs.preference import GridWorld
from rlsys.parl.tabular import TabularProblem, conjugate_gradient
from rlsys.parl.teachers import Teacher, TeacherConfig


def _problem(kind="noisy"):
    teacher = Teacher(TeacherConfig(kind, beta=2.0))
    return TabularProblem(GridWorld(3, slip=0.2), teacher, gamma=0.8, tau=0.5, segment_length=2)


def _nu(seed=0):
    return torch.tensor(np.random.default_rng(seed).normal(size=(9, 4)) * 0.3)


def test_soft_value_iteration_is_the_lower_level_optimum():
    prob, nu = _problem(), _nu()
    theta = prob.solve_lower(nu)
    g = grad(lambda t: prob.objective(t, nu))(theta)
    assert g.abs().max() < 1e-9
    # and a maximum: random perturbations only lower J
    base = prob.objective(theta, nu)
    for k in range(5):
        delta = torch.randn(theta.shape, generator=torch.Generator().manual_seed(k)) * 0.1
        assert prob.objective(theta + delta, nu) < base


def test_aligned_return_ignores_reward_scale_and_shift_and_peaks_at_the_true_reward():
    prob = _problem()
    optimum = prob.aligned_return(prob.R)
    # the true optimum: above the soft-optimal policy's return on the true reward
    assert optimum > prob.true_return(prob.solve_lower(prob.R))
    for scale, shift in [(7.0, -3.0), (0.05, 2.0)]:
        assert prob.aligned_return(prob.R * scale + shift) == pytest.approx(optimum, abs=1e-9)
    # while the raw lower level rewards a larger scale (a colder policy)
    assert prob.true_return(prob.solve_lower(prob.R * 7)) > prob.true_return(
        prob.solve_lower(prob.R)
    )
    # no reward beats the true one; the negated reward does worse
    for seed in range(5):
        assert prob.aligned_return(_nu(seed)) <= optimum + 1e-12
    assert prob.aligned_return(-prob.R) < optimum - 0.5


def test_segment_distribution_sums_to_one():
    prob = _problem()
    rho = prob.segment_probabilities(prob.solve_lower(_nu()))
    assert rho.shape == ((9 * 4) ** 2,)
    assert float(rho.sum()) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("kind", ["noisy", "mistake"])
def test_hypergradient_matches_finite_differences(kind):
    prob, nu = _problem(kind), _nu(1)
    exact = prob.hypergradient(nu)
    eps = 1e-5
    fd = torch.zeros_like(nu)
    for i in range(nu.shape[0]):
        for a in range(nu.shape[1]):
            e = torch.zeros_like(nu)
            e[i, a] = eps
            fd[i, a] = (prob.G(nu + e) - prob.G(nu - e)) / (2 * eps)
    rel = float((exact["total"] - fd).norm() / fd.norm())
    assert rel < 1e-4, rel
    # the query-distribution term matters: T1 alone (reward learning on fixed data) is off
    assert float((exact["T1"] - fd).norm() / fd.norm()) > 0.05


def test_conjugate_gradient_hypergradient_matches_the_exact_solve():
    prob, nu = _problem(), _nu(2)
    exact = prob.hypergradient(nu, solver="exact")
    cg = prob.hypergradient(nu, solver="cg", cg_iterations=60)
    rel = float((cg["total"] - exact["total"]).norm() / exact["total"].norm())
    assert rel < 1e-8, rel
    damped = prob.hypergradient(nu, solver="cg", damping=1.0)
    assert float((damped["T2"] - exact["T2"]).norm()) > 0  # damping shrinks T2 ...
    assert damped["T2"].norm() < exact["T2"].norm()  # ... towards zero
    with pytest.raises(ValueError, match="solver 'lu'"):
        prob.hypergradient(nu, solver="lu")


def test_conjugate_gradient_solves_a_spd_system():
    a = torch.tensor([[4.0, 1.0], [1.0, 3.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 2.0], dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=10)
    torch.testing.assert_close(a @ x, b)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=10, damping=0.5)
    torch.testing.assert_close((a + 0.5 * torch.eye(2, dtype=a.dtype)) @ x, b)


def test_too_many_segments_is_a_clear_error():
    prob = TabularProblem(GridWorld(6), Teacher(TeacherConfig()), segment_length=3)
    with pytest.raises(ValueError, match="segments"):
        prob.G(torch.zeros(36, 4, dtype=torch.float64))


@pytest.mark.parametrize("method", ["parl", "pebble", "oracle"])
def test_a_short_sampled_run_improves_true_return(method):
    from rlsys.parl.tabular import TabularConfig, run_tabular

    rows = run_tabular(TabularConfig(method=method, iterations=15, seed=1))
    initial = rows[0]["true_return"]
    assert rows[-1]["true_return"] > initial + 0.2, [r["true_return"] for r in rows]
    if method == "oracle":
        assert rows[-1]["queries"] == 0
    else:
        assert rows[-1]["queries"] == 150 and rows[-1]["samples"] == 600
