"""CommFormer graph modes side by side: learned S, full, none, random at density S.

Each (graph, seed) is a real `rlsys commformer train` run (same trainer, same budget),
then 100 deterministic evaluation episodes on fixed seeds. Prints mean +- 95% CI
(Student t over seeds) of success rate, steps and return, writes results.csv, a table
and a plot of evaluation success against env steps.

    python bench/commformer_compare.py --dim 5 --agents 3 --updates 40 --seeds 1,2,3
    python bench/commformer_compare.py --env simple_spread --agents 3 --max-steps 25 ...
    python bench/commformer_compare.py --gating-study ...   # learned, with and without gates
    python bench/commformer_compare.py --gating-study --gate-coefs 0,0.001,0.01 ...  # trade-off
    python bench/commformer_compare.py --gating-study --gated-only ...  # gates only

Runs go to --out (default bench/results/commformer/<env>-<dim>x<dim>-<agents>); a run
that already has final.pt is not retrained (rerun the script to resume a study).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
from pathlib import Path

import numpy as np
import torch

from rlsys.stats import ci95

RESULTS = Path(__file__).parent / "results" / "commformer"


def run_one(
    args, graph: str, gating: bool, seed: int, out: Path, gate_coef: float | None = None
) -> dict:
    from rlsys.commformer.evaluate import run_episodes
    from rlsys.commformer.model import CommFormerPolicy
    from rlsys.commformer.train import CommFormerTrainConfig, EnvConfig, make_team_env, train

    env = EnvConfig(
        name=args.env, dim=args.dim, agents=args.agents, vision=args.vision,
        max_steps=args.max_steps, capture_agents=args.capture_agents, mode=args.mode,
        landmark_neighbors=args.neighbors, agent_neighbors=args.neighbors,
    )  # fmt: skip
    cfg = CommFormerTrainConfig(env=env, eval_episodes=100, init_weights=args.init_weights)
    cfg.model = dataclasses.replace(cfg.model, graph=graph, sparsity=args.sparsity, gating=gating)
    if gate_coef is not None:
        cfg.model = dataclasses.replace(cfg.model, gate_coef=gate_coef)
    if gating and args.gate_open_init is not None:
        cfg.model = dataclasses.replace(cfg.model, gate_open_init=args.gate_open_init)
    if gating and args.no_gate_entropy:
        cfg.model = dataclasses.replace(cfg.model, gate_entropy=False)
    if gating and args.separate_gate_ratio:
        cfg.model = dataclasses.replace(cfg.model, gate_ratio="separate")
    cfg.bilevel = dataclasses.replace(cfg.bilevel, warmup_updates=args.warmup)
    if args.graph_lr is not None:
        cfg.bilevel = dataclasses.replace(cfg.bilevel, graph_lr=args.graph_lr)
    if args.freeze_fraction is not None:
        cfg.bilevel = dataclasses.replace(cfg.bilevel, freeze_fraction=args.freeze_fraction)
    if args.graph_gradient is not None:
        cfg.model = dataclasses.replace(cfg.model, graph_gradient=args.graph_gradient)
    if args.graph_draw is not None:
        cfg.model = dataclasses.replace(cfg.model, graph_draw=args.graph_draw)
    if args.critic is not None:
        cfg.model = dataclasses.replace(cfg.model, critic=args.critic)
    cfg.train = dataclasses.replace(
        cfg.train, seed=seed, total_updates=args.updates, eval_every=args.eval_every
    )
    if not (out / "final.pt").exists():
        resume = (out / "checkpoints" / "latest.pt").exists()
        train(cfg, out, resume=resume, progress=False)
    policy = CommFormerPolicy.load(out / "final.pt")
    r = run_episodes(policy, lambda rm=None: make_team_env(env, rm), 100)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    # how far training moved the graph logits (they start all equal): the spread of the
    # off-diagonal logits, against the Gumbel noise's standard deviation of 1.28
    logits = policy.edge_logits.detach()
    off = logits[~torch.eye(len(logits), dtype=torch.bool)]
    graph_now = policy.execution_graph()
    senders = [
        ",".join(str(j) for j in range(len(graph_now)) if j != i and graph_now[i, j] > 0)
        for i in range(len(graph_now))
    ]
    return {
        "logit_spread": float(off.max() - off.min()),
        # the deterministic execution graph: receiver i's senders, "; "-separated rows
        "execution_graph": "; ".join(f"{i}<-{s}" for i, s in enumerate(senders)),
        "graph": variant_name(graph, gating, gate_coef),
        "seed": seed,
        "env_steps": rows[-1]["env_steps"],
        "success_rate": r["success_rate"],
        "steps": r["steps"],
        "return": r["return"],
        "messages_per_step": r["messages_per_step"],
        "curve": [
            (row["env_steps"], row["eval/success_rate"], row["eval/return"])
            for row in rows
            if "eval/success_rate" in row
        ],
    }


def plot(results: list[dict], path: Path, title: str, key: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for graph in dict.fromkeys(r["graph"] for r in results):
        curves = [r["curve"] for r in results if r["graph"] == graph and r["curve"]]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        x = np.mean([[p[0] for p in c[:n]] for c in curves], axis=0)
        y = np.array([[p[key] for p in c[:n]] for c in curves])
        mean = y.mean(0)
        half = [ci95(list(col)) for col in y.T]
        ax.plot(x, mean, marker="o", ms=3, label=graph)
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation success rate" if key == 1 else "evaluation return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def variant_name(graph: str, gating: bool, gate_coef: float | None) -> str:
    """'learned', 'learned+gating' (the default gate_coef) or 'learned+gating c=0.001'."""
    name = graph + ("+gating" if gating else "")
    return name if gate_coef is None else f"{name} c={gate_coef:g}"


def plot_tradeoff(results: list[dict], path: Path, title: str, key: str) -> None:
    """Messages per step against success (or return): one point per variant, mean +- 95% CI
    over seeds, each seed as a faint dot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for graph in dict.fromkeys(r["graph"] for r in results):
        rs = [r for r in results if r["graph"] == graph]
        xs, ys = [r["messages_per_step"] for r in rs], [r[key] for r in rs]
        ax.scatter(xs, ys, s=12, alpha=0.35)
        ax.errorbar(
            statistics.mean(xs), statistics.mean(ys), xerr=ci95(xs), yerr=ci95(ys),
            fmt="o", capsize=3, label=graph, color=ax.collections[-1].get_facecolor()[0][:3],
        )  # fmt: skip
    ax.set_xlabel("messages per step (deterministic evaluation)")
    ax.set_ylabel("success rate" if key == "success_rate" else "return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def results_max_steps(args) -> int:
    """The episode limit the runs used (the EnvConfig default when not given)."""
    from rlsys.commformer.train import EnvConfig

    env = EnvConfig(
        name=args.env, dim=args.dim, agents=args.agents, max_steps=args.max_steps,
        capture_agents=args.capture_agents,
    )  # fmt: skip
    return int(env.max_steps)


def _size(args) -> str:
    return "" if args.env == "simple_spread" else f"-{args.dim}x{args.dim}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="predator_prey")
    p.add_argument("--dim", type=int, default=5)
    p.add_argument("--agents", type=int, default=3)
    p.add_argument("--vision", type=int, default=1)
    p.add_argument(
        "--mode",
        default="cooperative",
        help="predator reward mode: cooperative (default) | mixed (the papers') | competitive",
    )
    p.add_argument(
        "--capture-agents", type=int, default=2, help="--env capture: blind capture agents"
    )
    p.add_argument("--max-steps", type=int, help="default: 4 x dim (simple_spread 25)")
    p.add_argument(
        "--neighbors",
        type=int,
        help="simple_spread: agents observe their nearest this-many landmarks and agents",
    )
    p.add_argument("--sparsity", type=float, default=0.4)
    p.add_argument("--updates", type=int, default=40)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument(
        "--graph-lr", type=float, help="graph logits' Adam lr (default: BilevelConfig's)"
    )
    p.add_argument(
        "--freeze-fraction",
        type=float,
        help="freeze the learned graph after this share of the updates (default: never)",
    )
    p.add_argument(
        "--graph-gradient",
        choices=["straight_through", "policy_gradient"],
        help="how the graph logits learn (default: the config's, straight_through)",
    )
    p.add_argument(
        "--graph-draw",
        choices=["step", "episode"],
        help="training graphs drawn every step (default) or once per episode",
    )
    p.add_argument(
        "--critic",
        choices=["graph", "full"],
        help="value heads on the acting graph (default) or on a full-graph pass",
    )
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--graphs", default="learned,full,none,random")
    p.add_argument("--gating-study", action="store_true", help="learned with vs without gates")
    p.add_argument(
        "--gate-coefs",
        help="gating study: comma-separated gate_coef values (default: the config's, 0.01)",
    )
    p.add_argument(
        "--gate-open-init",
        type=float,
        help="gating study: initial open probability of the gates (default: PyTorch's init)",
    )
    p.add_argument(
        "--no-gate-entropy",
        action="store_true",
        help="gating study: no entropy bonus on the gates",
    )
    p.add_argument(
        "--separate-gate-ratio",
        action="store_true",
        help="gating study: the gate gets its own clipped PPO ratio",
    )
    p.add_argument(
        "--gated-only",
        action="store_true",
        help="gating study without the ungated 'learned' runs (when the graph study has them)",
    )
    p.add_argument(
        "--init-weights", help="every run starts from this final.pt, or 'pretrained' (fine-tune)"
    )
    p.add_argument("--out", help="study directory")
    args = p.parse_args()
    if args.gate_coefs and not args.gating_study:
        p.error("--gate-coefs needs --gating-study")
    if args.gated_only and not args.gating_study:
        p.error("--gated-only needs --gating-study")
    if args.no_gate_entropy and not args.gating_study:
        p.error("--no-gate-entropy needs --gating-study")
    if args.separate_gate_ratio and not args.gating_study:
        p.error("--separate-gate-ratio needs --gating-study")
    if args.gate_open_init is not None and not (args.gating_study and 0 < args.gate_open_init < 1):
        p.error("--gate-open-init needs --gating-study and a value in (0, 1)")

    from rlsys.runtime import init_ray

    init_ray()
    seeds = [int(s) for s in args.seeds.split(",")]
    tag = f"{args.env}-{args.dim}x{args.dim}-{args.agents}" + (
        "-gating" if args.gating_study else ""
    )
    if args.mode != "cooperative":
        tag += f"-{args.mode}"
    if args.env == "capture":
        tag += f"-{args.capture_agents}capture"
    if args.sparsity != p.get_default("sparsity"):
        tag += f"-S{args.sparsity:g}"
    if args.graph_lr is not None:
        tag += f"-glr{args.graph_lr:g}"
    if args.freeze_fraction is not None:
        tag += f"-freeze{args.freeze_fraction:g}"
    if args.graph_gradient == "policy_gradient":
        tag += "-pg"
    if args.neighbors is not None:
        tag += f"-nearest{args.neighbors}"
    if args.graph_draw == "episode":
        tag += "-episode"
    if args.critic == "full":
        tag += "-fullcritic"
    if args.gate_open_init is not None:
        tag += f"-open{args.gate_open_init:g}"
    if args.no_gate_entropy:
        tag += "-nogateentropy"
    if args.separate_gate_ratio:
        tag += "-gateratio"
    if args.init_weights:
        tag += "-finetune"
    out = Path(args.out) if args.out else RESULTS / tag
    out.mkdir(parents=True, exist_ok=True)
    coefs = [float(c) for c in args.gate_coefs.split(",")] if args.gate_coefs else [None]
    if args.gating_study:
        ungated = [] if args.gated_only else [("learned", False, None)]
        variants = ungated + [("learned", True, c) for c in coefs]
    else:
        variants = [(g, False, None) for g in args.graphs.split(",")]
    results = []
    for graph, gating, coef in variants:
        for seed in seeds:
            name = f"{graph}{'-gating' if gating else ''}"
            name += "" if coef is None else f"-c{coef:g}"
            r = run_one(args, graph, gating, seed, out / "runs" / f"{name}-seed{seed}", coef)
            print(
                f"{name}-seed{seed}: success {r['success_rate']:.2f}, steps {r['steps']:.2f}, "
                f"return {r['return']:.3f}, messages/step {r['messages_per_step']:.2f}"
            )
            results.append(r)

    fields = ["graph", "seed", "env_steps", "success_rate", "steps", "return", "messages_per_step",
              "logit_spread", "execution_graph"]  # fmt: skip
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in results:
            writer.writerow({k: r[k] for k in fields})
    lines = [
        f"# CommFormer graphs: {args.env}{_size(args)}, {args.agents} agents",
        "",
        f"Vision {args.vision}, max {results_max_steps(args)} steps, S = {args.sparsity:g}, "
        f"{args.updates} PPO updates per run ({args.warmup} warm-up), seeds {args.seeds}; "
        "100 deterministic evaluation episodes per run; mean +- 95% CI over seeds.",
        "",
        "| graph | success rate | steps | return | messages / step | env steps | logit spread |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for graph in dict.fromkeys(r["graph"] for r in results):
        rs = [r for r in results if r["graph"] == graph]

        def cell(key: str, fmt: str, rs=rs) -> str:
            vals = [r[key] for r in rs]
            return f"{statistics.mean(vals):{fmt}} +- {ci95(vals):{fmt}}"

        lines.append(
            f"| {graph} | {cell('success_rate', '.2f')} | {cell('steps', '.2f')} | "
            f"{cell('return', '.3f')} | {statistics.mean(r['messages_per_step'] for r in rs):.2f}"
            f" | {int(statistics.mean(r['env_steps'] for r in rs))}"
            f" | {cell('logit_spread', '.3f')} |"
        )
    command = "python bench/commformer_compare.py " + " ".join(
        f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
        for k, v in vars(args).items()
        if v not in (None, False)
        and k != "out"
        and not (k == "capture_agents" and args.env != "capture")
        and not (k == "mode" and v == "cooperative")
    )
    lines += ["", f"`{command}`", "", "![success](success.png)", ""]
    key = 2 if args.env == "simple_spread" else 1
    plot(results, out / "success.png", tag, key)
    if args.gating_study:
        metric = "return" if args.env == "simple_spread" else "success_rate"
        plot_tradeoff(results, out / "tradeoff.png", f"{tag}: messages against {metric}", metric)
        lines.insert(-1, "![messages against success](tradeoff.png)\n")
    text = "\n".join(lines)
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
