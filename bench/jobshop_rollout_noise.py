"""Why plain rollouts under shutdowns can lose to the policy they plan over: how many
decisions each planner changes, and what that buys.

    python bench/jobshop_rollout_noise.py [--instances random:25x15:0-1] [--prob 0.02]
        [--seeds 0-1] [--plans rollout:1,rollout:8,rollout:8:z=1,rollout:8:z=1:gate=0.95:top=3]

For every (instance, disruption seed): the greedy policy; a clairvoyant pilot (each
candidate finished greedily against the episode's **true** future, a diagnostic of how
many decisions are worth changing and what changing them gains, never a planner); and
each planner of ``--plans`` over the shipped policy. Per method: mean makespan against
the greedy policy, decisions where the planner looked ahead, decisions where it left the
policy's choice, seconds per schedule (one core). Every schedule is validated. Writes
bench/results/jobshop/rollout-noise.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.jobshop.instance import load_instance  # noqa: E402
from envs.jobshop.schedule import validate  # noqa: E402
from envs.jobshop.sim import Simulator  # noqa: E402
from rlsys.jobshop.evaluate import parse_instances, parse_seeds  # noqa: E402
from rlsys.jobshop.planning import _Lockstep, lowest_or_greedy  # noqa: E402
from rlsys.jobshop.policies import make_policy  # noqa: E402
from rlsys.rl.distributions import MaskedCategorical  # noqa: E402


def run(sim: Simulator, choose, steps: _Lockstep) -> tuple[Simulator, int, int]:
    """Drive ``sim`` with ``choose(sim, candidates)``; count the decisions with two or
    more candidates and those where the choice is not the policy's greedy one."""
    open_decisions = changed = 0
    while not sim.done:
        candidates = sim.candidates
        if len(candidates) > 1:
            logits, mask = steps.logits([sim])
            greedy = int(MaskedCategorical(logits, mask).mode()[0])
            job = choose(sim, candidates)
            open_decisions += 1
            changed += job != greedy
        else:
            job = choose(sim, candidates)
        sim.step(job)
    return sim, open_decisions, changed


def clairvoyant_pilot(steps: _Lockstep):
    """Each candidate finished greedily against the true future (``fork()`` keeps it)."""

    def choose(sim, candidates):
        logits, mask = steps.logits([sim])
        greedy = int(MaskedCategorical(logits, mask).mode()[0])
        if len(candidates) < 2:
            return greedy
        copies = []
        for job in candidates:
            copy = sim.fork()
            copy.step(job)
            copies.append(copy)
        steps.finish(copies)
        spans = np.array([np.inf if c.deadlock else c.makespan for c in copies])
        return lowest_or_greedy(spans, candidates, greedy)

    return choose


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default="random:25x15:0-1")
    p.add_argument("--prob", type=float, default=0.02)
    p.add_argument("--seeds", default="0-1")
    p.add_argument(
        "--plans", default="rollout:1,rollout:8,rollout:8:z=1,rollout:8:z=1:gate=0.95:top=3"
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "jobshop")
    args = p.parse_args()
    torch.set_num_threads(1)
    greedy = make_policy("pretrained")
    methods = ["greedy", "clairvoyant pilot"] + [f"@{plan}" for plan in args.plans.split(",")]
    results: dict[str, list[tuple[float, int, int, float]]] = {m: [] for m in methods}
    for name in parse_instances(args.instances):
        instance = load_instance(name)
        steps = _Lockstep(greedy.policy, instance)
        for seed in parse_seeds(args.seeds):
            base = None
            for method in methods:
                if method == "greedy":
                    choose = greedy
                elif method == "clairvoyant pilot":
                    choose = clairvoyant_pilot(steps)
                else:
                    choose = make_policy(f"pretrained{method}", seed=seed)
                sim = Simulator(instance, args.prob, seed, decisions=greedy.decisions)
                t0 = time.perf_counter()
                sim, open_decisions, changed = run(sim, choose, steps)
                wall = time.perf_counter() - t0
                validate(sim.schedule(), instance)
                base = base or sim.makespan
                ratio = 100 * (sim.makespan / base - 1)
                results[method].append((ratio, open_decisions, changed, wall))
                note = f"changed {changed} of {open_decisions}, {wall:.1f} s"
                print(f"{name} seed {seed} {method}: {sim.makespan} ({ratio:+.1f} %), {note}")
    lines = [
        "# Rollouts under shutdowns: decisions changed and what they buy",
        "",
        f"`python bench/jobshop_rollout_noise.py --instances {args.instances} --prob "
        f"{args.prob:g} --seeds {args.seeds} --plans {args.plans}`: the shipped policy, "
        f"every schedule valid. Makespan against the greedy policy's on the same (instance, "
        f"seed), mean and range over {len(results['greedy'])} pairs; decisions = those with "
        "two or more candidates; time = median seconds per schedule (one core, shared).",
        "",
        "| method | vs greedy (mean) | range | decisions changed / open | s / schedule |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, rows in results.items():
        ratios = [r[0] for r in rows]
        lines.append(
            f"| {method} | {statistics.mean(ratios):+.1f} % | {min(ratios):+.1f} to "
            f"{max(ratios):+.1f} % | {sum(r[2] for r in rows)} / {sum(r[1] for r in rows)} | "
            f"{statistics.median(r[3] for r in rows):.1f} |"
        )
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rollout-noise.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
