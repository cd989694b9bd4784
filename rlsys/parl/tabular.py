"""PARL's tabular task: the bilevel problem solved exactly, and its hypergradient.

Everything is float64 torch on a known MDP (``envs.preference.GridWorld``):

- upper variable nu [S, A]: the reward table r_nu(s, a) = nu[s, a];
- lower variable theta [S, A - 1]: policy logits (the last action's logit is 0, so the
  softmax is one-to-one and the Hessian below is not singular);
- lower objective J(theta, nu) = mu0 . V, V = (I - gamma P_pi)^-1 (r_pi + tau H(pi)): the
  entropy-regularised discounted return of pi_theta under r_nu. Its maximiser
  theta*(nu) is the soft-optimal policy, found exactly by soft value iteration;
- query distribution rho(y; theta): a segment y = (s_0, a_0, ..., s_{L-1}, a_{L-1}) whose
  s_0 is drawn from the normalised discounted occupancy of pi_theta, then steps of
  pi_theta and P; a query is two independent segments;
- upper objective G(nu) = E_{y0, y1 ~ rho(theta*(nu))} U_nu(y0, y1), U the expected
  Bradley-Terry log-likelihood of the teacher's label (``Teacher.probability``) under
  returns computed with r_nu. Every segment of a small MDP is enumerated, so G is exact.

Hypergradient (implicit function theorem at grad_theta J(theta*, nu) = 0):

    dG/dnu = T1 + T2,   T1 = dG/dnu at fixed theta,
                        T2 = (dtheta*/dnu)^T w = M^T (-H)^-1 w,
    w = dG/dtheta at fixed nu,  H = d2J/dtheta2,  M = d2J/(dtheta dnu).

``hypergradient`` computes it with the exact inverse (``solver="exact"``) or with damped
conjugate gradient on Hessian-vector products (``solver="cg"``, what the sampled A-PARL
uses); M^T x is one mixed vector-Jacobian product, so M is never formed.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.func import grad, jacrev

from rlsys.config import Config, config_field
from rlsys.parl.teachers import Teacher, TeacherConfig

MAX_SEGMENTS = 5000
"""exact G pairs every segment with every other: (S A)^L must stay below this"""


def conjugate_gradient(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    b: torch.Tensor,
    iterations: int = 50,
    damping: float = 0.0,
    tol: float = 1e-12,
) -> torch.Tensor:
    """Solve (A + damping I) x = b for a symmetric positive definite A given by
    ``matvec`` (Hessian-vector products); stops after ``iterations`` or when the
    residual norm is below ``tol``."""
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rs = r @ r
    for _ in range(iterations):
        if rs.sqrt() < tol:
            break
        ap = matvec(p) + damping * p
        alpha = rs / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = r @ r
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def trust_scale(t1_norm: float, t2_norm: float, ratio: float) -> float:
    """T2's trust region: the factor min(1, ratio * |T1| / |T2|) that scales T2 to at
    most ``ratio`` times T1's norm (1 when T2 is zero)."""
    if t2_norm <= ratio * t1_norm:
        return 1.0
    return ratio * t1_norm / t2_norm


