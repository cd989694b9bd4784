"""Distance to the best known hindsight schedule: the clairvoyant CP-SAT results, tightened
by every schedule evaluated on the same disruptions.

    python bench/jobshop_hindsight.py
        [--clairvoyant 'bench/results/jobshop/clairvoyant-runs-120s-*.csv']
        [--evals bench/results/jobshop/plans/la.csv,bench/results/jobshop/plans/heldout.csv]
        [--out bench/results/jobshop/plans/hindsight.md]

A schedule that any policy made on seed s's disruptions is a feasible schedule against that
downtime, so the shortest of them and of the clairvoyant solve (``bench/jobshop_clairvoyant.py``)
is an upper bound on the hindsight optimum, tighter where the solve ran out of time; its
proven lower bound stays the solve's. Printed per clairvoyant file (a family at one p and
seed): the solves, how many were proven, how often an evaluated schedule beat the solve,
and each policy's mean gap to the best known schedule.
"""

from __future__ import annotations

import argparse
import csv
import glob
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ["best rule", "pretrained", "pretrained-large", "planner", "plan:cpsat"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--clairvoyant", default=str(ROOT / "bench/results/jobshop/clairvoyant-runs-120s-*.csv")
    )
    ap.add_argument(
        "--evals",
        default=",".join(
            str(ROOT / f"bench/results/jobshop/plans/{n}.csv") for n in ("la", "heldout")
        ),
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/jobshop/plans/hindsight.md")
    args = ap.parse_args()

    evaluated: dict[tuple[str, float, int], dict[str, int]] = {}
    for path in args.evals.split(","):
        for r in csv.DictReader(open(path)):
            if r["valid"] != "yes":
                continue
            key = (r["instance"], float(r["shutdown_prob"]), int(r["seed"]))
            evaluated.setdefault(key, {})[r["policy"]] = int(r["makespan"])
    lines = [
        "| clairvoyant file (family, p, seed) | solves | proven | beaten | "
        + " | ".join(POLICIES)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(POLICIES),
    ]
    for path in sorted(glob.glob(args.clairvoyant)):
        gaps: dict[str, list[float]] = {p: [] for p in POLICIES}
        solves = proven = beaten = 0
        for r in csv.DictReader(open(path)):
            key = (r["instance"], float(r["p"]), int(r["seed"]))
            if key not in evaluated:
                continue
            others = evaluated[key]
            planner = next((c for c in r if "rollout" in c), None)
            spans = {
                "best rule": int(r["best_rule"]),
                "pretrained": int(r["pretrained"]),
                "pretrained-large": int(r["pretrained-large"]),
                "plan:cpsat": others.get("plan:cpsat"),
                "planner": int(r[planner]) if planner and r[planner] else None,
            }
            best = min([int(r["clairvoyant"]), *others.values()])
            if r["status"] == "optimal" and best < int(r["clairvoyant"]):
                raise SystemExit(f"{key}: a schedule beats the proven optimum: model mismatch")
            solves += 1
            proven += r["status"] == "optimal"
            beaten += best < int(r["clairvoyant"])
            for p, v in spans.items():
                if v is not None:
                    gaps[p].append(100.0 * (v - best) / best)
        if solves:
            name = Path(path).stem.replace("clairvoyant-runs-120s-", "")
            cells = [f"{statistics.mean(g):.1f} %" if g else "" for g in gaps.values()]
            lines.append(f"| {name} | {solves} | {proven} | {beaten} | " + " | ".join(cells) + " |")
    text = (
        f"`python bench/jobshop_hindsight.py {' '.join(sys.argv[1:])}`: mean gap (%) to the best "
        "known schedule on each seed's disruptions (the clairvoyant solve or a shorter evaluated "
        "schedule; 'beaten': how many solves an evaluated schedule beat). 'planner': the "
        "rollout planner of the clairvoyant run.\n\n" + "\n".join(lines) + "\n"
    )
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
