"""Planning over a GNN policy (default: the shipped one) against the pure policy and the
best rule.

    python bench/jobshop_planning.py [--policy pretrained|FILE.pt]
        [--instances ft06,ft10,la01-la20] [--seeds 0-2]
        [--probs 0,0.01,0.02,0.05,0.1] [--samples 8,64] [--rollouts 1,8,64]
        [--rollouts-at 0.05] [--rollout-options z=1:gate=0.95:top=3]

All policies run through ``rlsys jobshop eval``'s grid (``rlsys.jobshop.evaluate``: Ray
tasks, common random numbers, every schedule validated). At p = 0: ``pretrained@sample:N``
(best of N schedules) and ``pretrained@rollout:N`` (the pilot method, plus N - 1 sampled
completions per candidate feeding the kept best schedule); gap to the BWS reference. Under
shutdowns: ``pretrained@rollout:N`` (online rollouts against sampled futures). Every p:
mean makespan against the best single rule at that p.
``--rollouts-at`` limits the largest rollout count to those p (it costs N times the
smaller). Time per instance = the median wall time of one schedule. Writes
bench/results/jobshop/NAME.{md,csv} (``--name``, default planning); finished (instance,
seed) tasks are kept under NAME_parts/ so an interrupted run continues. ``--rollouts ""``
runs no rollouts (large instances: a rollout costs a whole schedule per candidate).
``--rollout-options`` appends the rollout planner's options to every ``rollout:N``
(``rlsys/jobshop/planning.py``: the paired significance test, the confidence gate, the
candidate cut, the time budget, truncated rollouts); several sets separated by commas
(``z=1:depth=0,z=1:depth=4``) run one planner each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlsys.jobshop.evaluate import (  # noqa: E402
    best_rules,
    evaluate,
    parse_instances,
    parse_probs,
    parse_seeds,
    reference_gaps,
    write_csv,
)
from rlsys.jobshop.planning import PlanSpec  # noqa: E402
from rlsys.jobshop.rules import RULES  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default="ft06,ft10,la01-la20")
    p.add_argument(
        "--policy", default="pretrained", help="the learned policy planned over (name or *.pt)"
    )
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--probs", default="0,0.01,0.02,0.05,0.1")
    p.add_argument("--samples", default="8,64")
    p.add_argument("--rollouts", default="1,8,64")
    p.add_argument("--rollouts-at", default="0.05", help="p values that get the largest N")
    p.add_argument(
        "--rollout-options",
        default="",
        help="e.g. z=1:gate=0.95:top=3 (planning.py); several sets separated by commas",
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "jobshop")
    p.add_argument("--name", default="planning", help="file stem of the results (planning)")
    args = p.parse_args()
    instances = parse_instances(args.instances)
    seeds = parse_seeds(args.seeds)
    probs = parse_probs(args.probs)
    samples = [int(x) for x in args.samples.split(",") if x]
    rollouts = [int(x) for x in args.rollouts.split(",") if x]
    big_at = set(parse_probs(args.rollouts_at)) if args.rollouts_at else set()
    rows = []
    for prob in probs:
        planned = [f"{args.policy}@sample:{n}" for n in samples] if prob == 0 else []
        planned += [
            f"{args.policy}@rollout:{n}" + (f":{options}" if options else "")
            for n in rollouts
            if n < max(rollouts) or prob in big_at or not big_at
            for options in args.rollout_options.split(",")
        ]
        policies = list(RULES) + [args.policy] + planned
        rows += evaluate(
            instances,
            policies,
            [prob],
            seeds,
            parts_dir=args.out / f"{args.name}_parts" / f"p{prob:g}",
        )
    bad = [r for r in rows if r["valid"] != "yes"]
    if bad:
        raise SystemExit(f"invalid schedule: {bad[0]}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / f"{args.name}.csv")
    text = report(rows, args)
    (args.out / f"{args.name}.md").write_text(text)
    print(text)
    return 0


def report(rows: list[dict], args) -> str:
    span: dict[tuple[str, float], list[float]] = defaultdict(list)
    wall: dict[tuple[str, float], list[float]] = defaultdict(list)
    for r in rows:
        key = (r["policy"], float(r["shutdown_prob"]))
        span[key].append(float(r["makespan"]))
        wall[key].append(float(r["wall_ms"]) / 1e3)
    gap = reference_gaps(rows)
    best = best_rules(rows)
    probs = sorted({k[1] for k in span})
    n_inst = len({r["instance"] for r in rows})
    lines = [
        f"# Planning over the GNN policy {args.policy}",
        "",
        f"`python bench/jobshop_planning.py --policy {args.policy} --instances {args.instances} "
        f"--seeds {args.seeds} "
        f"--probs {args.probs} --samples {args.samples} --rollouts {args.rollouts} "
        f"--rollouts-at '{args.rollouts_at}' "
        + (f"--rollout-options {args.rollout_options} " if args.rollout_options else "")
        + f"--name {args.name}`: {n_inst} instances x seeds "
        f"{args.seeds}, "
        "every schedule valid. Best rule = the single rule with the lowest mean makespan "
        "at that p (of SPT, LPT, MWKR, LWKR, MOR, LOR, FIFO). Time = median seconds per "
        "schedule (one core, the shared 2-core machine).",
        "",
    ]
    for prob in probs:
        best_rule, base = best[prob]
        names = [best_rule] + sorted(
            {k[0] for k in span if k[1] == prob and k[0] not in RULES},
            key=lambda n: (
                n != args.policy,
                n.split(":")[0],
                PlanSpec.parse(n.split("@")[1]).n if "@" in n else 0,
            ),
        )
        head = "| policy | mean makespan | vs best rule | s / schedule |"
        sep = "|---|---:|---:|---:|"
        if prob == 0:
            head += " gap to BWS ref |"
            sep += "---:|"
        lines += [f"## p = {prob:g}", "", head, sep]
        for name in names:
            mean = statistics.mean(span[(name, prob)])
            label = f"{name} (best rule)" if name == best_rule else name
            cells = [
                label,
                f"{mean:.1f}",
                f"{100 * (mean / base - 1):+.1f} %",
                f"{statistics.median(wall[(name, prob)]):.3f}",
            ]
            if prob == 0:
                g = gap.get(name)
                cells.append(f"{statistics.mean(g):.1f} %" if g else "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
