"""Policies by name: a dispatching rule (SPT, MWKR, ..., RANDOM), ``pretrained`` (the GNN
policy shipped in the package: small and fast), ``pretrained-large`` (the larger shipped
network: better schedules, about twice the time per schedule) or a path to a policy /
checkpoint file (``*.pt``); a learned
policy may carry a planner, ``pretrained@sample:8`` or ``pretrained@rollout:8``
(``rlsys/jobshop/planning.py``); ``plan:FILE.json`` or ``plan:DIR`` follows a planned
schedule's machine sequences under the disruptions (``PlanExecutor``, e.g. CP-SAT's
schedule from ``rlsys jobshop solve --out``).

A policy is a callable ``(sim, candidates) -> job``; a planner that builds whole schedules
(``sample:N``) also has ``run(sim) -> finished sim``, which ``run_policy`` prefers. Learned
policies act greedily (the most probable job) and planners draw from streams of the seed,
so evaluations are deterministic for a seed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from envs.jobshop.sim import Simulator
from rlsys.jobshop.rules import RULE_NAMES, Rule, make_rule

PRETRAINED = Path(__file__).parent / "pretrained" / "gnn_ppo.pt"
# hidden 64, 5 layers (configs/jobshop/large.yaml, then 340 updates of large-continue.yaml):
# README "A larger network from scratch" and "More updates for the larger network"
PRETRAINED_LARGE = PRETRAINED.with_name("gnn_ppo_large.pt")
SHIPPED = {"pretrained": PRETRAINED, "pretrained-large": PRETRAINED_LARGE}
# the policy shipped before the reserve decision model (non-delay; the shipped one's start)
PRETRAINED_NONDELAY = PRETRAINED.with_name("gnn_ppo_nondelay.pt")


class OverLearnedPolicy:
    """What acts through a GNN policy (``self.policy``): it acts in that policy's model."""

    policy: object

    @property
    def decisions(self) -> str:
        """The decision model the policy was trained in (``run_policy`` builds its sims so)."""
        return self.policy.config.decisions


class GNNDispatcher(OverLearnedPolicy):
    """Drives a ``Simulator`` with a GNN policy: observe the graph, pick the best job."""

    def __init__(self, policy) -> None:
        self.policy = policy
        self._instance = None
        self._topology = None

    def __call__(self, sim: Simulator, candidates: list[int]) -> int:
        from envs.jobshop.env import GraphTopology, observe

        if sim.instance is not self._instance:
            self._instance, self._topology = sim.instance, GraphTopology(sim.instance)
        actions, *_ = self.policy.act([observe(sim, self._topology)], deterministic=True)
        return int(actions[0])


class PlanExecutor:
    """Follows a planned schedule (``plan:FILE.json`` or ``plan:DIR``, one
    ``DIR/<instance>.json`` per instance, e.g. from ``rlsys jobshop solve --out``): the
    machines take their operations in the plan's order, and the times follow the
    disruptions (``Simulator(plan=...)``: predictive-reactive scheduling, no decisions).
    At p = 0 it replays the plan; a planner, so ``run_policy`` calls ``run``."""

    decisions = "non_delay"  # of the simulator ``run_policy`` builds first: replaced in run

    def __init__(self, source: str) -> None:
        self.source = Path(source)
        if not self.source.exists():
            raise ValueError(f"plan:{source}: no such schedule file or directory")

    def plan_for(self, instance_name: str) -> dict:
        from envs.jobshop.schedule import load_schedule

        path = self.source
        if path.is_dir():
            path = path / f"{instance_name}.json"
            if not path.is_file():
                raise ValueError(f"plan:{self.source}: no plan for {instance_name} ({path.name})")
        return load_schedule(path)

    def run(self, sim: Simulator) -> Simulator:
        return sim.follow(self.plan_for(sim.instance.name))

    def __call__(self, sim: Simulator, candidates: list[int]) -> int:
        raise RuntimeError("a plan makes no decisions: run it with run_policy (it calls run)")


@lru_cache(maxsize=8)
def _load_policy(path: str):
    import torch

    from rlsys.jobshop.policy import JobShopGNNPolicy

    torch.set_num_threads(1)  # one decision at a time: threads only add overhead
    return JobShopGNNPolicy.load(path)


def learned_policy(name: str, what: str = "policy"):
    """The network of a learned policy named as for ``make_policy`` ('pretrained' or a
    policy file); a rule or a planner name is a one-line ``ValueError``."""
    dispatcher = make_policy(name)
    if not isinstance(dispatcher, GNNDispatcher):
        raise ValueError(
            f"{what} must be a learned policy ('pretrained', 'pretrained-large' or a *.pt), "
            f"got {name!r}"
        )
    return dispatcher.policy


def make_policy(name: str, seed: int = 0) -> Rule:
    """The policy called ``name``; ``seed`` only feeds RANDOM's and the planners' own streams."""
    if name.startswith("plan:"):  # a path, which may hold an '@'
        return PlanExecutor(name[len("plan:") :])
    base, plan_sep, plan = name.partition("@")
    if plan_sep:
        from rlsys.jobshop.planning import FollowPlanner, PlanSpec, RolloutPlanner, SamplingPlanner

        spec = PlanSpec.parse(plan)
        dispatcher = make_policy(base, seed)
        if not isinstance(dispatcher, GNNDispatcher):
            raise ValueError(f"{name!r}: planning needs a learned policy, not the rule {base!r}")
        if spec.kind == "sample":
            return SamplingPlanner(dispatcher.policy, spec.n, seed=seed)
        if spec.kind == "follow":
            return FollowPlanner(dispatcher.policy, spec.n, seed=seed)
        return RolloutPlanner(
            dispatcher.policy,
            spec.n,
            seed=seed,
            z=spec.z,
            gate=spec.gate,
            top=spec.top,
            budget=spec.time,
            depth=spec.depth,
            finish=spec.finish,
        )
    if name.lower() in SHIPPED:
        path = SHIPPED[name.lower()]
        if not path.exists():
            raise ValueError(f"no {name.lower()} policy shipped ({path.name} missing)")
        return GNNDispatcher(_load_policy(str(path)))
    if name.endswith(".pt") or "/" in name:
        return GNNDispatcher(_load_policy(str(Path(name).resolve())))
    if name.upper() not in RULE_NAMES:
        raise ValueError(
            f"unknown policy {name!r} (rules: {', '.join(RULE_NAMES)}; "
            "or 'pretrained', 'pretrained-large', a policy file *.pt, or plan:SCHEDULE.json)"
        )
    return make_rule(name, seed=seed)
