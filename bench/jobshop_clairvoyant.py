"""How far dispatching rules and the shipped GNN policy are from hindsight-optimal.

    python bench/jobshop_clairvoyant.py [--instances ft06,la01,la02,la03]
                                        [--probs 0.05,0.1] [--seeds 0-2] [--time-limit 20]
                                        [--policies pretrained,pretrained@rollout:8]
                                        [--name clairvoyant] [--hint rules|best]

For each instance x shutdown probability x seed: the clairvoyant CP-SAT schedule (that
seed's downtime known in advance, ``rlsys jobshop solve --shutdown-prob p --seed s``;
its makespan is a lower bound when CP-SAT proves it optimal, else an upper bound on the
hindsight optimum and the proven bound is reported too), every rule and the learned
policies (``--policies``: the shipped one, greedy and with online rollouts) on the same
seed (common random numbers). Printed per p: mean gap to the clairvoyant makespan,
(policy - clairvoyant) / clairvoyant, for the best rule per instance and seed, MWKR and
each learned policy. Writes bench/results/jobshop/<name>.md (and .csv, one row per
instance, p and seed).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.jobshop.instance import load_instance  # noqa: E402
from envs.jobshop.schedule import validate  # noqa: E402
from envs.jobshop.shutdowns import ShutdownProcess  # noqa: E402
from rlsys.jobshop.cpsat import solve_bws  # noqa: E402
from rlsys.jobshop.evaluate import parse_instances, parse_seeds, run_policy  # noqa: E402
from rlsys.jobshop.rules import RULES  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default="ft06,la01,la02,la03")
    p.add_argument("--probs", default="0.05,0.1")
    p.add_argument("--seeds", default="0-2")
    p.add_argument("--time-limit", type=float, default=20.0)
    p.add_argument("--policies", default="pretrained,pretrained@rollout:8")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "jobshop")
    p.add_argument("--name", default="clairvoyant", help="file name of the results, no suffix")
    p.add_argument(
        "--hint",
        choices=["rules", "best"],
        default="rules",
        help="CP-SAT starts from the best rule's schedule (rules) or from the shortest "
        "schedule of the rules and --policies on that seed (best: a complete solution hint, "
        "so the search begins at the planner's schedule rather than a rule's)",
    )
    args = p.parse_args()
    probs = [float(x) for x in args.probs.split(",")]
    policies = [x for x in args.policies.split(",") if x]
    seeds = parse_seeds(args.seeds)
    rules = [r for r in RULES if r != "RANDOM"]
    rows = []
    for name in parse_instances(args.instances):
        inst = load_instance(name)
        for prob in probs:
            for seed in seeds:
                spans = {r: run_policy(inst, r, prob, seed).makespan for r in rules}
                learned, sims = [], []
                for pol in policies:
                    sim = run_policy(inst, pol, prob, seed)
                    validate(sim.schedule(), inst)
                    learned.append(sim.makespan)
                    sims.append(sim)
                hint = None  # solve_bws's own: the best rule's schedule on this seed
                finished = [s for s in sims if not s.deadlock]
                if args.hint == "best" and finished:
                    shortest = min(finished, key=lambda s: s.makespan)
                    if shortest.makespan < min(spans.values()):
                        hint = shortest.schedule()
                res = solve_bws(
                    inst, time_limit=args.time_limit, hint=hint,
                    downtime=ShutdownProcess(inst.n_machines, prob, seed),
                )  # fmt: skip
                if res.schedule is None:  # no schedule within the limit (a hint is given)
                    raise RuntimeError(f"{name} p={prob} seed {seed}: CP-SAT {res.status}")
                validate(res.schedule, inst)
                best = min(spans.values())
                rows.append((name, prob, seed, res, best, spans["MWKR"], *learned))
                print(
                    f"{name} p={prob:g} seed {seed}: clairvoyant {res.makespan} ({res.status}, "
                    f"bound {res.lower_bound}, {res.wall_time:.1f} s), best rule {best}, "
                    f"MWKR {spans['MWKR']}, "
                    + ", ".join(f"{pol} {v}" for pol, v in zip(policies, learned, strict=True)),
                    flush=True,
                )

    def gap(a: int, c: int) -> float:
        return 100.0 * (a - c) / c

    lines = [
        "# Distance to hindsight-optimal (clairvoyant CP-SAT) under shutdowns",
        "",
        f"`python bench/jobshop_clairvoyant.py --instances {args.instances} --probs "
        f"{args.probs} --seeds {args.seeds} --time-limit {args.time_limit:g} --policies "
        f"{args.policies}"
        + (f" --name {args.name}" if args.name != "clairvoyant" else "")
        + (f" --hint {args.hint}" if args.hint != "rules" else "")
        + "`: per seed, "
        "CP-SAT with that seed's downtime known in advance against the policies on the same "
        "seed. Gap = (makespan - clairvoyant) / clairvoyant, mean over instances x seeds; "
        "best rule = the best of the 7 deterministic rules per instance and seed (an oracle "
        "pick). 'proven' = clairvoyant solves proven optimal.",
        "",
        "| p | solves | proven | best rule gap | MWKR gap | "
        + " | ".join(f"{pol} gap" for pol in policies)
        + " |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(policies),
    ]
    for prob in probs:
        sel = [r for r in rows if r[1] == prob]
        proven = sum(r[3].status == "optimal" for r in sel)
        g_best = statistics.mean(gap(r[4], r[3].makespan) for r in sel)
        g_mwkr = statistics.mean(gap(r[5], r[3].makespan) for r in sel)
        g_learned = [
            statistics.mean(gap(r[6 + k], r[3].makespan) for r in sel) for k in range(len(policies))
        ]
        lines.append(
            f"| {prob:g} | {len(sel)} | {proven} | {g_best:.1f} % | {g_mwkr:.1f} % | "
            + " | ".join(f"{g:.1f} %" for g in g_learned)
            + " |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.md").write_text(text)
    with (args.out / f"{args.name}.csv").open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["instance", "p", "seed", "clairvoyant", "status", "bound", "best_rule",
                      "MWKR", *policies])  # fmt: skip
        for name, prob, seed, res, best, mwkr, *learned in rows:
            out.writerow([name, prob, seed, res.makespan, res.status, res.lower_bound, best,
                          mwkr, *learned])  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
