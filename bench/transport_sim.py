"""Agent-iterations per second of the transport simulation on one core, versus BEAM.

    python bench/transport_sim.py [--iterations 20] [--repeats 3] [--skip-large]

Rows: the default scenario (`urbansim-10k-like`, 10,000 agents), the same city with
50,000 and 200,000 agents (a bigger sample: capacities, fleet and transit scale with
the agents, so congestion stays comparable), and the `large` scenario (200,000 agents
in a 17 x 17 km city with 81 zones). Each run starts fresh (iteration 0 included), is
repeated, and the median wall time is reported; building the scenario is not timed.

BEAM ran 10,000 agents x 20 iterations in about 4.8 hours (Chhatre et al., 2022):
about 11.6 agent-iterations per second. The goal here is >= 1,000,000 on the default
scenario. Thread pools are limited to one thread (set before numpy is imported) and,
on Linux, the process is pinned to one CPU.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from envs.transport import TransportSim, load_scenario  # noqa: E402

BEAM_AGENT_ITERATIONS_PER_S = 10_000 * 20 / (4.8 * 3600)
GOAL = 1_000_000


def pin_to_one_cpu() -> str:
    """Pin this process to one CPU where the OS allows it; say which."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def time_runs(sim: TransportSim, iterations: int, repeats: int) -> float:
    """Median seconds of a fresh run of ``iterations`` iterations."""
    sim.run(None, 1, seed=0)  # warm caches and lazy imports
    times = []
    for rep in range(repeats):
        start = time.perf_counter()
        sim.run(None, iterations, seed=rep)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true", help="only the 10k default row")
    args = parser.parse_args()
    print(f"transport simulation benchmark, one thread, {pin_to_one_cpu()}")

    cases = [("urbansim-10k-like", None)]
    if not args.skip_large:
        cases += [("urbansim-10k-like", 50_000), ("urbansim-10k-like", 200_000), ("large", None)]
    header = (
        f"{'scenario':<23} {'agents':>8} {'iters':>5} {'seconds':>8} {'ms/iter':>8} "
        f"{'agent-it/s':>12} {'vs BEAM':>10} {'vs 10k/agent':>12}"
    )
    print(header)
    print("-" * len(header))
    per_agent_10k = None
    for name, agents in cases:
        sim = TransportSim(load_scenario(name, agents=agents))
        n = sim.scenario.n_agents
        seconds = time_runs(sim, args.iterations, args.repeats)
        rate = n * args.iterations / seconds
        per_agent = seconds / n
        per_agent_10k = per_agent_10k or per_agent
        label = name if agents is None else f"{name}@{n // 1000}k"
        print(
            f"{label:<23} {n:>8,} {args.iterations:>5} {seconds:>8.3f} "
            f"{1000 * seconds / args.iterations:>8.2f} {rate:>12,.0f} "
            f"{rate / BEAM_AGENT_ITERATIONS_PER_S:>9,.0f}x {per_agent / per_agent_10k:>11.2f}x"
        )
        if name == "urbansim-10k-like" and agents is None:
            verdict = "meets" if rate >= GOAL else "MISSES"
            print(f"  -> {verdict} the goal of {GOAL:,} agent-iterations/s on the default scenario")
    print(
        f"BEAM: 10,000 agents x 20 iterations in 4.8 h = {BEAM_AGENT_ITERATIONS_PER_S:.1f} "
        "agent-iterations/s; 'vs 10k/agent' is the cost per agent relative to the 10k row"
    )


if __name__ == "__main__":
    main()
