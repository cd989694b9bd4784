"""Plots for job-shop evaluation reports."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rlsys.jobshop.evaluate import summarize  # noqa: E402


def plot_rule_comparison(rows: list[dict], path: str | Path, title: str = "") -> Path:
    """Grouped bars: mean makespan per policy, one group per shutdown probability."""
    means = summarize(rows)
    policies = list(dict.fromkeys(r["policy"] for r in rows))
    probs = sorted({float(r["shutdown_prob"]) for r in rows})
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(probs), 4))
    width = 0.8 / len(policies)
    cmap = plt.get_cmap("tab10")
    for k, pol in enumerate(policies):
        xs = [i + (k - (len(policies) - 1) / 2) * width for i in range(len(probs))]
        ys = [means.get((pol, p), float("nan")) for p in probs]
        ax.bar(xs, ys, width, label=pol, color=cmap(k % 10))
    ax.set_xticks(range(len(probs)), [f"p = {p:g}" for p in probs])
    ax.set_ylabel("mean makespan (time units)")
    ax.set_title(title or "dispatching rules on the ISBJSSP")
    lo = min(means.values())
    ax.set_ylim(lo * 0.85, max(means.values()) * 1.03)
    ax.legend(ncol=4, fontsize=8, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def validation_rows(metrics_jsonl: str | Path) -> list[dict]:
    """The rows of a training run's ``metrics.jsonl`` that carry a validation evaluation."""
    import json

    rows = (json.loads(line) for line in Path(metrics_jsonl).read_text().splitlines())
    return [row for row in rows if "eval/val/makespan" in row]


def plot_learning_curve(metrics_jsonl: str | Path, path: str | Path) -> Path:
    """Validation makespan (greedy policy) and MWKR's on the same set, versus env steps."""
    evals = validation_rows(metrics_jsonl)
    steps = [row["env_steps"] for row in evals]
    val = [row["eval/val/makespan"] for row in evals]
    mwkr = [row["eval/val/mwkr_makespan"] for row in evals]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(steps, val, marker="o", ms=3, label="GNN-PPO (greedy)")
    if mwkr:
        ax.axhline(mwkr[0], color="tab:red", ls="--", label="MWKR (best rule)")
    ax.set_xlabel("environment steps (decisions)")
    ax.set_ylabel("validation mean makespan")
    ax.set_title("job-shop GNN-PPO learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
