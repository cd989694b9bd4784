"""``calibrate``: one calibration run, from targets to ``best_asc.yaml`` and a report.

The run directory (``--out`` or ``runs/calibration/<timestamp>/``) holds::

    config.yaml         the resolved CalibrationConfig (what --resume reads)
    tune/               the central tuner's experiments and journal (rlsys.tuner)
    evaluations.csv     every evaluation: ASCs, budget, L1, iterations, wall time, worker
    best_asc.yaml       the best ASCs, ready for `rlsys transport simulate --asc`
    summary.json        best L1 under the calibration seed and under other seeds, costs
    report.md + *.png   L1 vs simulated iterations and vs wall time, target vs simulated

``evaluations.csv`` and the plots are rewritten at the end; the journal under ``tune/``
is written as evaluations finish, so an interrupted run loses nothing (``--resume``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import yaml

from envs.transport import MODES, load_scenario
from rlsys.calibration import trainables
from rlsys.calibration.config import CalibrationConfig, choose_method
from rlsys.calibration.objective import FREE_MODES, target_vector
from rlsys.tuner import ExperimentSpec, Journal, run_experiment
from rlsys.tuner.space import uniform_box

FAULT_FILE = ".crash-once"
"""Test hook: an iteration number in ``<run dir>/.crash-once`` kills one worker there once."""


def write_config(cfg: CalibrationConfig, run_dir: Path) -> None:
    with open(run_dir / "config.yaml", "w") as f:
        yaml.safe_dump(dataclasses.asdict(cfg), f, sort_keys=False)


def scoring_constants(cfg: CalibrationConfig) -> dict[str, Any]:
    """What ``trainables.Scorer`` and a full run need: shared by trials and re-checks."""
    return {
        "scenario": cfg.scenario,
        "max_iterations": cfg.max_iterations,
        "target": target_vector(cfg.targets).tolist(),
        "time_targets": dict(cfg.time_targets),
        "time_weight": cfg.time_weight,
        "last_k": cfg.last_k,
    }


def experiment_spec(cfg: CalibrationConfig, run_dir: Path, workers: int) -> ExperimentSpec:
    """The tuner's view of a calibration."""
    chain = cfg.method in ("fixed-point", "hybrid")
    sim = external_simulator(cfg)
    constants = {
        **scoring_constants(cfg),
        "replications": cfg.replications,
        "seed": cfg.seed,
        "checkpoint_every": cfg.checkpoint_every,
        "report_every": cfg.report_every,
        "fault_file": str(run_dir / FAULT_FILE),
        "method": cfg.method,
        "eta": cfg.eta,
        "bounds": [float(b) for b in cfg.bounds],
        "damping": cfg.damping,
        "epsilon": cfg.epsilon,
        "patience": cfg.patience,
        "short_budget": cfg.short_budget,
        "switch_l1": cfg.switch_l1,
        "simulator": None if sim is None else dataclasses.asdict(sim),
        "sims_dir": str(Path(run_dir).resolve() / "sims"),
    }
    return ExperimentSpec(
        trainable=trainables.chain if chain else trainables.evaluate,
        constants=constants,
        search="single" if chain else cfg.method,
        space=uniform_box({m: (float(cfg.bounds[0]), float(cfg.bounds[1])) for m in FREE_MODES}),
        metric="objective",
        record_keys=("l1", "time_error", "sim_s"),
        mode="min",
        max_budget=cfg.max_iterations,
        # two budgets by default (max / eta and max): see CalibrationConfig.min_budget
        min_budget=cfg.min_budget or max(1, cfg.max_iterations // cfg.eta),
        eta=cfg.eta,
        evaluations=cfg.evaluations,
        workers=1 if chain else workers,
        resources=simulator_resources(sim),
        seed=cfg.seed,
        max_failures=cfg.max_failures,
        early_stopping=cfg.early_stopping,
        bohb_kwargs=dataclasses.asdict(cfg.bohb),
        proposal_fraction=cfg.refine_fraction,
        initial_configs=initial_configs(cfg) if cfg.method == "bohb" else [],
        stop_margin=cfg.stop_margin,
        warm_constants=_continue_chain,
    )


def initial_configs(cfg: CalibrationConfig) -> list[dict[str, float]]:
    """BOHB's initial design: the default constants (every ASC 0, within the bounds), or
    none (``start_at_default: false``)."""
    if not cfg.start_at_default:
        return []
    default = min(max(0.0, float(cfg.bounds[0])), float(cfg.bounds[1]))
    return [dict.fromkeys(FREE_MODES, default)]


def external_simulator(cfg: CalibrationConfig) -> Any:
    """The adapter of ``cfg.simulator`` (a ``SimulatorConfig``), or None: built in."""
    if not cfg.simulator:
        return None
    from rlsys.calibration.simulator import load_simulator
    from rlsys.paths import resolve_path

    return load_simulator(resolve_path(cfg.simulator))


def simulator_resources(sim: Any) -> Any:
    """A trial's placement group for an external simulator (its CPUs and custom
    resources), or None for the built-in simulation (one CPU per trial)."""
    if sim is None:
        return None
    from ray import tune

    return tune.PlacementGroupFactory([{"CPU": sim.cpus, **sim.resources}])


def _continue_chain(done: list[dict]) -> dict[str, Any]:
    """A new fixed-point/hybrid session continues the loop where the last step left it."""
    steps = [r for r in done if r.get("state")]
    if not steps:
        return {}
    last = max(steps, key=lambda r: r.get("finished_at", 0.0))
    return {"start_state": last["state"]}


def calibrate(
    cfg: CalibrationConfig,
    run_dir: Path,
    resume: bool = False,
    address: str | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run (or resume) a calibration in ``run_dir``; return the summary (also summary.json)."""
    from rlsys.runtime import init_ray

    cfg.check()
    if external_simulator(cfg) is None:  # fail fast: a bad adapter or scenario, one line
        load_scenario(cfg.scenario)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(cfg, run_dir)  # as asked ("auto" stays auto, so --resume chooses again)
    requested = cfg.method
    method, why = choose_method(cfg)
    cfg = dataclasses.replace(cfg, method=method)
    ray = init_ray(address)
    # wall times count from here (Ray's start-up is not the calibration's); each run of
    # this function is a segment, so the time between an interruption and --resume is
    # not counted
    meta_path = run_dir / "calibration.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"segments": []}
    meta["segments"].append(time.time())
    meta_path.write_text(json.dumps(meta))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    workers = cfg.workers or max(1, cpus)
    if not quiet:
        print(
            f"calibrating {cfg.scenario} ({cfg.method}, {cfg.evaluations} evaluations, "
            f"{workers} worker(s) on {cpus} CPU(s)); run directory {run_dir}",
            flush=True,
        )
        if requested == "auto":
            print(f"  {why}", flush=True)
    spec = experiment_spec(cfg, run_dir, workers)
    spec.quiet = quiet
    records = run_experiment(spec, run_dir / "tune", resume=resume)
    from rlsys.calibration.report import write_outputs

    rows = evaluation_rows(records, meta["segments"], cfg.replications)
    best = best_row(rows)
    checks = resimulate(cfg, best, run_dir.resolve()) if best is not None else {}
    retries = sum(
        r.get("kind") == "retry" for r in Journal(run_dir / "tune" / "journal.jsonl").read()
    )
    choice = {"requested": requested, "why": why}
    summary = write_outputs(cfg, run_dir, rows, best, checks, workers, retries, choice)
    if not quiet and best is not None:
        print(
            f"best L1 {best['l1']:.3f} pp after {summary['iterations']} simulated iterations "
            f"({len(rows)} evaluations, {summary['wall_s']:.1f} s); "
            f"other seeds: {', '.join(f'{v:.2f}' for v in checks.get('other_seeds_l1', []))}"
        )
        if best["time_error"] is not None:
            print(
                f"travel-time error {best['time_error']:.2f} % (objective "
                f"{best['objective']:.3f}); other seeds: "
                f"{', '.join(f'{v:.2f}' for v in checks.get('other_seeds_time_error', []))} %"
            )
        print(f"wrote {run_dir / 'best_asc.yaml'}, evaluations.csv, report.md")
    return summary


def active_elapsed(finished: list[float], segments: list[float]) -> list[float]:
    """Seconds of calibration time at each finish time, not counting gaps between segments.

    segments: start times of the runs (the first run and each --resume), increasing.
    """
    out, offset, seg, seg_end = [], 0.0, 0, segments[0] if segments else 0.0
    for t in finished:
        while seg + 1 < len(segments) and t >= segments[seg + 1]:
            offset += seg_end - segments[seg]  # the previous segment's active time
            seg += 1
            seg_end = segments[seg]
        seg_end = max(seg_end, t)
        out.append(offset + t - segments[seg] if segments else 0.0)
    return out


def evaluation_rows(
    records: list[dict[str, Any]], segments: list[float], replications: int = 1
) -> list[dict[str, Any]]:
    """Flat rows for evaluations.csv, in finishing order, with cumulative costs.

    Records count iterations per simulation; an evaluation runs ``replications`` of them,
    so its cost (``iterations_run``, ``iterations_saved``) is multiplied by that."""
    rows, total = [], 0
    records = sorted(records, key=lambda r: r.get("finished_at", 0.0))
    elapsed = active_elapsed([r.get("finished_at", 0.0) for r in records], segments)
    for i, rec in enumerate(records):
        run = int(rec.get("iterations_run") or 0)
        total += run * replications
        stopped = bool(rec.get("stopped_early"))
        row = {
            "evaluation": i + 1,
            "job": rec.get("job", ""),
            "trial_id": rec.get("trial_id"),
            "session": rec.get("session"),
            "budget": rec.get("budget"),
            "full_budget": bool(rec.get("full_budget")) and not stopped,
            "start_iteration": rec.get("start_iteration", 0),
            "iterations_run": run * replications,
            "cumulative_iterations": total,
            "objective": rec.get("objective"),
            "l1": rec.get("l1"),
            "time_error": rec.get("time_error"),
            "stopped_early": stopped,
            "iterations_saved": (
                (rec.get("budget", 0) or 0) - (rec.get("start_iteration", 0) or 0) - run
            )
            * replications
            if stopped
            else 0,
            "continued": bool(rec.get("continued")),
            "model_based_pick": rec.get("model_based_pick"),
            "reason": rec.get("reason", ""),
            "proposal_pick": rec.get("proposal_pick"),
            "error": bool(rec.get("error")),
            "wall_s": rec.get("wall_s"),
            "sim_s": rec.get("sim_s"),
            "elapsed_s": elapsed[i],
            "worker": rec.get("worker"),
            "node_ip": rec.get("node_ip"),
        }
        for m in FREE_MODES:
            row[f"asc_{m}"] = (rec.get("config") or {}).get(m)
        for m in MODES:
            row[f"share_{m}"] = (rec.get("shares") or {}).get(m)
        for m in MODES:
            row[f"time_{m}"] = (rec.get("times") or {}).get(m)
        rows.append(row)
    return rows


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The lowest objective among full evaluations (else among the largest budget reached)."""
    done = [
        r for r in rows if r["objective"] is not None and not r["stopped_early"] and not r["error"]
    ]
    full = [r for r in done if r["full_budget"]]
    pool = full or [r for r in done if r["budget"] == max((x["budget"] for x in done), default=0)]
    return min(pool, key=lambda r: r["objective"]) if pool else None


def best_asc(row: dict[str, Any]) -> dict[str, float]:
    return {m: float(row[f"asc_{m}"]) for m in FREE_MODES}


def _simulate(config: dict, asc: dict, seed: int) -> dict:
    """One full run of ``asc`` under ``seed``, scored like an evaluation."""
    if config.get("simulator"):
        import numpy as np

        one = {**config, "seed": seed, "replications": 1}
        vec = np.array([asc[m] for m in FREE_MODES])
        return trainables.external_run(one, vec, int(config["max_iterations"]), f"check-{seed}")[0]
    sim = trainables.simulator(config["scenario"])
    out, _ = sim.run(asc, int(config["max_iterations"]), seed=seed)
    score = trainables.Scorer(config)
    return score(
        [[[o["mode_shares"][m] for m in MODES] for o in out]],
        [[trainables.iteration_times(o) for o in out]],
    )


def resimulate(cfg: CalibrationConfig, best: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The best ASCs re-simulated (as Ray tasks) under the seed and ``check_seeds`` others."""
    import ray

    sim = external_simulator(cfg)
    resources = {} if sim is None else dict(sim.resources)
    task = ray.remote(_simulate).options(
        num_cpus=1 if sim is None else sim.cpus, resources=resources
    )
    seeds = [cfg.seed] + [cfg.seed + i for i in range(1, cfg.check_seeds + 1)]
    config = scoring_constants(cfg)
    if sim is not None:
        config.update(simulator=dataclasses.asdict(sim), sims_dir=str(run_dir / "sims"))
    results = ray.get([task.remote(config, best_asc(best), s) for s in seeds])
    return {
        "seed": cfg.seed,
        "seed_l1": results[0]["l1"],
        "seed_shares": results[0]["shares"],
        "seed_times": results[0]["times"],
        "seed_time_error": results[0]["time_error"],
        "other_seeds": seeds[1:],
        "other_seeds_l1": [r["l1"] for r in results[1:]],
        "other_seeds_time_error": [r["time_error"] for r in results[1:]],
    }
