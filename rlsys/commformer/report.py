"""`report.md` of a CommFormer run: learning curves, the learned graph, an episode GIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_learning_curves(metrics_jsonl: Path, path: Path) -> Path:
    """Training return and evaluation success rate / steps against env steps."""
    rows = [json.loads(line) for line in metrics_jsonl.read_text().splitlines()]
    steps = [r["env_steps"] for r in rows]
    train_return = [r["charts/episodic_return"] for r in rows]
    evals = [r for r in rows if "eval/success_rate" in r]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(steps, train_return, lw=1)
    axes[0].set_title("training episodes: mean agent return")
    if evals:
        x = [r["env_steps"] for r in evals]
        axes[1].plot(x, [r["eval/success_rate"] for r in evals], marker="o", ms=3)
        axes[2].plot(x, [r["eval/steps"] for r in evals], marker="o", ms=3)
    axes[1].set_title("evaluation: success rate")
    axes[1].set_ylim(-0.02, 1.02)
    axes[2].set_title("evaluation: steps per episode (lower is better)")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_graph(policy: Any, path: Path) -> Path:
    """Two heat maps: the edge logits (off-diagonal, their own colour scale, so small
    learned differences show) and the execution graph (each row's top-k senders)."""
    logits = policy.edge_logits.detach().cpu().numpy().copy()
    n = logits.shape[0]
    np.fill_diagonal(logits, np.nan)
    graph = policy.execution_graph().detach().cpu().numpy()
    fig, axes = plt.subplots(1, 2, figsize=(2.6 + 1.2 * n, 1.2 + 0.55 * n))
    im = axes[0].imshow(logits, cmap="viridis")
    fig.colorbar(im, ax=axes[0], label="edge logit")
    axes[0].set_title("edge logits (init: all 1)")
    axes[1].imshow(graph, cmap="Greys", vmin=0, vmax=1)
    axes[1].set_title(f"execution graph ({policy.config.graph}, k={policy.k} + self)")
    for ax in axes:
        ax.set_xlabel("sender j")
        ax.set_ylabel("receiver i")
        ax.set_xticks(range(n))
        ax.set_yticks(range(n))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(run_dir: Path, cfg: Any) -> Path:
    """Plots, one recorded episode and report.md in ``run_dir`` (needs final.pt)."""
    from rlsys.commformer.evaluate import run_episodes
    from rlsys.commformer.model import CommFormerPolicy
    from rlsys.commformer.train import make_team_env

    run_dir = Path(run_dir)
    plot_learning_curves(run_dir / "metrics.jsonl", run_dir / "learning_curves.png")
    lines = [
        "# CommFormer training",
        "",
        f"env {cfg.env.name} {cfg.env.dim}x{cfg.env.dim}, {cfg.env.agents} agents, "
        f"vision {cfg.env.vision}; graph {cfg.model.graph}, sparsity {cfg.model.sparsity:g}"
        f"{', gating' if cfg.model.gating else ''}; seed {cfg.train.seed}.",
        "",
        "![learning curves](learning_curves.png)",
        "",
    ]
    final = run_dir / "final.pt"
    if final.exists():
        policy = CommFormerPolicy.load(final)
        plot_graph(policy, run_dir / "graph.png")
        result = run_episodes(
            policy,
            lambda render_mode=None: make_team_env(cfg.env, render_mode),
            cfg.eval_episodes,
            record=1 if cfg.env.name != "simple_spread" else 0,
        )
        lines += [
            f"Final policy, {cfg.eval_episodes} deterministic evaluation episodes:",
            "",
            "| success rate | steps | return | messages / step |",
            "|---:|---:|---:|---:|",
            f"| {result['success_rate']:.3f} | {result['steps']:.2f} | {result['return']:.3f} "
            f"| {result['messages_per_step']:.2f} |",
            "",
            "![graph](graph.png)",
            "",
        ]
        if result["frames"]:
            from envs.predator_prey.render import save_episode

            save_episode(result["frames"][0], run_dir / "episode.gif")
            lines += ["![episode](episode.gif)", ""]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
