"""Only the issue's goal lines of bench/calibration.py: bohb and random search, 5 seeds,
BEAM and hidden-ASC targets, the same settings and code paths (a quicker rerun, to see the
spread between runs of a search whose path depends on completion order).

    python bench/calibration_goal.py [--seeds 5] [--evaluations 200]
                                     [--methods bohb,random[,bohb-uniform,bohb-plain]]

Every BOHB variant in ``--methods`` gets its goal line against random search, and the
default constants' L1 per seed is printed (BOHB's initial design starts there).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import calibration as bench  # noqa: E402

from rlsys.runtime import init_ray  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--evaluations", type=int, default=200)
    ap.add_argument("--scenario", default="urbansim-10k-like")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-calibration-goal")
    ap.add_argument("--methods", default="bohb,random", help="comma-separated; needs random")
    args = ap.parse_args()
    init_ray()
    base = {"scenario": args.scenario, "evaluations": args.evaluations, "workers": 2}
    methods = args.methods.split(",")
    if "random" not in methods:
        ap.error("--methods needs random (the reference)")
    seeds = list(range(1, args.seeds + 1))
    for study in ("beam", "recovery"):
        results: dict[str, list[dict]] = {}
        for method in methods:
            results[method] = []
            for seed in seeds:
                targets, name = bench.study_targets(study, args.scenario, seed)
                summary = bench.run_one(
                    args.runs,
                    f"{study}/{method}-s{seed}",
                    **base,
                    **bench.method_settings(method),
                    seed=seed,
                    targets=targets,
                    targets_file=name,
                )
                results[method].append(summary)
                print(f"  {study} {method} seed {seed}: best L1 {summary['best_l1']:.2f}")
        for method in methods:
            if method != "random":
                print("\n".join(bench.goal_lines(results, study, method)), flush=True)
        print(bench.default_l1_line(study, args.scenario, seeds) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
