"""`rlsys parl compare`: methods x seeds in parallel on Ray, same teacher and budgets.

Each (method, seed) is one ``rlsys.parl.train.train`` run inside a Ray task (its own
rollout actor inside), in ``<out>/runs/<method>-seed<seed>/``; a finished run (final.pt)
is kept and an interrupted one resumed, so rerunning the command continues a study.
Writes ``results.csv`` (method, seed, env_steps, queries, true_return: one row per
evaluation), ``results.md`` (final true return, mean +- 95% CI, the env steps each
method needs to reach the target, by default the baseline's mean final return, and,
with parl and pebble both in the study, parl's sample saving paired by seed) and plots of
true return against env steps and against queries.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import statistics
from pathlib import Path

import numpy as np

from rlsys.config import from_dict
from rlsys.parl.train import PARLConfig
from rlsys.runtime import load_run_config
from rlsys.stats import ci95


def _train_task(cfg_dict: dict, run_dir: str) -> dict:
    from rlsys.parl.train import train

    cfg = from_dict(PARLConfig, cfg_dict)
    resume = (Path(run_dir) / "checkpoints" / "latest.pt").exists()
    return train(cfg, Path(run_dir), resume=resume, progress=False)


def run_compare(
    base: PARLConfig,
    methods: list[str],
    seeds: list[int],
    out: Path,
    cpus_per_run: float = 1.0,
    target: float | None = None,
) -> Path:
    """Run (or continue) the study and write its results; returns results.md."""
    import ray
    from tqdm import tqdm

    from rlsys.runtime import init_ray, write_config

    init_ray()
    out.mkdir(parents=True, exist_ok=True)
    remote = ray.remote(num_cpus=cpus_per_run / 2)(_train_task)
    pending = {}
    for method in methods:
        for seed in seeds:
            run_dir = out / "runs" / f"{method}-seed{seed}"
            if (run_dir / "final.pt").exists():
                continue
            cfg = dataclasses.replace(base, method=method)
            cfg.train = dataclasses.replace(cfg.train, seed=seed)
            cfg.train.rollout = dataclasses.replace(
                cfg.train.rollout, worker_num_cpus=cpus_per_run / 2
            )
            run_dir.mkdir(parents=True, exist_ok=True)
            write_config(cfg, run_dir / "config.yaml")
            pending[remote.remote(dataclasses.asdict(cfg), str(run_dir))] = run_dir
    with tqdm(total=len(pending), unit="run", desc="parl compare") as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ray.get(done[0])
            pending.pop(done[0])
            bar.update(1)
    return write_results(out, methods, seeds, target)


def _evals(run_dir: Path) -> list[dict]:
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        {
            "env_steps": r["env_steps"],
            "queries": r.get("losses/queries", 0.0),
            "true_return": r["eval/true_return"],
        }
        for r in rows
        if "eval/true_return" in r
    ]


def steps_to_reach(evals: list[dict], target: float) -> float:
    """Env steps of the first evaluation at or above ``target`` (inf: never)."""
    for e in evals:
        if e["true_return"] >= target:
            return float(e["env_steps"])
    return math.inf


def censor_steps(evals: list[dict]) -> float:
    """Where a run that never reaches the target counts: one evaluation past the budget."""
    last = evals[-1]["env_steps"]
    return float(last + (last - evals[-2]["env_steps"] if len(evals) > 1 else 1))


def samples_saved(
    reach: list[float], reach_baseline: list[float], censor: float, resamples: int = 10_000
) -> dict:
    """parl's sample saving against the baseline, paired by seed (the spec's measure).

    reach, reach_baseline: env steps each seed's run needs to reach the target (inf:
    never), in seed order. A run that never reaches it counts as ``censor`` (one
    evaluation past the budget: later than any run that does). ``saved`` is
    1 - median(reach) / median(reach_baseline); its 95% interval comes from a paired
    bootstrap over seeds (seeded, so a rerun writes the same table).
    """
    a = np.minimum(np.array(reach, dtype=float), censor)
    b = np.minimum(np.array(reach_baseline, dtype=float), censor)
    if a.shape != b.shape or not len(a):
        raise ValueError("samples_saved needs one reach per seed for both methods")
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    boot = 1.0 - np.median(a[idx], axis=1) / np.median(b[idx], axis=1)
    diff = (a - b).tolist()
    return {
        "saved": float(1.0 - np.median(a) / np.median(b)),
        "saved_low": float(np.percentile(boot, 2.5)),
        "saved_high": float(np.percentile(boot, 97.5)),
        "earlier": int((a < b).sum()),
        "tied": int((a == b).sum()),
        "later": int((a > b).sum()),
        "mean_difference": float(np.mean(diff)),
        "difference_ci": ci95(diff),
    }


def write_results(
    out: Path, methods: list[str], seeds: list[int], target: float | None = None
) -> Path:
    runs = {(m, s): _evals(out / "runs" / f"{m}-seed{s}") for m in methods for s in seeds}
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["method", "seed", "env_steps", "queries", "true_return"])
        for (m, s), evals in runs.items():
            for e in evals:
                writer.writerow(
                    [m, s, e["env_steps"], int(e["queries"]), f"{e['true_return']:.3f}"]
                )
    baseline = "pebble" if "pebble" in methods else methods[-1]
    if target is None:
        target = statistics.mean(runs[(baseline, s)][-1]["true_return"] for s in seeds)
        target_text = f"{baseline}'s mean final true return, {target:.1f}"
    else:
        target_text = f"{target:.1f}, given"
    cfg = load_run_config(PARLConfig, out / "runs" / f"{methods[0]}-seed{seeds[0]}")
    lines = [
        f"# PARL compare: {cfg.task}, teacher {cfg.teacher.kind}",
        "",
        f"{cfg.queries} queries, {runs[(methods[0], seeds[0])][-1]['env_steps']} env steps per "
        f"run, seeds {', '.join(map(str, seeds))}; deterministic evaluations of "
        f"{cfg.eval_episodes} episodes on the true reward; mean +- 95% CI over seeds. "
        f"Target: {target_text}.",
        "",
        "Curve mean: the true return averaged over every evaluation of a run (the area "
        "under its learning curve: higher = better sooner), mean +- 95% CI.",
        "",
        "| method | final true return | curve mean | env steps to the target (median) "
        "| runs reaching it | final, per seed | steps to the target, per seed |",
        "|---|---:|---:|---:|---:|---|---|",
    ]

    def steps(x: float) -> str:
        return "never" if math.isinf(x) else str(int(x))

    reach = {m: [steps_to_reach(runs[(m, s)], target) for s in seeds] for m in methods}
    for m in methods:
        finals = [runs[(m, s)][-1]["true_return"] for s in seeds]
        areas = [statistics.mean(e["true_return"] for e in runs[(m, s)]) for s in seeds]
        med = statistics.median(reach[m])
        lines.append(
            f"| {m} | {statistics.mean(finals):.1f} +- {ci95(finals):.1f} | "
            f"{statistics.mean(areas):.1f} +- {ci95(areas):.1f} | {steps(med)} | "
            f"{sum(not math.isinf(r) for r in reach[m])}/{len(seeds)} | "
            f"{', '.join(f'{f:.0f}' for f in finals)} | {', '.join(map(steps, reach[m]))} |"
        )
    if "parl" in methods and "pebble" in methods:
        censor = censor_steps(runs[("pebble", seeds[0])])
        p = samples_saved(reach["parl"], reach["pebble"], censor)
        lines += [
            "",
            f"Samples saved by parl against pebble, paired by seed (a run that never reaches "
            f"the target counts as {int(censor)} steps): **{100 * p['saved']:.0f} %** "
            f"(1 - median ratio; 95% bootstrap CI {100 * p['saved_low']:.0f} % to "
            f"{100 * p['saved_high']:.0f} %); parl earlier on {p['earlier']}, tied on "
            f"{p['tied']}, later on {p['later']} of {len(seeds)} seeds; paired difference "
            f"{p['mean_difference']:+.0f} +- {p['difference_ci']:.0f} env steps.",
        ]
    lines += ["", "![true return](true_return.png)", ""]
    _plot(runs, methods, seeds, out / "true_return.png", cfg.task)
    text = "\n".join(lines)
    (out / "results.md").write_text(text)
    print(text)
    return out / "results.md"


def _plot(runs: dict, methods: list[str], seeds: list[int], path: Path, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for m in methods:
        curves = [runs[(m, s)] for s in seeds]
        n = min(len(c) for c in curves)
        for ax, key in zip(axes, ("env_steps", "queries"), strict=True):
            x = np.mean([[e[key] for e in c[:n]] for c in curves], axis=0)
            y = np.array([[e["true_return"] for e in c[:n]] for c in curves])
            half = np.array([ci95(list(col)) for col in y.T])
            ax.plot(x, y.mean(0), marker="o", ms=3, label=m)
            ax.fill_between(x, y.mean(0) - half, y.mean(0) + half, alpha=0.2)
    axes[0].set_xlabel("environment steps")
    axes[1].set_xlabel("queries answered")
    axes[0].set_ylabel("true return (mean +- 95% CI)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_title(task)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