class TabularProblem:
    """The exact bilevel problem on a known MDP (see the module docstring).

    mdp: anything with ``P`` [S, A, S], ``R`` [S, A] (the true reward), ``mu0`` [S].
    teacher: labels queries from true segment returns (its ``probability`` is used).
    """

    def __init__(
        self,
        mdp,
        teacher: Teacher,
        gamma: float = 0.9,
        tau: float = 0.1,
        segment_length: int = 2,
    ) -> None:
        self.P = torch.as_tensor(mdp.P, dtype=torch.float64)
        self.R = torch.as_tensor(mdp.R, dtype=torch.float64)
        self.mu0 = torch.as_tensor(mdp.mu0, dtype=torch.float64)
        self.S, self.A = self.R.shape
        self.gamma, self.tau, self.L = gamma, tau, segment_length
        self.teacher = teacher
        self._segments: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    # ---------------------------------------------------------------- lower level
    def policy(self, theta: torch.Tensor) -> torch.Tensor:
        """theta [S, A-1] -> pi [S, A] (softmax with the last logit fixed at 0)."""
        logits = torch.cat([theta, torch.zeros(self.S, 1, dtype=theta.dtype)], dim=1)
        return torch.softmax(logits, dim=1)

    def values(self, theta: torch.Tensor, reward: torch.Tensor, tau: float) -> torch.Tensor:
        """V [S] of pi_theta under ``reward`` [S, A] with entropy weight ``tau``."""
        pi = self.policy(theta)
        r_pi = (pi * reward).sum(1) - tau * (pi * pi.clamp_min(1e-300).log()).sum(1)
        p_pi = torch.einsum("sa,sat->st", pi, self.P)
        eye = torch.eye(self.S, dtype=torch.float64)
        return torch.linalg.solve(eye - self.gamma * p_pi, r_pi)

    def objective(self, theta: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        """J(theta, nu): the lower level's entropy-regularised return from mu0."""
        return self.mu0 @ self.values(theta, nu, self.tau)

    def true_return(self, theta: torch.Tensor) -> float:
        """Discounted true return of pi_theta from mu0 (no entropy term)."""
        return float(self.mu0 @ self.values(theta.detach(), self.R, 0.0))

    def aligned_return(self, nu: torch.Tensor, tol: float = 1e-13) -> float:
        """True discounted return of the deterministic policy that is optimal for ``nu``
        (greedy in nu's optimal Q, value iteration to ``tol``; ties go to the first action).

        A Bradley-Terry fit pins a reward only up to scale (and shift, which changes no
        policy here: there is no terminal state), and a larger scale is a colder policy
        at the fixed entropy weight tau, so the lower level's true return also rewards
        reward *scale*. This one does not: it is invariant to positive scale and shift,
        nu = R scores the true optimum, and no reward scores more.
        """
        nu = nu.detach()
        v = torch.zeros(self.S, dtype=torch.float64)
        for _ in range(100_000):
            v_new = (nu + self.gamma * self.P @ v).max(dim=1).values
            done = (v_new - v).abs().max() < tol
            v = v_new
            if done:
                break
        best = (nu + self.gamma * self.P @ v).argmax(dim=1)
        states = torch.arange(self.S)
        p_pi, r_pi = self.P[states, best], self.R[states, best]
        eye = torch.eye(self.S, dtype=torch.float64)
        return float(self.mu0 @ torch.linalg.solve(eye - self.gamma * p_pi, r_pi))

    def solve_lower(self, nu: torch.Tensor, tol: float = 1e-13) -> torch.Tensor:
        """theta*(nu) by soft value iteration (a gamma-contraction) to ``tol``."""
        nu = nu.detach()
        v = torch.zeros(self.S, dtype=torch.float64)
        for _ in range(100_000):
            q = nu + self.gamma * self.P @ v
            v_new = self.tau * torch.logsumexp(q / self.tau, dim=1)
            done = (v_new - v).abs().max() < tol
            v = v_new
            if done:
                break
        q = nu + self.gamma * self.P @ v
        return (q[:, :-1] - q[:, -1:]) / self.tau

    # ---------------------------------------------------------------- upper level
    def occupancy(self, theta: torch.Tensor) -> torch.Tensor:
        """Normalised discounted state occupancy [S] of pi_theta from mu0."""
        p_pi = torch.einsum("sa,sat->st", self.policy(theta), self.P)
        eye = torch.eye(self.S, dtype=torch.float64)
        return (1 - self.gamma) * torch.linalg.solve((eye - self.gamma * p_pi).T, self.mu0)

    def segments(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every segment: states [N, L], actions [N, L] (long), and the teacher's label
        probabilities for every pair [N, N] (NaN: the teacher skips that query)."""
        if self._segments is None:
            n = (self.S * self.A) ** self.L
            if n > MAX_SEGMENTS:
                raise ValueError(
                    f"exact G needs (S*A)^L = {n} segments (> {MAX_SEGMENTS}): use a smaller "
                    "grid or a shorter segment"
                )
            pairs = list(itertools.product(range(self.S * self.A), repeat=self.L))
            idx = torch.tensor(pairs, dtype=torch.long)
            states, actions = idx // self.A, idx % self.A
            true = self.R[states, actions].numpy()  # [N, L]
            p = self.teacher.probability(
                np.repeat(true[:, None], len(true), 1).reshape(-1, self.L),
                np.repeat(true[None], len(true), 0).reshape(-1, self.L),
            )
            label_p = torch.as_tensor(p.reshape(len(true), len(true)), dtype=torch.float64)
            self._segments = (states, actions, label_p)
        return self._segments

    def segment_probabilities(self, theta: torch.Tensor) -> torch.Tensor:
        """rho(y; theta) [N] of every segment (sums to 1)."""
        states, actions, _ = self.segments()
        pi = self.policy(theta)
        prob = self.occupancy(theta)[states[:, 0]]
        for t in range(self.L):
            prob = prob * pi[states[:, t], actions[:, t]]
            if t + 1 < self.L:
                prob = prob * self.P[states[:, t], actions[:, t], states[:, t + 1]]
        return prob

    def utility(self, nu: torch.Tensor) -> torch.Tensor:
        """U_nu [N, N]: expected Bradley-Terry log-likelihood of the teacher's label for
        every pair of segments (0 where the teacher skips)."""
        states, actions, label_p = self.segments()
        ret = nu[states, actions].sum(1)
        diff = ret[:, None] - ret[None, :]
        u = label_p * torch.nn.functional.logsigmoid(diff) + (1 - label_p) * (
            torch.nn.functional.logsigmoid(-diff)
        )
        return torch.where(torch.isnan(label_p), torch.zeros_like(u), u)

    def upper(self, theta: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
        """G(theta, nu) = E_{y0, y1 ~ rho(theta)} U_nu(y0, y1)."""
        rho = self.segment_probabilities(theta)
        return rho @ self.utility(nu) @ rho

    def G(self, nu: torch.Tensor) -> torch.Tensor:
        """The upper objective at the exact lower-level solution theta*(nu)."""
        return self.upper(self.solve_lower(nu), nu)

    # ---------------------------------------------------------------- hypergradient
    def hvp(self, theta: torch.Tensor, nu: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """v [S*(A-1)] -> (-H) v, H = d2J/dtheta2 at (theta, nu)."""

        def grad_dot(th: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return grad(lambda t: self.objective(t, nu))(th).reshape(-1) @ v

        hess_v = grad(grad_dot)

        return lambda v: -hess_v(theta, v).reshape(-1)

    def mixed_vjp(self, theta: torch.Tensor, nu: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """M^T x = d/dnu (grad_theta J(theta, nu) . x), [S, A]."""

        def f(n: torch.Tensor) -> torch.Tensor:
            return grad(lambda t: self.objective(t, n))(theta).reshape(-1) @ x

        return grad(f)(nu)

    def hypergradient(
        self,
        nu: torch.Tensor,
        theta: torch.Tensor | None = None,
        solver: str = "exact",
        damping: float = 0.0,
        cg_iterations: int = 100,
    ) -> dict[str, torch.Tensor]:
        """dG/dnu by the implicit function theorem: {"T1", "T2", "total"} each [S, A].

        theta defaults to the exact theta*(nu); solver 'exact' inverts -H (plus
        damping I), 'cg' runs ``cg_iterations`` of damped conjugate gradient.
        """
        nu = nu.detach()
        self.segments()  # built outside the transforms below (it goes through numpy)
        theta = self.solve_lower(nu) if theta is None else theta.detach()
        t1 = grad(lambda n: self.upper(theta, n))(nu)
        w = grad(lambda t: self.upper(t, nu))(theta).reshape(-1)
        if solver == "exact":
            neg_h = -jacrev(grad(lambda t: self.objective(t, nu)))(theta).reshape(w.numel(), -1)
            x = torch.linalg.solve(neg_h + damping * torch.eye(w.numel(), dtype=w.dtype), w)
        elif solver == "cg":
            x = conjugate_gradient(self.hvp(theta, nu), w, cg_iterations, damping)
        else:
            raise ValueError(f"hypergradient solver {solver!r}: 'exact' or 'cg'")
        t2 = self.mixed_vjp(theta, nu, x)
        return {"T1": t1, "T2": t2, "total": t1 + t2}


# -------------------------------------------------------------------- the sampled loop
@dataclass
class TabularConfig(Config):
    """A-PARL / PEBBLE / oracle on the gridworld, with sampled queries (exact model)."""

    size: int = config_field(3, ge=2)
    """grid side"""
    slip: float = config_field(0.2, ge=0, le=1)
    """chance that a move goes in a random direction"""
    gamma: float = config_field(0.8, gt=0, lt=1)
    """discount"""
    tau: float = config_field(0.5, gt=0)
    """entropy weight of the lower level"""
    segment_length: int = config_field(2, ge=1)
    """steps per segment"""
    method: Literal["parl", "pebble", "oracle"] = "parl"
    """parl (on-policy queries, T1 + T2), pebble (replayed queries, T1), oracle"""
    teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
    """the scripted teacher"""
    iterations: int = config_field(40, ge=1)
    """outer (upper-level) steps"""
    lower_steps: int = config_field(5, ge=1)
    """K: exact policy-gradient steps of the lower level per outer step (warm-started)"""
    lower_lr: float = config_field(2.0, gt=0)
    """step size of the lower level"""
    queries_per_iteration: int = config_field(10, ge=1)
    """fresh labels per outer step"""
    upper_lr: float = config_field(0.1, gt=0)
    """Adam step size of the reward table"""
    first_order: bool = False
    """parl without T2"""
    damping: float = config_field(0.01, ge=0)
    """CG damping of the T2 solve"""
    cg_iterations: int = config_field(20, ge=1)
    """CG iterations of the T2 solve"""
    trust_ratio: float | None = config_field(1.0, gt=0)
    """trust region: T2 is scaled down to at most this multiple of T1's norm (as the
    network task's ``hypergradient.trust_ratio``); None: T2 as estimated. 1.0 from a
    sweep of None / 1 / 0.3 / 0.1 on seeds 100-104 (the bench reports seeds 0-4)"""
    seed: int = config_field(0, ge=0)
    """seeds query sampling and the teacher"""


def run_tabular(cfg: TabularConfig, progress=None) -> list[dict[str, float]]:
    """Run the loop; one row per outer step: iteration, queries, true_return (of the
    current policy, discounted, no entropy), aligned_return (``aligned_return`` of the
    reward learned so far; the oracle's: of the true reward), samples (2 L env steps per
    query)."""
    from envs.preference import GridWorld

    prob = TabularProblem(
        GridWorld(cfg.size, cfg.slip),
        Teacher(cfg.teacher, seed=cfg.seed),
        cfg.gamma,
        cfg.tau,
        cfg.segment_length,
    )
    states, actions, _ = prob.segments()
    true_seg = prob.R[states, actions].numpy()  # [N, L]
    gen = torch.Generator().manual_seed(cfg.seed)
    nu = torch.zeros(prob.S, prob.A, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([nu], lr=cfg.upper_lr)
    theta = torch.zeros(prob.S, prob.A - 1, dtype=torch.float64)
    past: list[torch.Tensor] = []
    labelled_i: list[int] = []
    labelled_j: list[int] = []
    labels: list[float] = []
    rows = []
    for it in range(cfg.iterations):
        reward = prob.R if cfg.method == "oracle" else nu.detach()
        for _ in range(cfg.lower_steps):
            theta = theta + cfg.lower_lr * grad(lambda t, r=reward: prob.objective(t, r))(theta)
        past.append(theta.clone())
        if cfg.method != "oracle":
            q = cfg.queries_per_iteration
            if cfg.method == "parl":
                source = [theta] * q
            else:  # replay: each query from a uniformly drawn past policy
                pick = torch.randint(0, len(past), (q,), generator=gen).tolist()
                source = [past[k] for k in pick]
            i, j = [], []
            for th in source:
                rho = prob.segment_probabilities(th).clamp_min(0)
                a, b = torch.multinomial(rho, 2, replacement=True, generator=gen).tolist()
                i.append(a)
                j.append(b)
            y = prob.teacher.label(true_seg[i], true_seg[j])
            labelled_i += i
            labelled_j += j
            labels += y.tolist()

            li = torch.tensor(labelled_i)
            lj = torch.tensor(labelled_j)
            ly = torch.tensor(labels, dtype=torch.float64)

            def loglik(n: torch.Tensor, a=li, b=lj, lab=ly) -> torch.Tensor:
                ret = n[states, actions].sum(1)
                keep = ~torch.isnan(lab)
                d = (ret[a] - ret[b])[keep]
                yy = lab[keep]
                return (
                    yy * torch.nn.functional.logsigmoid(d)
                    + (1 - yy) * torch.nn.functional.logsigmoid(-d)
                ).mean()

            total = grad(loglik)(nu.detach())  # T1 on every label so far
            if cfg.method == "parl" and not cfg.first_order:
                fi, fj = torch.tensor(i), torch.tensor(j)
                fy = torch.tensor(y, dtype=torch.float64)
                keep = ~torch.isnan(fy)
                with torch.no_grad():
                    ret = nu[states, actions].sum(1)
                    d = ret[fi] - ret[fj]
                    u = fy * torch.nn.functional.logsigmoid(d) + (1 - fy) * (
                        torch.nn.functional.logsigmoid(-d)
                    )
                    u = torch.where(keep, u - u[keep].mean(), torch.zeros_like(u))

                def score(t: torch.Tensor, a=fi, b=fj, weight=u) -> torch.Tensor:
                    log_rho = prob.segment_probabilities(t).clamp_min(1e-300).log()
                    return (weight * (log_rho[a] + log_rho[b])).mean()

                w = grad(score)(theta).reshape(-1)
                x = conjugate_gradient(
                    prob.hvp(theta, nu.detach()), w, cfg.cg_iterations, cfg.damping
                )
                t2 = prob.mixed_vjp(theta, nu.detach(), x)
                if cfg.trust_ratio is not None:
                    t2 = t2 * trust_scale(float(total.norm()), float(t2.norm()), cfg.trust_ratio)
                total = total + t2
            optimizer.zero_grad()
            nu.grad = -total  # ascent on G
            optimizer.step()
        rows.append(
            {
                "iteration": it + 1,
                "queries": float(len(labels)),
                "samples": float(2 * cfg.segment_length * len(labels)),
                "true_return": prob.true_return(theta),
                "aligned_return": prob.aligned_return(prob.R if cfg.method == "oracle" else nu),
            }
        )
        if progress is not None:
            progress(rows[-1])
    return rows
