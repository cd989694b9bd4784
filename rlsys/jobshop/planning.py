"""Planning over a learned dispatching policy: spend more time, get better schedules.

Three planners, each named as a suffix of a policy (``pretrained@sample:8``,
``runs/.../best.pt@rollout:8``, ``pretrained-large@follow:64``), so every command that takes
a policy name takes them:

- ``sample:N`` (p = 0 only): N schedules of the whole instance, the first greedy and the
  others sampled from the policy's distribution (``temperature``), in lockstep so that one
  batched policy call serves every schedule's decision; the shortest is kept. With N = 1 it
  is the pure greedy policy. Under shutdowns picking the best of N schedules that all ran
  against the true disruptions would be clairvoyant, so it is refused there.
- ``follow:N``: plan before the shop starts, then follow the plan. The plan is ``sample:N``'s
  best of N schedules at p = 0 (no disruption is known in advance); under shutdowns each
  machine keeps the plan's order of jobs while the times shift with the downtime
  (``Simulator(plan=...)``, predictive-reactive scheduling: no decision online). Shutdowns
  at the rates measured here change which orders are good very little (README, "Following
  a plan under shutdowns"), so this buys under shutdowns what sampling buys at p = 0.
- ``rollout:N``: online lookahead at every decision. Each candidate job is sent in N copies
  of the episode, and every copy is finished by the policy, all copies of all candidates
  in one batched policy call per step.
  Under shutdowns each copy has its own sampled future of the disruptions (the past and
  the repairs in progress are what the scheduler knows; the future is drawn from the
  planner's own stream, never from the true one), the copies are finished greedily, and
  the candidate with the lowest mean makespan goes (ties: the greedy choice). The same N
  futures serve every candidate (common random numbers between candidates).
  At p = 0 the future is known, so the copies differ in how they are finished instead:
  the first greedily, the other N - 1 sampled from the policy. The candidate whose greedy
  completion is shortest goes (the pilot method: the path is the same for every N), and
  the best finished copy seen during the episode is kept (any copy is a schedule that can
  be run from that state), so rollout:N is never worse than rollout:1, which is never
  worse than the greedy policy.

  Options, after the count (``rollout:8:z=1:gate=0.95:top=3``):

  - ``z=Z`` (shutdowns, N >= 2): leave the greedy choice only for a candidate whose
    makespan, paired future by future with the greedy candidate's, is lower on average by
    more than Z standard errors of that paired mean (the lowest such mean goes). Without
    it the lowest mean goes, and with one future, or a few over long episodes, that is
    mostly the luck of the draw: the lowest of several noisy means is usually noise, while
    the decisions where the lookahead pays are few (README: on random 25x15 and 50x10 under
    shutdowns ``rollout:1`` is worse than the greedy policy it plans over,
    ``rollout:8:z=1:gate=0.95:top=3`` about 11 points better).
  - ``gate=G`` (G < 1; the default 1 is no gate): no lookahead where the policy gives its
    choice a probability of at least G (it is sure; the rollouts would mostly confirm it),
    so the time goes to the decisions in doubt.
  - ``top=K``: only the policy's K most probable candidates are rolled out.
  - ``time=S``: a budget of S wall-clock seconds per schedule, paced over the episode: a
    decision gets its lookahead only while the time spent is below S times the share of
    operations started so far (plus one operation's share), and otherwise the policy's
    choice goes (spent at the start instead, a budget would buy lookahead for the first
    decisions only). The last lookahead can overrun S. What a budget buys depends on the
    machine and its load, so budgeted schedules need not repeat; without ``time`` the
    planner is deterministic.
  - ``depth=D`` (with ``finish=RULE``, LOR by default): truncated rollouts. Each copy is
    run by the policy for at most D decisions and finished by the dispatching rule, which
    costs next to nothing (a rule finishes a 100x20 episode in milliseconds, where the
    policy needs a forward pass per decision); ``depth=0`` scores the candidates by rule
    completions alone (a pilot method over the rule). The rule is non-delay
    (``run_rule(..., waiting_only=True)``): in the ``reserve`` model it never keeps a
    machine for a job on its way. Scores are makespans of finished schedules as before,
    so ``z``, ``gate``, ``top`` and ``time`` apply unchanged.

The planners' randomness comes from ``default_rng([seed, tag])`` of the evaluation seed,
apart from the disruption stream (like RANDOM's).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from envs.jobshop.sim import Simulator
from rlsys.jobshop.policies import OverLearnedPolicy
from rlsys.jobshop.rules import RULES, run_rule
from rlsys.rl.distributions import MaskedCategorical

_SAMPLE_TAG, _ROLLOUT_TAG = 0x53414D50, 0x524F4C4C
_OPTIONS = ("z", "gate", "top", "time", "depth", "finish")


@dataclass(frozen=True)
class PlanSpec:
    """``sample:N``, ``follow:N`` or
    ``rollout:N[:z=Z][:gate=G][:top=K][:time=S][:depth=D[:finish=RULE]]``
    (the text after ``@`` in a policy name; the options are the rollout planner's, module
    docstring)."""

    kind: str
    n: int
    z: float = 0.0
    gate: float = 1.0
    top: int = 0
    time: float = 0.0  # seconds per schedule; 0: no budget
    depth: int | None = None  # policy decisions per rollout before the rule; None: all
    finish: str = "LOR"  # the rule that finishes a truncated rollout

    @classmethod
    def parse(cls, text: str) -> PlanSpec:
        kind, _, rest = text.partition(":")
        count, *options = rest.split(":")
        try:
            n = int(count)
        except ValueError:
            n = 0
        if kind not in ("sample", "follow", "rollout") or n < 1:
            raise ValueError(f"bad plan {text!r}: use sample:N, follow:N or rollout:N with N >= 1")
        values = {}
        for option in options:
            key, _, value = option.partition("=")
            if kind != "rollout" or key not in _OPTIONS or key in values:
                raise ValueError(f"bad plan option {option!r} in {text!r}: rollout:N takes "
                                 "z=Z, gate=G, top=K, time=S, depth=D and finish=RULE")  # fmt: skip
            if key == "finish":
                values[key] = value.upper()
                continue
            try:
                values[key] = int(value) if key in ("top", "depth") else float(value)
            except ValueError:
                raise ValueError(f"bad plan option {option!r} in {text!r}: not a number") from None
        spec = cls(kind, n, **values)
        if spec.z < 0 or (spec.z > 0 and n < 2):
            raise ValueError(f"{text!r}: z needs z >= 0 and N >= 2 (a paired standard error)")
        if not 0 < spec.gate <= 1:
            raise ValueError(f"{text!r}: gate is a probability in (0, 1], got {spec.gate}")
        if spec.top == 1 or spec.top < 0:
            raise ValueError(f"{text!r}: top needs K >= 2 candidates, got {spec.top}")
        if "time" in values and not spec.time > 0:
            raise ValueError(f"{text!r}: time is a budget in seconds > 0, got {spec.time}")
        if spec.depth is not None and spec.depth < 0:
            raise ValueError(f"{text!r}: depth needs D >= 0 policy decisions, got {spec.depth}")
        if "finish" in values and spec.depth is None:
            raise ValueError(f"{text!r}: finish=RULE finishes truncated rollouts; add depth=D")
        if spec.finish not in RULES:
            raise ValueError(
                f"{text!r}: finish takes a deterministic rule ({', '.join(RULES)}), "
                f"got {spec.finish!r}"
            )
        return spec


class _Lockstep:
    """Runs several simulators of one instance to the end with batched policy calls."""

    def __init__(self, policy, instance) -> None:
        from envs.jobshop.env import GraphTopology

        self.policy = policy
        self.topology = GraphTopology(instance)

    def logits(self, sims: list[Simulator]) -> tuple[torch.Tensor, torch.Tensor]:
        from envs.jobshop.env import observe

        logits, mask, _ = self.policy(
            self.policy.collate([observe(s, self.topology) for s in sims])
        )
        return logits, mask

    @torch.no_grad()
    def finish(self, sims: list[Simulator], choose=None, rounds: int | None = None) -> None:
        """Step every sim to its end, or by at most ``rounds`` decisions each;
        ``choose(logits, mask, active)`` picks actions (default: greedy)."""
        active = [s for s in sims if not s.done]
        left = math.inf if rounds is None else rounds
        while active and left > 0:
            left -= 1
            logits, mask = self.logits(active)
            if choose is None:
                actions = MaskedCategorical(logits, mask).mode()
            else:
                actions = choose(logits, mask, active)
            for sim, job in zip(active, actions.tolist(), strict=True):
                sim.step(job)
            active = [s for s in active if not s.done]


class SamplingPlanner(OverLearnedPolicy):
    """``sample:N``: the best of N schedules (greedy + N-1 sampled); p = 0 only."""

    def __init__(self, policy, n: int, seed: int = 0, temperature: float = 1.0) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.policy, self.n, self.temperature = policy, n, float(temperature)
        self.generator = torch.Generator().manual_seed(
            int(np.random.default_rng([seed, _SAMPLE_TAG]).integers(2**62))
        )

    @staticmethod
    def check_shutdown_prob(prob: float) -> None:
        """Refuse p > 0 (the one place that says why)."""
        if prob > 0:
            raise ValueError(
                "sample:N keeps the best of N schedules run against the true disruptions, "
                "which is clairvoyant under shutdowns; evaluate it at p = 0, or use rollout:N"
            )

    def run(self, sim: Simulator) -> Simulator:
        """The finished episode with the shortest makespan among the N (earliest on ties)."""
        self.check_shutdown_prob(sim.shutdown_prob)
        sims = [sim] + [sim.fork() for _ in range(self.n - 1)]
        greedy = sims[0]
        _Lockstep(self.policy, sim.instance).finish(
            sims, _greedy_or_sampled({id(greedy)}, self.temperature, self.generator)
        )
        return _shortest(sims)


class FollowPlanner(OverLearnedPolicy):
    """``follow:N``: the best of N p = 0 schedules (``sample:N``) as the plan, then the plan
    followed on the true disruptions (module docstring)."""

    def __init__(self, policy, n: int, seed: int = 0) -> None:
        self.policy, self.n, self.seed = policy, n, seed

    def run(self, sim: Simulator) -> Simulator:
        """The plan followed on ``sim``'s instance, options and disruption seed; a plan that
        ends in a deadlock (no swaps) is not followed: the policy then acts greedily."""
        options = dict(swaps=sim.swaps, repair=sim.shutdowns.repair, resume=sim.resume)
        inst = sim.instance
        # The plan does not depend on the shutdown probability: an evaluation over several
        # p makes it once per instance and seed (kept with the policy, which loads once).
        plans = self.policy.__dict__.setdefault("_follow_plans", {})
        key = (self.n, self.seed, inst.name, inst.machines.tobytes(), inst.times.tobytes(),
               repr(options))  # fmt: skip
        if key not in plans:
            planned = SamplingPlanner(self.policy, self.n, seed=self.seed).run(
                Simulator(inst, 0.0, sim.seed, decisions=self.decisions, **options)
            )
            plans[key] = None if planned.deadlock else planned.schedule()
        if plans[key] is None:
            _Lockstep(self.policy, inst).finish([sim])
            return sim
        return sim.follow(plans[key])


def _greedy_or_sampled(greedy: set[int], temperature: float, generator: torch.Generator):
    """A ``_Lockstep.finish`` chooser: the sims whose id is in ``greedy`` act greedily,
    the others sample from the policy at ``temperature``."""

    def choose(logits, mask, active):
        actions = MaskedCategorical(logits / temperature, mask).sample(generator)
        rows = [k for k, s in enumerate(active) if id(s) in greedy]
        if rows:
            actions[rows] = MaskedCategorical(logits[rows], mask[rows]).mode()
        return actions

    return choose


def _shortest(sims: list[Simulator]) -> Simulator:
    """The finished sim with the shortest makespan (the earliest on ties; deadlocks last)."""
    return min(sims, key=lambda s: (s.deadlock, s.makespan or 0))


class RolloutPlanner(OverLearnedPolicy):
    """``rollout:N``: per decision, each candidate scored by N rollouts (module docstring):
    the mean makespan against N sampled futures under shutdowns; at p = 0 its greedy
    completion, with N - 1 sampled completions feeding the kept best schedule."""

    def __init__(
        self,
        policy,
        n: int,
        seed: int = 0,
        temperature: float = 1.0,
        z: float = 0.0,
        gate: float = 1.0,
        top: int = 0,
        budget: float = 0.0,
        depth: int | None = None,
        finish: str = "LOR",
    ) -> None:
        self.policy, self.n, self.temperature = policy, n, float(temperature)
        self.z, self.gate, self.top = float(z), float(gate), int(top)  # options, see above
        self.budget = float(budget)  # seconds per schedule (time=S); 0: none
        self.depth, self.finish = depth, RULES[finish.upper()]  # truncated rollouts
        self._started = math.nan  # run()'s start when there is a budget
        self.rng = np.random.default_rng([seed, _ROLLOUT_TAG])
        # p = 0's sampled completions: a stream apart from the futures' seeds
        completions = np.random.default_rng([seed, _ROLLOUT_TAG, 1]).integers(2**62)
        self.generator = torch.Generator().manual_seed(int(completions))
        self.steps: _Lockstep | None = None
        self._instance = None
        self.last_scores: dict[int, float] = {}  # candidate -> its rollouts' score
        self.incumbent: Simulator | None = None  # p = 0: the best finished rollout so far

    def run(self, sim: Simulator) -> Simulator:
        """The whole episode; at p = 0 the best of it and the best rollout seen."""
        self.incumbent = None
        if self.budget > 0:
            self._started = time.perf_counter()
        try:
            while not sim.done:
                sim.step(self(sim, sim.candidates))
        finally:
            self._started = math.nan
        if self.incumbent is not None:
            return _shortest([sim, self.incumbent])
        return sim

    @torch.no_grad()
    def __call__(self, sim: Simulator, candidates: list[int]) -> int:
        if sim.instance is not self._instance:
            self._instance, self.steps = sim.instance, _Lockstep(self.policy, sim.instance)
        logits, mask = self.steps.logits([sim])
        policy = MaskedCategorical(logits, mask)
        greedy = int(policy.mode()[0])
        self.last_scores = {}
        if len(candidates) < 2 or self._over_budget(sim):
            return greedy
        probs = policy.probs[0]
        # the default gate 1 is off: a float32 softmax can round a sure choice to exactly 1
        if self.gate < 1 and float(probs[greedy]) >= self.gate:
            return greedy
        if 0 < self.top < len(candidates):
            kept = set(torch.topk(probs, self.top).indices.tolist())  # greedy among them
            candidates = [job for job in candidates if job in kept]
        n, known = self.n, not sim.shutdowns.active
        rollouts = []
        if known:  # one world; copies differ in how they are finished
            for job in candidates:
                for _ in range(n):
                    copy = sim.fork()
                    copy.step(job)
                    rollouts.append(copy)
            greedy_ids = {id(r) for r in rollouts[::n]}
            self.steps.finish(
                rollouts,
                _greedy_or_sampled(greedy_ids, self.temperature, self.generator),
                self.depth,
            )
        else:
            seeds = self.rng.integers(2**62, size=n)
            futures = [sim.shutdowns.resampled(sim.t, int(s)) for s in seeds]
            for job in candidates:
                for future in futures:
                    copy = sim.fork(future.copy())
                    copy.step(job)
                    rollouts.append(copy)
            self.steps.finish(rollouts, rounds=self.depth)
        if self.depth is not None:
            for rollout in rollouts:
                run_rule(rollout, self.finish, waiting_only=True)
        spans = np.array(
            [np.inf if r.deadlock else r.makespan for r in rollouts], dtype=float
        ).reshape(len(candidates), n)
        # p = 0: the greedy completion decides (the pilot method's path, whatever N is);
        # the sampled ones can only improve the kept incumbent
        scores = spans[:, 0] if known else spans.mean(axis=1)
        if known:
            self.incumbent = _shortest([r for r in (self.incumbent, *rollouts) if r is not None])
        self.last_scores = dict(zip(candidates, scores.tolist(), strict=True))
        if not known and self.z > 0:
            row = significant_improvement(spans, candidates.index(greedy), self.z)
            return greedy if row is None else candidates[row]
        return lowest_or_greedy(scores, candidates, greedy)

    def _over_budget(self, sim: Simulator) -> bool:
        """Under ``time=S`` in ``run``: ahead of the pace of S seconds per episode."""
        if math.isnan(self._started):
            return False
        total = sim.n_jobs * sim.n_ops
        dispatched = int(sim.next_op.sum())  # operations started, over all jobs
        allowed = self.budget * min(1.0, (dispatched + 1) / total)
        return time.perf_counter() - self._started >= allowed


def lowest_or_greedy(scores: np.ndarray, candidates: list[int], greedy: int) -> int:
    """The candidate with the lowest score, the greedy one where it ties for lowest."""
    best = np.flatnonzero(scores == scores.min())
    return greedy if candidates.index(greedy) in best else candidates[int(best[0])]


def significant_improvement(spans: np.ndarray, greedy: int, z: float) -> int | None:
    """The row of ``spans`` [candidates, futures] (makespans, the same futures in every
    column) whose mean paired difference to row ``greedy`` is the lowest among those below
    ``-z`` standard errors of it; None when no row is (keep the greedy choice). A deadlock
    (inf) counts as twice the longest finished makespan."""
    finite = np.isfinite(spans)
    worst = 2 * spans[finite].max() if finite.any() else 1.0
    diffs = np.where(finite, spans, worst)
    diffs = diffs - diffs[greedy]
    mean = diffs.mean(axis=1)
    se = diffs.std(axis=1, ddof=1) / np.sqrt(spans.shape[1])
    ok = mean < -z * se
    if not ok.any():
        return None
    return int(np.argmin(np.where(ok, mean, np.inf)))
