"""Plot of bench/jobshop_plans.py's results: each method's mean makespan against the best
rule at every shutdown probability, one panel per family.

    python bench/jobshop_plans_plot.py [--out bench/results/jobshop/plans/plans.png]

Reads plans/{la,la-sampled,heldout,heldout-sampled,unseen,unseen-sampled,unseen-hinted}.csv
(``python bench/jobshop_plans.py`` with the README's commands).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rlsys.jobshop.evaluate import best_rules, summarize  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "jobshop" / "plans"
PANELS = {
    "la01-la20 + ft06, ft10 (seeds 0-2)": (["la", "la-sampled"], None),
    "la21-la40 + orb01-orb10, held out (seeds 0-2)": (["heldout", "heldout-sampled"], None),
    "ta41-ta50, 30x20 (seed 0)": (["unseen", "unseen-sampled", "unseen-hinted"], ("ta4", "ta50")),
}
LINES = {  # label in the CSVs -> label in the plot (unseen-hinted's CP-SAT is relabelled)
    "plan:cpsat": "CP-SAT 60 s plan, followed",
    "hinted": "CP-SAT from the policy's plan, followed",
    "plan:pretrained-large@sample:64": "policy's best of 64 plans, followed",
    "plan:pretrained-large@sample:8": "policy's best of 8 plans, followed",
    "plan:pretrained-large": "policy's greedy plan, followed",
    "pretrained-large": "policy online (greedy)",
}


def rows_of(names: list[str], only: tuple[str, ...] | None) -> list[dict]:
    rows = []
    for name in names:
        for r in csv.DictReader((RESULTS / f"{name}.csv").open()):
            if only and not r["instance"].startswith(only):
                continue
            if name.endswith("hinted") and r["policy"] == "plan:cpsat":
                r["policy"] = "hinted"
            rows.append(r)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=RESULTS / "plans.png")
    args = ap.parse_args()
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4.2), sharey=True)
    for ax, (title, (names, only)) in zip(axes, PANELS.items(), strict=True):
        rows = rows_of(names, only)
        best, means = best_rules(rows), summarize(rows)
        probs = sorted(best)
        for color, (key, label) in enumerate(LINES.items()):
            if all((key, p) in means for p in probs):  # one colour per method in every panel
                ys = [100 * (means[(key, p)] / best[p][1] - 1) for p in probs]
                ax.plot(probs, ys, marker="o", color=f"C{color}", label=label)
        ax.axhline(0, color="grey", lw=0.8)
        ax.axhline(-10, color="grey", lw=0.8, ls="--")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("shutdown probability p")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean makespan vs best rule (%)")
    axes[-1].legend(fontsize=7, loc="upper right")  # the last panel has every method
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
