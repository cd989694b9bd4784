"""Plan offline, follow the plan under shutdowns (predictive-reactive), against the online
policies and the rules on the same disruptions.

    python bench/jobshop_plans.py --instances ft06,ft10,la01-la20
        [--cpsat-plans bench/results/jobshop/plans] [--plan-policies pretrained-large]
        [--online pretrained,pretrained-large] [--probs 0,0.01,0.02,0.05,0.1]
        [--seeds 0-2] [--cpsat bench/results/jobshop/plans/cpsat-plans.csv] [--name plans/la]

Plans: CP-SAT's p = 0 schedule of each instance (``python bench/jobshop_cpsat.py
--schedules DIR``, 60 s, one worker) and each ``--plan-policies`` policy's own p = 0
schedule (one greedy pass, written to ``<name>-plans/<policy>/``). ``plan:DIR`` follows a
plan (``Simulator(plan=...)``): each machine takes its operations in the plan's order, the
times shift with the disruptions, no decision is taken online. Everything runs through
``rlsys jobshop eval``'s ``evaluate`` (Ray, common random numbers per seed). Writes
``bench/results/jobshop/<name>.csv`` (policy labels ``plan:cpsat``, ``plan:<policy>``) and
``<name>.md``: mean makespan against the best rule at each p, and the p = 0 gap to the
reference (published BWS values, else ``--cpsat``'s CSV).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.jobshop.instance import load_instance  # noqa: E402
from envs.jobshop.schedule import save_schedule  # noqa: E402
from rlsys.jobshop.evaluate import (  # noqa: E402
    bws_reference,
    evaluate,
    parse_instances,
    parse_probs,
    parse_seeds,
    run_policy,
    vs_best_rule_table,
    write_csv,
)
from rlsys.jobshop.rules import RULES  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", default="ft06,ft10,la01-la20")
    ap.add_argument(
        "--cpsat-plans",
        default=str(ROOT / "bench/results/jobshop/plans"),
        help="folder of CP-SAT schedules, <instance>.json ('' for none)",
    )
    ap.add_argument("--plan-policies", default="pretrained-large")
    ap.add_argument("--online", default="pretrained,pretrained-large")
    ap.add_argument("--probs", default="0,0.01,0.02,0.05,0.1")
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument(
        "--cpsat", type=Path, default=ROOT / "bench/results/jobshop/plans/cpsat-plans.csv"
    )
    ap.add_argument("--name", default="plans/la")
    args = ap.parse_args()
    out = ROOT / "bench" / "results" / "jobshop" / args.name
    instances = parse_instances(args.instances)

    labels = {f"plan:{args.cpsat_plans}": "plan:cpsat"} if args.cpsat_plans else {}
    for policy in [x for x in args.plan_policies.split(",") if x]:
        folder = out.parent / f"{out.name}-plans" / policy
        for name in instances:
            sim = run_policy(load_instance(name), policy, 0.0, 0)
            save_schedule(sim.schedule(), folder / f"{sim.instance.name}.json")
        labels[f"plan:{folder}"] = f"plan:{policy}"
    online = [x for x in args.online.split(",") if x]
    rules = [r for r in RULES if r != "RANDOM"]
    t0 = time.perf_counter()
    rows = evaluate(
        instances,
        [*labels, *online, *rules],
        parse_probs(args.probs),
        parse_seeds(args.seeds),
    )
    for row in rows:
        row["policy"] = labels.get(row["policy"], row["policy"])
    bad = [r for r in rows if r["valid"] != "yes"]
    if bad:
        raise SystemExit(f"{len(bad)} invalid or deadlocked schedules, e.g. {bad[0]}")
    write_csv(rows, out.with_suffix(".csv"))
    ref = {name: value for name, (value, _) in bws_reference().items()}
    if args.cpsat.exists():
        for r in csv.DictReader(args.cpsat.open()):
            if r["makespan"]:  # the CSV names instances as given (random:25x15:0)
                ref.setdefault(load_instance(r["instance"]).name, int(r["makespan"]))
    text = (
        f"`python bench/jobshop_plans.py {' '.join(sys.argv[1:])}`: {len(instances)} instances, "
        f"{len(rows)} schedules, every one valid ({time.perf_counter() - t0:.0f} s). "
        "`plan:cpsat` follows CP-SAT's p = 0 schedule, `plan:<policy>` that policy's own "
        "greedy p = 0 schedule: the machine orders are fixed offline and the times follow "
        "the disruptions. Against the best rule per p (negative: shorter), and at p = 0 the "
        "gap to the reference (BWS, else CP-SAT 60 s).\n\n"
        f"{vs_best_rule_table(rows, ref)}\n"
    )
    out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
