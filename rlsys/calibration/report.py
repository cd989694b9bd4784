"""Outputs of a calibration: evaluations.csv, best_asc.yaml, summary.json, report.md, PNGs.

The plotting functions take ``{label: rows}`` so the benchmark draws several methods on
the same axes with the same code.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from envs.transport import MODES
from rlsys.calibration.config import CalibrationConfig
from rlsys.calibration.objective import FREE_MODES


def best_so_far(
    rows: list[dict[str, Any]], x_key: str, y_key: str = "objective"
) -> tuple[list[float], list[float]]:
    """Step curve (x, best full-evaluation objective so far), one point per improvement."""
    xs, ys, best = [], [], np.inf
    for r in rows:
        if r["full_budget"] and r[y_key] is not None and r[y_key] < best:
            best = r[y_key]
            xs.append(float(r[x_key]))
            ys.append(best)
    return xs, ys


def first_reaching(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any] | None:
    """The first full evaluation with L1 <= threshold (rows in finishing order)."""
    for r in rows:
        if r["full_budget"] and r["l1"] is not None and r["l1"] <= threshold:
            return r
    return None


def plot_l1(
    runs: dict[str, list[dict[str, Any]]],
    path: Path,
    title: str = "",
    ylabel: str = "best L1 so far (pp)",
) -> None:
    """Two panels: best objective versus simulated iterations and versus wall time, per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for label, rows in runs.items():
        for ax, key in zip(axes, ("cumulative_iterations", "elapsed_s"), strict=True):
            xs, ys = best_so_far(rows, key)
            if xs:
                end = float(rows[-1][key])
                ax.step(xs + [max(end, xs[-1])], ys + [ys[-1]], where="post", label=label)
    for ax, xlabel in zip(axes, ("simulated iterations", "wall time (s)"), strict=True):
        ax.set_xlabel(xlabel)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        for level in (1.0, 5.0):
            ax.axhline(level, color="grey", lw=0.8, ls="--")
    axes[0].set_ylabel(ylabel)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_shares(
    target: dict[str, float],
    simulated: dict[str, float | None],
    path: Path,
    title: str = "",
    ylabel: str = "mode share (%)",
    modes: tuple[str, ...] = MODES,
    log: bool = True,
) -> None:
    """Grouped bars: target versus simulated value per mode (shares, or travel times)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(modes))
    fig, ax = plt.subplots(figsize=(max(4.0, len(modes)), 3.5))
    ax.bar(x - 0.2, [target.get(m) or 0.0 for m in modes], 0.4, label="target")
    ax.bar(x + 0.2, [simulated.get(m) or 0.0 for m in modes], 0.4, label="simulated")
    ax.set_xticks(x, [m.replace("_", "\n") for m in modes], fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    if not rows:
        path.write_text("")
        return
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_asc(asc: dict[str, float], path: Path, header: str) -> None:
    """A flat mode -> ASC YAML (car 0 included), readable by `rlsys transport simulate`."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{m}: {asc.get(m, 0.0):.6f}" for m in MODES]
    path.write_text("\n".join(lines) + "\n")


