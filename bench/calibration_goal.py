"""Only the issue's goal lines of bench/calibration.py: bohb and random search, 5 seeds,
BEAM and hidden-ASC targets, the same settings and code paths (a quicker rerun, to see the
spread between runs of a search whose path depends on completion order).

    python bench/calibration_goal.py [--seeds 5] [--evaluations 200]
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
    args = ap.parse_args()
    init_ray()
    base = {"scenario": args.scenario, "evaluations": args.evaluations, "workers": 2}
    for study in ("beam", "recovery"):
        results: dict[str, list[dict]] = {}
        for method in ("bohb", "random"):
            results[method] = []
            for seed in range(1, args.seeds + 1):
                if study == "beam":
                    targets, name = bench.BEAM_URBANSIM_10K, "BEAM Urbansim-10k"
                else:
                    targets = bench.hidden_targets(args.scenario, seed, 18, 5)
                    name = "hidden ASCs"
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
        print("\n".join(bench.goal_lines(results, study)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
