"""Predator-prey env throughput, ours versus mpe2's simple_spread_v3, in the same run.

    python bench/predator_prey_env.py [--seconds 2] [--repeats 5] [--quick] [--out FILE.md]

What is measured, on one core (thread pools are limited to one thread before numpy is
imported), all envs interleaved within each repeat so that machine noise hits all of them:
env steps per second through the real PettingZoo ParallelEnv API, one ``step`` with a
dict of actions for every live agent in and five dicts out being one env step. Actions
are uniform random, drawn beforehand into a table of action dicts (so the policy costs
nothing); episodes run whole, ``reset`` included, for a wall-clock budget per measurement.

- ours: ``envs.predator_prey.parallel_env`` at the spec's sizes 5x5 / 3 agents,
  10x10 / 5 and 20x20 / 10, and ``capture_env`` at 10x10 with 3 perception + 2 capture
  agents; vision 1 and 20-step episodes everywhere (the spec's test-time length).
- peer: mpe2's ``simple_spread_v3.parallel_env(N=3, continuous_actions=False)`` with its
  defaults (25-step episodes), a PettingZoo env the trainer must also run on.

Both wall-clock and CPU-time (``time.process_time``) rates are reported: on a machine
shared with other jobs the wall-clock rate drops when the core is taken away, the CPU-time
rate much less. The goal (>= 20,000 steps/s for 10x10 / 5 on one core) is judged on both.
IC3Net's own numpy env, which builds its observation cell by cell, does about 3,700
steps/s at 10x10 / 5 (the project's figure, not re-measured here: its code is not vendored).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pettingzoo  # noqa: E402
from mpe2 import simple_spread_v3  # noqa: E402

from bench.markdown import fmt, machine_facts, table  # noqa: E402
from envs.predator_prey import INFO_SUCCESS, capture_env, parallel_env  # noqa: E402

GOAL = 20_000
"""Spec goal, env steps/s of 10x10 / 5 agents through the ParallelEnv API, one core."""
GOAL_CASE = "pp 10x10 / 5"
REFERENCE_NUMPY = 3_700
"""IC3Net's reference numpy env at 10x10 / 5, steps/s (the project's figure)."""
PEER = "mpe2 simple_spread N=3"
ACTION_TABLE = 4096


@dataclass
class Case:
    """One env to measure."""

    name: str
    make: Callable[[], object]
    ours: bool


CASES = [
    Case("pp 5x5 / 3", lambda: parallel_env(dim=5, n_agents=3, vision=1, max_steps=20), True),
    Case(GOAL_CASE, lambda: parallel_env(dim=10, n_agents=5, vision=1, max_steps=20), True),
    Case("pp 20x20 / 10", lambda: parallel_env(dim=20, n_agents=10, vision=1, max_steps=20), True),
    Case(
        "pcp 10x10 / 3P+2A",
        lambda: capture_env(dim=10, n_capture=2, n_perception=3, vision=1, max_steps=20),
        True,
    ),
    Case(PEER, lambda: simple_spread_v3.parallel_env(N=3, continuous_actions=False), False),
]


@dataclass
class Throughput:
    """Counts from one wall-clock-budgeted run of whole episodes."""

    steps: int = 0
    episodes: int = 0
    successes: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s

    @property
    def cpu_steps_per_s(self) -> float:
        return self.steps / self.cpu_s

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.wall_s


# --------------------------------------------------------------------------- setup
def action_table(env, rng: np.random.Generator) -> list[dict]:
    """``ACTION_TABLE`` dicts of uniform random actions for every possible agent."""
    agents = env.possible_agents
    n_actions = [env.action_space(a).n for a in agents]
    draws = [rng.integers(0, n, ACTION_TABLE).tolist() for n in n_actions]
    return [dict(zip(agents, row, strict=True)) for row in zip(*draws, strict=True)]


def run_env(env, actions: list[dict], budget_s: float, seed: int) -> Throughput:
    """Whole episodes of table-driven random actions for ``budget_s`` seconds.

    The first reset is seeded, later ones continue the env's generator. Every env here
    keeps all its agents to the end of an episode, so a full action dict is always valid.
    """
    out = Throughput()
    n_table = len(actions)
    i = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    env.reset(seed=seed)
    while True:
        while env.agents:
            _, _, _, _, infos = env.step(actions[i])
            i = (i + 1) % n_table
            out.steps += 1
        out.episodes += 1
        out.successes += next(iter(infos.values())).get(INFO_SUCCESS, 0.0)
        if time.perf_counter() - wall0 >= budget_s:
            break
        env.reset()
    out.wall_s = time.perf_counter() - wall0
    out.cpu_s = time.process_time() - cpu0
    return out


# --------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="budget per measurement (s)")
    parser.add_argument("--repeats", type=int, default=5, help="median over this many runs")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 0.5 s budgets")
    parser.add_argument("--out", type=Path, help="also write the tables to this .md file")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 0.5

    facts = machine_facts(
        ["envs/predator_prey"],
        {"numpy": np.__version__, "pettingzoo": pettingzoo.__version__, "mpe2": version("mpe2")},
        load=True,
    )
    envs = {case.name: case.make() for case in CASES}
    rng = np.random.default_rng(0)
    actions = {name: action_table(env, rng) for name, env in envs.items()}
    obs_dims = {
        name: env.observation_space(env.possible_agents[0]).shape[0] for name, env in envs.items()
    }

    for name, env in envs.items():  # warm-up: imports, lazy caches, first allocations
        run_env(env, actions[name], 0.0, seed=10**6)

    runs: dict[str, list[Throughput]] = {name: [] for name in envs}
    for rep in range(args.repeats):
        print(f"repeat {rep + 1}/{args.repeats} ...", file=sys.stderr, flush=True)
        for name, env in envs.items():
            runs[name].append(run_env(env, actions[name], args.seconds, seed=rep))

    def median(name: str, rate: str) -> float:
        return statistics.median(getattr(r, rate) for r in runs[name])

    peer_wall = median(PEER, "steps_per_s")
    peer_cpu = median(PEER, "cpu_steps_per_s")
    rows = []
    for case in CASES:
        name, rs = case.name, runs[case.name]
        wall, cpu = median(name, "steps_per_s"), median(name, "cpu_steps_per_s")
        episodes = sum(r.episodes for r in rs)
        rows.append(
            [
                name,
                str(len(envs[name].possible_agents)),
                str(obs_dims[name]),
                fmt(wall),
                fmt(cpu),
                fmt(median(name, "episodes_per_s")),
                fmt(sum(r.steps for r in rs) / episodes, 1),
                f"{sum(r.successes for r in rs) / episodes:.3f}" if case.ours else "-",
                f"{wall / peer_wall:.1f}x" if case.ours else "-",
                f"{cpu / peer_cpu:.1f}x" if case.ours else "-",
                f"{wall / GOAL:.2f}" if case.ours else "-",
                f"{cpu / GOAL:.2f}" if case.ours else "-",
            ]
        )
    goal_wall, goal_cpu = median(GOAL_CASE, "steps_per_s"), median(GOAL_CASE, "cpu_steps_per_s")
    out = [
        "# Predator-prey env throughput: ours vs mpe2 simple_spread_v3",
        "",
        *facts,
        f"- settings: {args.repeats} repeats (medians), {args.seconds:g} s of whole episodes "
        "per measurement, all envs interleaved in each repeat; random actions from a "
        f"pre-drawn table of {ACTION_TABLE} action dicts",
        "",
        "One env step = one `ParallelEnv.step` call with an action for every live agent "
        "(dict in, five dicts out), `reset` included in the time. Ours: vision 1, 20-step "
        "episodes; `pp` = `parallel_env`, `pcp` = `capture_env` (P perception + A capture "
        "agents). mpe2: `simple_spread_v3.parallel_env(N=3, continuous_actions=False)`, "
        "25-step episodes. Wall = wall-clock rate, CPU = steps per second of this "
        "process's CPU time (robust to other jobs on a shared machine).",
        "",
        table(
            [
                "env",
                "agents",
                "obs_dim",
                "steps/s wall",
                "steps/s CPU",
                "episodes/s wall",
                "steps/episode",
                "random success",
                "ours/mpe2 wall",
                "ours/mpe2 CPU",
                "/ 20k goal wall",
                "/ 20k goal CPU",
            ],
            rows,
        ),
        "",
        f"Goal: >= {GOAL:,} steps/s on {GOAL_CASE} agents, one core: "
        f"{fmt(goal_wall)} wall ({'met' if goal_wall >= GOAL else 'NOT met'}), "
        f"{fmt(goal_cpu)} CPU ({'met' if goal_cpu >= GOAL else 'NOT met'}); "
        f"{goal_wall / REFERENCE_NUMPY:.1f}x IC3Net's reference numpy env "
        f"(~{REFERENCE_NUMPY:,} steps/s, the project's figure).",
    ]
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