def write_outputs(
    cfg: CalibrationConfig,
    run_dir: Path,
    rows: list[dict[str, Any]],
    best: dict[str, Any] | None,
    checks: dict[str, Any],
    workers: int,
    retries: int = 0,
    choice: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write everything; return the summary (also written as summary.json). ``choice``:
    the method asked for (``requested``, e.g. auto) and why ``cfg.method`` ran."""
    write_csv(rows, run_dir / "evaluations.csv")
    iterations = rows[-1]["cumulative_iterations"] if rows else 0
    wall = max((r["elapsed_s"] for r in rows), default=0.0)
    saved = sum(r["iterations_saved"] for r in rows)
    summary: dict[str, Any] = {
        "method": cfg.method,
        "method_requested": (choice or {}).get("requested", cfg.method),
        "method_why": (choice or {}).get("why", ""),
        **_simulator_summary(cfg),
        "scenario": cfg.scenario,
        "seed": cfg.seed,
        "workers": workers,
        "evaluations": len(rows),
        "iterations": iterations,
        "wall_s": wall,
        "stopped_early": sum(r["stopped_early"] for r in rows),
        "iterations_saved": saved,
        "continued": sum(r["continued"] for r in rows),
        "model_based_picks": sum(bool(r["model_based_pick"]) for r in rows),
        "proposal_picks": sum(bool(r.get("proposal_pick")) for r in rows),
        "retries": retries,
        "best_objective": None if best is None else best["objective"],
        "best_l1": None if best is None else best["l1"],
        "best_time_error": None if best is None else best["time_error"],
        "best_asc": None,
        **checks,
    }
    for threshold in (5.0, 1.0):
        hit = first_reaching(rows, threshold)
        summary[f"to_l1_{threshold:g}"] = (
            None
            if hit is None
            else {"iterations": hit["cumulative_iterations"], "wall_s": hit["elapsed_s"]}
        )
    if best is not None:
        asc = {m: float(best[f"asc_{m}"]) for m in FREE_MODES}
        summary["best_asc"] = asc
        header = (
            f"rlsys calibrate --method {cfg.method} --scenario {cfg.scenario} --seed {cfg.seed}\n"
            f"L1 {best['l1']:.3f} pp (mean of the last {cfg.last_k} of "
            f"{cfg.max_iterations} iterations, seed {cfg.seed})"
        )
        if best["time_error"] is not None:
            header += f"\ntravel-time error {best['time_error']:.2f} % (mean over targeted modes)"
        write_asc(asc, run_dir / "best_asc.yaml", header)
        plot_shares(
            cfg.targets,
            checks.get("seed_shares") or {m: best[f"share_{m}"] for m in MODES},
            run_dir / "shares.png",
            title=f"target vs simulated (best ASCs, seed {cfg.seed}): L1 {best['l1']:.2f} pp",
        )
        if cfg.time_targets:
            plot_shares(
                cfg.time_targets,
                checks.get("seed_times") or {m: best[f"time_{m}"] for m in MODES},
                run_dir / "times.png",
                title=f"travel times (best ASCs, seed {cfg.seed}): error "
                f"{best['time_error']:.2f} %",
                ylabel="mean travel time (min)",
                modes=tuple(cfg.time_targets),
                log=False,
            )
    ylabel = (
        f"best L1 + {cfg.time_weight:g} x time error" if cfg.time_targets else "best L1 so far (pp)"
    )
    plot_l1(
        {cfg.method: rows}, run_dir / "l1.png", title=f"{cfg.scenario}, {cfg.method}", ylabel=ylabel
    )
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    (run_dir / "report.md").write_text(report_markdown(cfg, summary, rows))
    return summary


def _fmt(value: Any, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _time_lines(cfg: CalibrationConfig, s: dict[str, Any]) -> list[str]:
    """Report rows for the extra travel-time targets (none without them)."""
    if not cfg.time_targets:
        return []
    other = ", ".join(_fmt(v) for v in s.get("other_seeds_time_error", []))
    times = s.get("seed_times") or {}
    per_mode = "; ".join(
        f"{m} {_fmt(times.get(m), 1)} / {t:.1f}" for m, t in cfg.time_targets.items()
    )
    return [
        f"| best objective (L1 + {cfg.time_weight:g} x time error) | "
        f"{_fmt(s['best_objective'], 3)} |",
        f"| travel-time error, best ASCs (seed {cfg.seed}) | {_fmt(s['best_time_error'])} % |",
        f"| travel-time error, other seeds | {other} % |",
        f"| travel time, simulated / target (min) | {per_mode} |",
    ]


def _simulator_summary(cfg: CalibrationConfig) -> dict[str, Any]:
    """The external simulator (if any) and what a promoted BOHB job does with it."""
    if not cfg.simulator:
        return {}
    from rlsys.calibration.calibrate import external_simulator

    sim = external_simulator(cfg)
    how = (
        "promoted BOHB jobs continue their parent's state directory"
        if sim.continues
        else "the adapter says it cannot continue a run, so promoted BOHB jobs restart"
    )
    note = (
        f"Simulator: {sim.name} (external command, `{cfg.simulator}`; timeout "
        f"{sim.timeout_s:g} s, {sim.retries} retries; {how})."
    )
    return {"simulator": sim.name, "simulator_continues": sim.continues, "simulator_note": note}


def report_markdown(cfg: CalibrationConfig, s: dict[str, Any], rows: list[dict]) -> str:
    other = ", ".join(_fmt(v) for v in s.get("other_seeds_l1", []))
    where = s.get("simulator") or cfg.scenario
    lines = [
        f"# Calibration report: {cfg.method} on {where}",
        "",
        *([s["simulator_note"], ""] if s.get("simulator_note") else []),
        f"Targets: {cfg.targets_file or 'inline'}; seed {cfg.seed}; {s['workers']} worker(s); "
        f"full evaluation = {cfg.max_iterations} iterations, objective = L1 (pp) of the mean "
        f"shares of the last {cfg.last_k} iterations"
        + (
            f" + {cfg.time_weight:g} x the mean travel-time error (%) over "
            f"{', '.join(cfg.time_targets)} ({cfg.time_targets_file or 'inline'})."
            if cfg.time_targets
            else "."
        ),
        "",
        *(
            [f"Method: {s['method_requested']} -> {cfg.method}. {s['method_why']}.", ""]
            if s.get("method_requested") == "auto"
            else []
        ),
        "| quantity | value |",
        "|---|---:|",
        f"| best L1 (seed {cfg.seed}) | {_fmt(s['best_l1'], 3)} pp |",
        f"| same ASCs, seeds {s.get('other_seeds', [])} | {other} pp |",
        *_time_lines(cfg, s),
        f"| evaluations | {s['evaluations']} |",
        f"| simulated iterations | {s['iterations']} |",
        f"| wall time | {s['wall_s']:.1f} s |",
        f"| stopped early (trend rule) | {s['stopped_early']} ({s['iterations_saved']} "
        "iterations saved) |",
        f"| continued from a saved state | {s['continued']} |",
        f"| retried after a worker failure | {s['retries']} |",
        f"| model-based picks (BOHB KDE) | {s['model_based_picks']} |",
        f"| fixed-point proposals (BOHB) | {s.get('proposal_picks', 0)} |",
    ]
    for t in (5.0, 1.0):
        hit = s.get(f"to_l1_{t:g}")
        value = (
            "not reached"
            if hit is None
            else f"{hit['iterations']} iterations, {hit['wall_s']:.1f} s"
        )
        lines.append(f"| first full evaluation with L1 <= {t:g} | {value} |")
    lines += ["", "![L1](l1.png)", "", "![shares](shares.png)", ""]
    if cfg.time_targets:
        lines += ["![travel times](times.png)", ""]
    if s.get("best_asc"):
        lines += ["Best ASCs ($): " + ", ".join(f"{m} {v:.3f}" for m, v in s["best_asc"].items())]
    lines += ["", f"All {len(rows)} evaluations: `evaluations.csv`.", ""]
    return "\n".join(lines)
