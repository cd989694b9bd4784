"""`report.md` of a PARL run: true return against env steps and against queries."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_learning_curves(metrics_jsonl: Path, path: Path) -> Path:
    """True return (training episodes and deterministic evaluation) against env steps and
    against the labels the teacher gave."""
    rows = [json.loads(line) for line in metrics_jsonl.read_text().splitlines()]
    steps = [r["env_steps"] for r in rows]
    queries = [r.get("losses/queries", 0.0) for r in rows]
    train_return = [r["charts/episodic_return"] for r in rows]
    evals = [r for r in rows if "eval/true_return" in r]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(steps, train_return, lw=1, alpha=0.6, label="training episodes")
    if evals:
        axes[0].plot(
            [r["env_steps"] for r in evals],
            [r["eval/true_return"] for r in evals],
            marker="o",
            ms=3,
            label="evaluation (deterministic)",
        )
    axes[0].set_xlabel("environment steps")
    axes[0].legend()
    axes[1].plot(queries, train_return, lw=1)
    axes[1].set_xlabel("queries answered")
    for ax in axes:
        ax.set_ylabel("true return")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(run_dir: Path, cfg) -> Path:
    """report.md with the curves and the last evaluation."""
    run_dir = Path(run_dir)
    plot_learning_curves(run_dir / "metrics.jsonl", run_dir / "learning_curves.png")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    evals = [r for r in rows if "eval/true_return" in r]
    lines = [
        f"# PARL run: {cfg.method} on {cfg.task}",
        "",
        f"Teacher {cfg.teacher.kind}, {int(last.get('losses/queries', 0))} of {cfg.queries} "
        f"queries used, {last['env_steps']} env steps, seed {cfg.train.seed}.",
        "",
        "| | value |",
        "|---|---:|",
        f"| last evaluation true return | {evals[-1]['eval/true_return']:.1f} |"
        if evals
        else "| last evaluation true return | - |",
        f"| last training episodes' true return | {last['charts/episodic_return']:.1f} |",
        "",
        "![learning curves](learning_curves.png)",
        "",
    ]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
