"""Can the decision models express CP-SAT's plans? Replay each plan through them at p = 0.

    python bench/jobshop_replay.py [--instances ft06,ft10,la01-la20]
        [--plans bench/results/jobshop/plans] [--out bench/results/jobshop/plans/replay.md]

A follower acts in a decision model and, at every decision, takes the candidate whose next
operation the plan starts first. Where the model can express the plan's machine orders it
replays the plan; where it cannot (non-delay cannot idle a machine; reserve can keep one only
for a job one operation away), it deviates and the orders drift. ``plan:`` (the simulator's
plan mode, every order expressible) is the control: it must give the plan's makespan.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.jobshop.instance import load_instance  # noqa: E402
from envs.jobshop.schedule import load_schedule, validate  # noqa: E402
from envs.jobshop.sim import Simulator  # noqa: E402
from rlsys.jobshop.evaluate import parse_instances, run_policy  # noqa: E402


def follow(instance, plan: dict, decisions: str) -> int:
    """Makespan of the earliest-planned-candidate follower in ``decisions`` at p = 0."""
    start = {(int(o["job"]), int(o["index"])): int(o["start"]) for o in plan["operations"]}
    sim = Simulator(instance, decisions=decisions)
    while not sim.done:
        sim.step(min(sim.candidates, key=lambda j: (start[j, int(sim.next_op[j])], j)))
    validate(sim.schedule(), instance)
    return sim.makespan


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="ft06,ft10,la01-la20")
    ap.add_argument("--plans", type=Path, default=ROOT / "bench/results/jobshop/plans")
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/jobshop/plans/replay.md")
    args = ap.parse_args()
    lines = [
        "| instance | plan (CP-SAT) | `plan:` replay | non-delay follower | reserve follower | "
        "`pretrained-large` greedy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    excess: dict[str, list[float]] = {"plan": [], "non_delay": [], "reserve": [], "greedy": []}
    for name in parse_instances(args.instances):
        inst = load_instance(name)
        plan = load_schedule(args.plans / f"{inst.name}.json")
        spans = {
            "plan": run_policy(inst, f"plan:{args.plans}", 0.0, 0).makespan,
            "non_delay": follow(inst, plan, "non_delay"),
            "reserve": follow(inst, plan, "reserve"),
            "greedy": run_policy(inst, "pretrained-large", 0.0, 0).makespan,
        }
        target = int(plan["makespan"])
        for key, value in spans.items():
            excess[key].append(100.0 * (value - target) / target)
        lines.append(
            f"| {name} | {target} | "
            + " | ".join(f"{v} ({100.0 * (v - target) / target:+.1f} %)" for v in spans.values())
            + " |"
        )
        print(lines[-1], flush=True)
    lines.append(
        "| mean above the plan | | "
        + " | ".join(f"{statistics.mean(v):+.1f} %" for v in excess.values())
        + " |"
    )
    text = (
        f"`python bench/jobshop_replay.py {' '.join(sys.argv[1:])}`: each CP-SAT plan replayed at "
        "p = 0 by the simulator's plan mode and by a follower that takes the earliest-planned "
        "candidate in each decision model; every schedule valid.\n\n" + "\n".join(lines) + "\n"
    )
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
