"""Validation curves of several job-shop training runs on one plot (the runs must share a
validation set: the same ``validation:`` section, as ``reserve.yaml`` and ``large.yaml``).

    python bench/jobshop_curves.py LABEL=metrics.jsonl [LABEL=metrics.jsonl ...] --out FILE.png

Plots each run's validation mean makespan (greedy policy) against its PPO update, MWKR's
on the same set as a dashed line, and prints each run's best evaluation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rlsys.jobshop.report import validation_rows  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="LABEL=path/to/metrics.jsonl")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    mwkr = None
    for spec in args.runs:
        label, _, path = spec.partition("=")
        evals = validation_rows(path)
        if not evals:
            raise SystemExit(f"{path}: no validation rows")
        ups = [r["update"] for r in evals]
        val = [r["eval/val/makespan"] for r in evals]
        best = min(range(len(val)), key=val.__getitem__)
        print(f"{label}: best {val[best]:.1f} at update {ups[best]}, last {val[-1]:.1f}")
        ax.plot(ups, val, marker="o", ms=3, label=label)
        mwkr = evals[0]["eval/val/mwkr_makespan"]
    ax.axhline(mwkr, color="tab:red", ls="--", label="MWKR (best rule)")
    ax.set_xlabel("PPO update")
    ax.set_ylabel("validation mean makespan (greedy)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
