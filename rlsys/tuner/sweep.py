"""A sweep: one workload, one search, its baseline, and the outputs a user reads.

``run_sweep(cfg, run_dir, resume)`` runs two experiments of the central tuner
(``rlsys.tuner.experiment``) on the Ray cluster it finds, and writes::

    sweep.yaml      the resolved sweep (what --resume reads): workload, search, space, base
    tune/           the search's experiment (journal, sessions, trial checkpoints)
    baseline/       the baseline trial: the workload's base config at the full budget
    curves.jsonl    every trial's reported metric per budget unit (for the plot)
    trials.csv      every evaluation of both (config, budget, metric, state, error)
    best.yaml       the best configuration as a file the workload's command accepts
    report.md + curves.png   metric against budget per trial, the top configurations,
                    best against baseline, failed trials with their reasons
"""

from __future__ import annotations

import csv
import dataclasses
import json
import time
from pathlib import Path
from typing import Any, Literal

import yaml

from rlsys.config import Config, config_field, invalid
from rlsys.tuner.space import changing, clip, parse_space, space_data
from rlsys.tuner.workloads import Workload, get_workload, trainer_workload_trial, with_budget

SweepSearch = Literal["bohb", "asha", "random", "grid", "pbt"]


@dataclasses.dataclass
class SweepConfig(Config):
    """Everything a sweep needs; ``rlsys tune`` writes it as the run's ``sweep.yaml``."""

    workload: str = "jobshop"
    """A registered workload (``rlsys tune --help`` lists them)."""
    search: SweepSearch = "asha"
    """bohb | asha | random | grid | pbt."""
    samples: int = config_field(8, ge=1)
    """Trials (bohb: jobs, promotions included; grid: at most this many points; pbt: the
    population)."""
    max_concurrent: int = config_field(0, ge=0)
    """Trials at once (0: as many as the cluster's CPUs hold)."""
    budget: int = config_field(0, ge=0)
    """Full budget of a trial in the workload's unit (0: the workload's default)."""
    seed: int = config_field(0, ge=0, lt=2**31)
    """Seed of the search (trial configs); the workload's own seeds are in ``base``."""
    baseline: bool = True
    """Also run the base config at the full budget (the comparison in the report)."""
    max_failures: int = config_field(2, ge=0)
    """Retries of a failed trial (Tune's FailureConfig)."""
    space: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The search space (empty: the workload's default)."""
    config: str = ""
    """The workload's config file as the base of every trial ("": its default)."""
    base: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The resolved base config (written by ``resolve``; wins over ``config``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            get_workload(self.workload)
        except ValueError as exc:
            raise invalid(self, f"workload: {exc}") from None


def resolve(cfg: SweepConfig) -> tuple[SweepConfig, Any, Workload]:
    """(sweep with space, base and budget filled in, base config, workload); ValueError for
    a space that does not fit the workload's config."""
    from rlsys.paths import resolve_path

    workload = get_workload(cfg.workload)
    if cfg.search not in workload.searches:
        raise ValueError(f"{workload.name} supports --search {', '.join(workload.searches)}")
    if cfg.base:
        from rlsys.config import from_dict

        base = from_dict(workload.config_cls, cfg.base, source="sweep.yaml base")
    else:
        base = workload.load_config(resolve_path(cfg.config) if cfg.config else None)
    space_in = cfg.space or workload.space
    space = parse_space(space_in, source="space")
    workload.check_space(base, space)
    if cfg.search == "pbt" and not changing(space, workload.mutable):
        raise ValueError(
            f"{workload.name}: --search pbt needs a searched parameter that may change during "
            f"a trial ({', '.join(workload.mutable) or 'this workload has none'})"
        )
    budget = cfg.budget or workload.max_budget
    base = with_budget(workload, base, budget)
    resolved = dataclasses.replace(cfg, space=space_data(space), base=_plain(base), budget=budget)
    return resolved, base, workload


def _plain(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def curve_callback(path: Path, experiment: str, metric: str, params: tuple[str, ...] = ()) -> Any:
    """A Tune callback that appends (experiment, trial, iteration, metric, and the trial's
    current values of ``params``: PBT changes them during a trial) of every result to
    ``curves.jsonl`` (made here: importing Ray Tune costs every CLI command a second)."""
    from ray.tune import Callback

    class CurveCallback(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if metric not in result:
                return
            row = {
                "experiment": experiment,
                "trial_id": trial.trial_id,
                "job": trial.config.get("_job", ""),
                "iteration": result.get("iteration", result.get("training_iteration")),
                metric: result[metric],
            }
            if params:
                # the config the result was made with (PBT may already have changed
                # trial.config when a callback sees the result that triggered a clone)
                config = result.get("config") or trial.config
                row["params"] = {k: config.get(k) for k in params}
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")

    return CurveCallback()


def initial_configs(workload: Workload, base: Any, space: dict) -> list[dict[str, Any]]:
    """The workload's initial configurations, clipped to the sweep's ranges (a sweep may
    search a narrower box than the workload's own)."""
    if workload.initial_configs is None:
        return []
    return [{**c, **clip(space, c)} for c in workload.initial_configs(base)]


def experiment_spec(
    cfg: SweepConfig, base: Any, workload: Workload, run_dir: Path, name: str
) -> Any:
    import ray

    from rlsys.tuner.experiment import ExperimentSpec

    space = parse_space(cfg.space)
    search = cfg.search
    samples = cfg.samples
    if name == "baseline":
        values = workload.baseline_values(base, space)
        space = {k: dataclasses.replace(p, type="fixed", value=values[k]) for k, p in space.items()}
        search, samples = "grid", 1
    constants = {"workload": workload.name, "base": _plain(base)}
    if workload.constants is not None:
        constants.update(workload.constants(base, run_dir))
    resources = workload.resources(base) if workload.resources is not None else None
    spec = ExperimentSpec(
        trainable=workload.trainable or trainer_workload_trial,
        constants=constants,
        search=search,
        space=space,
        metric=workload.metric,
        mode=workload.mode,
        max_budget=cfg.budget,
        min_budget=workload.min_budget if (workload.min_budget or 0) <= cfg.budget else None,
        eta=workload.eta,
        evaluations=samples,
        workers=1,
        resources=resources,
        seed=cfg.seed,
        max_failures=cfg.max_failures,
        early_stopping=workload.early_stopping,
        record_keys=workload.record_keys,
        mutable=workload.mutable,
        proposal_fraction=workload.proposal_fraction(base) if workload.proposal_fraction else 0.0,
        initial_configs=initial_configs(workload, base, space) if search == "bohb" else [],
    )
    params = tuple(changing(space, workload.mutable)) if search == "pbt" else ()
    spec.callbacks = [curve_callback(run_dir / "curves.jsonl", name, workload.metric, params)]
    from rlsys.tuner.experiment import trial_cpus

    cpus = ray.cluster_resources().get("CPU", 1.0)
    fit = max(1, int(cpus // max(trial_cpus(spec), 1e-9)))
    spec.workers = min(cfg.max_concurrent or fit, fit) if name != "baseline" else 1
    return spec


def run_sweep(cfg: SweepConfig, run_dir: Path, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) the sweep; write the outputs; return the summary."""
    from rlsys.tuner.experiment import run_experiment, total_evaluations

    cfg, base, workload = resolve(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "sweep.yaml").write_text(yaml.safe_dump(_plain(cfg), sort_keys=False))
    t0 = time.perf_counter()
    spec = experiment_spec(cfg, base, workload, run_dir, "tune")
    print(
        f"{workload.name}: {cfg.search}, {total_evaluations(spec)} trial(s) of up to {cfg.budget} "
        f"{workload.budget_unit}, {spec.workers} at a time; metric {workload.metric} "
        f"({workload.mode})",
        flush=True,
    )
    records = run_experiment(spec, run_dir / "tune", resume=(run_dir / "tune").exists())
    baseline: list[dict] = []
    if cfg.baseline:
        print(f"baseline: {workload.baseline}", flush=True)
        bspec = experiment_spec(cfg, base, workload, run_dir, "baseline")
        baseline = run_experiment(
            bspec, run_dir / "baseline", resume=(run_dir / "baseline").exists()
        )
    summary = write_outputs(cfg, base, workload, run_dir, records, baseline)
    summary["wall_s"] = time.perf_counter() - t0
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _state(rec: dict) -> str:
    if rec.get("error"):
        return "failed"
    if rec.get("stopped_early"):
        return "stopped early"
    return "finished"


def best_record(records: list[dict], metric: str, mode: str) -> dict | None:
    """The best evaluation that ran its full budget and did not fail."""
    done = [
        r for r in records
        if r.get(metric) is not None and not r.get("error") and not r.get("stopped_early")
        and r.get("full_budget", True)
    ]  # fmt: skip
    if not done:
        return None
    pick = min if mode == "min" else max
    return pick(done, key=lambda r: float(r[metric]))


def write_outputs(
    cfg: SweepConfig,
    base: Any,
    workload: Workload,
    run_dir: Path,
    records: list[dict],
    baseline: list[dict],
) -> dict[str, Any]:
    metric, names = workload.metric, list(cfg.space)
    rows = []
    for exp, recs in (("tune", records), ("baseline", baseline)):
        for r in recs:
            row = {"experiment": exp, "trial_id": r.get("trial_id"), "job": r.get("job")}
            row.update({n: (r.get("config") or {}).get(n) for n in names})
            row.update(
                budget=r.get("budget"),
                iterations_run=r.get("iterations_run"),
                continued=r.get("continued"),
                state=_state(r),
                **{metric: r.get(metric)},
                **{k: r.get(k) for k in workload.record_keys},
                worker=r.get("worker"),
                node_ip=r.get("node_ip"),
                node_id=r.get("node_id"),
                wall_s=r.get("wall_s"),
                error=r.get("reason", ""),
            )
            rows.append(row)
    with open(run_dir / "trials.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["experiment"])
        writer.writeheader()
        writer.writerows(rows)
    best = best_record(records, metric, workload.mode)
    base_rec = best_record(baseline, metric, workload.mode)
    best_file = None
    if best is not None:
        params = {n: best["config"][n] for n in names if n in best["config"]}
        best_file = write_best(workload, base, params, run_dir, best[metric])
    summary = {
        "workload": workload.name,
        "search": cfg.search,
        "metric": metric,
        "mode": workload.mode,
        "trials": len(records),
        "finished": sum(_state(r) == "finished" for r in records),
        "stopped_early": sum(_state(r) == "stopped early" for r in records),
        "failed": sum(_state(r) == "failed" for r in records),
        "nodes": len({r.get("node_id") for r in records if r.get("node_id")}),
        "best": None if best is None else float(best[metric]),
        "best_config": None if best is None else best["config"],
        "baseline": None if base_rec is None else float(base_rec[metric]),
        "best_file": None if best_file is None else best_file.name,
    }
    write_report(cfg, workload, run_dir, records, baseline, summary)
    return summary


def write_best(workload: Workload, base: Any, params: dict, run_dir: Path, value: float) -> Path:
    if workload.write_best is not None:
        return workload.write_best(base, params, run_dir)
    from rlsys.runtime import write_config

    path = write_config(workload.build(base, params), run_dir / "best.yaml")
    header = (
        f"# best of an rlsys tune {workload.name} sweep: {workload.metric} {value:.6g}\n"
        f"# use: {workload.command.format(config=path.name)}\n"
    )
    path.write_text(header + path.read_text())
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def write_report(
    cfg: SweepConfig,
    workload: Workload,
    run_dir: Path,
    records: list[dict],
    baseline: list[dict],
    summary: dict[str, Any],
) -> None:
    metric, names = workload.metric, list(cfg.space)
    plot_curves(run_dir / "curves.jsonl", run_dir / "curves.png", workload)
    lines = [
        f"# rlsys tune {workload.name}\n",
        f"{workload.description}. Search {cfg.search}, {summary['trials']} trials "
        f"({summary['finished']} finished, {summary['stopped_early']} stopped early, "
        f"{summary['failed']} failed) of up to {cfg.budget} {workload.budget_unit}, on "
        f"{summary['nodes']} node(s); metric {metric} ({workload.mode}).\n",
    ]
    if summary["best"] is not None and summary["baseline"] is not None:
        b, r = summary["best"], summary["baseline"]
        better = b < r if workload.mode == "min" else b > r
        ratio = f", ratio {b / r:.3f}" if r else ""
        lines.append(
            f"**Best {metric} {b:.4g} against the baseline's {r:.4g}{ratio}** "
            f"({'better' if better else 'not better'}; baseline: {workload.baseline}; "
            "one seed each, so a small difference is within seed noise).\n"
        )
    if summary["best_file"]:
        lines.append(
            f"Best config: `{summary['best_file']}` "
            f"(`{workload.command.format(config=summary['best_file'])}`).\n"
        )
    lines.append("![curves](curves.png)\n")
    if cfg.search == "pbt":
        lines += pbt_schedule(run_dir / "curves.jsonl", records, workload)
    done = [r for r in records if r.get(metric) is not None and not r.get("error")]
    done.sort(key=lambda r: float(r[metric]), reverse=workload.mode == "max")
    lines += [
        "## Top configurations\n",
        f"| rank | {metric} | {workload.budget_unit} run | state | " + " | ".join(names) + " |",
        "|---:|---:|---:|---|" + "---:|" * len(names),
    ]
    for i, r in enumerate(done[:10], 1):
        cells = [_fmt((r.get("config") or {}).get(n)) for n in names]
        lines.append(
            f"| {i} | {_fmt(r[metric])} | {r.get('iterations_run')} | {_state(r)} | "
            + " | ".join(cells)
            + " |"
        )
    for r in baseline:
        cells = [_fmt((r.get("config") or {}).get(n)) for n in names]
        lines.append(
            f"| baseline | {_fmt(r.get(metric))} | {r.get('iterations_run')} | {_state(r)} | "
            + " | ".join(cells)
            + " |"
        )
    failed = [r for r in records + baseline if r.get("error")]
    if failed:
        lines += ["\n## Failed trials\n", "| trial | job | error |", "|---|---|---|"]
        lines += [
            f"| {r.get('trial_id')} | {r.get('job')} | {r.get('reason', '')} |" for r in failed
        ]
    lines.append(f"\nEvery trial: `trials.csv`. Resume or extend: `rlsys tune --resume {run_dir}`.")
    (run_dir / "report.md").write_text("\n".join(lines) + "\n")


def read_curves(curves: Path) -> list[dict]:
    """The rows of ``curves.jsonl`` (none if it is missing; a torn last line is skipped)."""
    rows = []
    if curves.exists():
        for line in curves.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def pbt_schedule(curves: Path, records: list[dict], workload: Workload) -> list[str]:
    """Report lines: the best PBT member's parameter values over its run (a clone starts
    from its donor's checkpoint and config, so its schedule continues the donor's)."""
    best = best_record(records, workload.metric, workload.mode)
    rows = []
    if best is not None:
        rows = [
            row for row in read_curves(curves)
            if row.get("experiment") == "tune" and row.get("trial_id") == best["trial_id"]
        ]  # fmt: skip
    changes, last = [], None
    for row in rows:
        if row.get("params") != last:
            changes.append(row)
            last = row.get("params")
    if not changes:
        return []
    names = list(changes[0]["params"])
    out = [
        "## PBT schedule of the best member\n",
        "`best.yaml` holds the values it ended with. Each row: from this "
        f"{workload.budget_unit} on (a change is a clone of a better member, perturbed).\n",
        f"| {workload.budget_unit} | {workload.metric} | " + " | ".join(names) + " |",
        "|---:|---:|" + "---:|" * len(names),
    ]
    for row in changes:
        cells = [_fmt(row["params"].get(n)) for n in names]
        head = f"| {row['iteration']} | {_fmt(row[workload.metric])} | "
        out.append(head + " | ".join(cells) + " |")
    return out + [""]


def plot_curves(curves: Path, out: Path, workload: Workload) -> None:
    """Metric against budget, one line per trial (the baseline dashed black)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in read_curves(curves):
        key = (row["experiment"], row["trial_id"])
        series.setdefault(key, []).append((row["iteration"], row[workload.metric]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for (exp, _), points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        # steps: between two validations a trial reports its latest value
        if exp == "baseline":
            ax.plot(xs, ys, "k--", lw=2, label="baseline", drawstyle="steps-post")
        else:
            ax.plot(xs, ys, lw=1, alpha=0.8, drawstyle="steps-post")
    ax.set_xlabel(workload.budget_unit)
    ax.set_ylabel(workload.metric)
    trials = sum(exp != "baseline" for exp, _ in series)
    ax.set_title(f"rlsys tune {workload.name}: {trials} trials")
    if any(exp == "baseline" for exp, _ in series):
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
