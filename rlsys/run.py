"""`rlsys run`: the main job, a suite of workloads on one Ray cluster (local by default).

Suites are YAML files in configs/suites/ (``quick``: the default, minutes on a laptop;
``full``: the README's tables) or any path. Each run writes ``runs/run/<timestamp>/``
with the resolved config, every result as CSV, PNG plots and ``report.md``; ``--resume
DIR`` continues an interrupted run without redoing finished work.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml

from rlsys.calibration.config import Method
from rlsys.config import Config, config_field, invalid, load_config
from rlsys.paths import CONFIG_DIR, check_writable, resolve_path
from rlsys.tuner.sweep import SweepConfig


def _check_spec(cfg: Config, key: str, parse: Callable[[str], Any]) -> None:
    """A string field that ``parse`` must accept (seeds ``0-9``, repair ``uniform:1:10``)."""
    try:
        parse(getattr(cfg, key))
    except ValueError as exc:
        raise invalid(cfg, f"{key}: {exc}") from None


@dataclasses.dataclass
class JobshopRulesConfig(Config):
    """Dispatching rules on benchmark instances under random machine shutdowns."""

    instances: list[str] = config_field(["la01", "la02"], min_len=1)
    """Benchmark names or instance files."""
    policies: list[str] = config_field(["SPT", "MWKR", "RANDOM"], min_len=1)
    """Rule names (see `rlsys jobshop rules`), ``pretrained`` or policy files (*.pt)."""
    shutdown_probs: list[float] = config_field([0.0, 0.05], ge=0, lt=1, min_len=1)
    """Per-machine failure probability per time unit."""
    seeds: str = "0-4"
    """Disruption seeds, e.g. 0-9."""
    repair: str = "uniform:1:10"
    """Repair-time distribution (time units)."""

    def __post_init__(self) -> None:
        from envs.jobshop.shutdowns import RepairTime
        from rlsys.jobshop.evaluate import parse_seeds

        super().__post_init__()
        _check_spec(self, "seeds", parse_seeds)
        _check_spec(self, "repair", RepairTime.parse)


@dataclasses.dataclass
class TransportConfig(Config):
    """Transport simulations (default ASCs), one Ray task per seed."""

    scenario: str = "urbansim-10k-like"
    """Shipped scenario name or YAML path."""
    iterations: int = config_field(20, ge=1)
    """Day-loop iterations per simulation."""
    seeds: str = "1-2"
    """Simulation seeds, e.g. 1-4."""

    def __post_init__(self) -> None:
        from rlsys.jobshop.evaluate import parse_seeds

        super().__post_init__()
        _check_spec(self, "seeds", parse_seeds)


@dataclasses.dataclass
class CalibrationSuiteConfig(Config):
    """Transport calibration, each method on the same targets (see `rlsys calibrate`)."""

    targets_file: str = "configs/calibration/beam-urbansim-10k.yaml"
    """Target mode shares (YAML mode -> percent)."""
    scenario: str = "urbansim-10k-like"
    """Shipped scenario name or YAML path."""
    methods: list[Method] = config_field(["hybrid", "bohb"], min_len=1)
    """Methods to run side by side."""
    evaluations: int = config_field(40, ge=1)
    """Evaluation budget per method."""
    seed: int = config_field(1, ge=0, lt=2**32)
    """Simulation seed."""


@dataclasses.dataclass
class CommFormerSuiteConfig(Config):
    """CommFormer on predator-prey, one training run per graph mode (same seed, budget)."""

    dim: int = config_field(5, ge=2)
    """Grid side."""
    agents: int = config_field(3, ge=2)
    """Predators."""
    vision: int = config_field(1, ge=0)
    """Window radius."""
    graphs: list[Literal["learned", "full", "none", "random"]] = config_field(
        ["learned", "none"], min_len=1
    )
    """Graph modes to train side by side."""
    sparsity: float = config_field(0.4, gt=0, le=1)
    """S of the learned and random graphs."""
    updates: int = config_field(25, ge=1)
    """PPO updates per run."""
    warmup_updates: int = config_field(3, ge=0)
    """Full-communication warm-up updates."""
    seed: int = config_field(1, ge=0, lt=2**32)
    """Root seed of every run."""


@dataclasses.dataclass
class ParlSuiteConfig(Config):
    """PARL against the PEBBLE-style baseline: the tabular task, then Pendulum (same
    teacher, same query and sample budgets)."""

    methods: list[Literal["parl", "pebble", "oracle"]] = config_field(["parl", "pebble"], min_len=1)
    """Methods side by side (oracle: the true reward)."""
    teacher: Literal["oracle", "noisy", "myopic", "skip", "equal", "mistake"] = "oracle"
    """The scripted teacher."""
    tabular_iterations: int = config_field(20, ge=1)
    """Outer steps on the tabular gridworld (10 queries each)."""
    pendulum_steps: int = config_field(3000, ge=200)
    """Env steps per Pendulum run."""
    pendulum_queries: int = config_field(60, ge=1)
    """Feedback budget per Pendulum run."""
    seed: int = config_field(1, ge=0, lt=2**32)
    """Root seed of every run."""


@dataclasses.dataclass
class SuiteConfig(Config):
    jobshop_rules: JobshopRulesConfig | None = dataclasses.field(default_factory=JobshopRulesConfig)
    """The job-shop rules comparison (null: skipped)."""
    transport: TransportConfig | None = dataclasses.field(default_factory=TransportConfig)
    """The transport simulation (null: skipped)."""
    calibration: CalibrationSuiteConfig | None = None
    """The transport calibration (null: skipped)."""
    commformer: CommFormerSuiteConfig | None = None
    """CommFormer graph modes on predator-prey (null: skipped)."""
    parl: ParlSuiteConfig | None = None
    """PARL against PEBBLE on the tabular task and Pendulum (null: skipped)."""
    sweeps: list[SweepConfig] = dataclasses.field(default_factory=list)
    """Sweeps of the central tuner, one per entry, each against its workload's baseline."""


def suite_path(suite: str) -> Path:
    path = Path(suite)
    if path.suffix in (".yaml", ".yml"):
        return resolve_path(path)
    path = CONFIG_DIR / "suites" / f"{suite}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONFIG_DIR / "suites").glob("*.yaml"))
        raise ValueError(f"unknown suite {suite!r} (known: {', '.join(known)}; or a YAML path)")
    return path


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the main job: a suite of workloads on Ray")
    p.add_argument("--suite", default="quick", help="quick (default), full, or a YAML path")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--resume", help="continue an interrupted run from its directory")
    p.add_argument("--runs-dir", default=None, help="root of run directories (default runs/)")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from rlsys.runtime import RUNS_ROOT, init_ray, load_run_config, make_run_dir

    if args.resume:
        check_writable(args.resume, "--resume", directory=True)
        run_dir = Path(args.resume)
        cfg = load_run_config(SuiteConfig, run_dir)
    else:
        check_writable(args.runs_dir or RUNS_ROOT, "--runs-dir", directory=True)
        cfg = load_config(SuiteConfig, suite_path(args.suite))
        run_dir = make_run_dir("run", cfg, root=args.runs_dir)
    print(f"run directory: {run_dir}")
    ray = init_ray(args.address)
    print(f"Ray: {int(ray.cluster_resources().get('CPU', 0))} CPUs on {len(ray.nodes())} node(s)")
    sections = ["# rlsys run report\n"]
    if cfg.jobshop_rules is not None:
        sections.append(run_jobshop_rules(cfg.jobshop_rules, run_dir, args.address))
    if cfg.transport is not None:
        sections.append(run_transport(cfg.transport, run_dir))
    if cfg.calibration is not None:
        sections.append(run_calibration(cfg.calibration, run_dir, args.address))
    if cfg.commformer is not None:
        sections.append(run_commformer(cfg.commformer, run_dir))
    if cfg.parl is not None:
        sections.append(run_parl(cfg.parl, run_dir))
    summary = step_rows(cfg, run_dir)
    for i, step in enumerate(cfg.sweeps):
        section, row = run_sweep_step(step, run_dir / "sweeps" / f"{i}-{step.workload}")
        sections.append(section)
        summary.append(row)
    if summary:
        sections.insert(1, sweep_summary(summary))
    (run_dir / "report.md").write_text("\n".join(sections))
    print(f"report: {run_dir / 'report.md'}")
    return 0


def run_jobshop_rules(cfg: JobshopRulesConfig, run_dir: Path, address: str | None) -> str:
    from envs.jobshop.instance import load_instance
    from rlsys.jobshop.evaluate import (
        SimOptions,
        evaluate,
        parse_seeds,
        reference_gap_table,
        run_policy,
        summarize,
        summary_table,
        write_csv,
    )
    from rlsys.jobshop.plot import plot_schedule
    from rlsys.jobshop.report import plot_rule_comparison

    t0 = time.perf_counter()
    options = SimOptions(repair=cfg.repair)
    seeds = parse_seeds(cfg.seeds)
    rows = evaluate(
        cfg.instances,
        cfg.policies,
        cfg.shutdown_probs,
        seeds,
        options,
        address=address,
        parts_dir=run_dir / "jobshop_parts",
    )
    write_csv(rows, run_dir / "jobshop_rules.csv")
    table = summary_table(rows, title=f"mean makespan, {len(cfg.instances)} instances")
    gaps = reference_gap_table(rows)
    if gaps:
        table += "\n\n" + gaps
    print(table)
    plot_rule_comparison(rows, run_dir / "jobshop_rules.png")
    # Gantt chart of the best rule at the highest shutdown probability on the first instance
    means = summarize(rows)
    p_max = max(cfg.shutdown_probs)
    best = min(cfg.policies, key=lambda pol: means.get((pol, p_max), float("inf")))
    inst = load_instance(cfg.instances[0])
    sim = run_policy(inst, best, p_max, seeds[0], options)
    plot_schedule(
        sim.schedule(),
        run_dir / "jobshop_gantt.png",
        title=f"{inst.name}, {best}, p={p_max:g}, seed {seeds[0]}",
    )
    invalid = sum(r["valid"] not in ("yes", "deadlock") for r in rows)
    with open(run_dir / "jobshop_summary.yaml", "w") as f:
        yaml.safe_dump({f"{k[0]}@{k[1]:g}": round(v, 2) for k, v in means.items()}, f)
    return (
        "## Job shop: dispatching rules and policies\n\n"
        f"{len(rows)} runs ({len(cfg.instances)} instances x "
        f"{len(cfg.policies)} policies x {len(cfg.shutdown_probs)} shutdown probabilities x "
        f"{len(seeds)} seeds), {invalid} invalid schedules, "
        f"{time.perf_counter() - t0:.1f} s.\n\n{table}\n\n"
        f"![rules](jobshop_rules.png)\n\n![gantt](jobshop_gantt.png)\n"
    )


def _simulate_transport(scenario: str, iterations: int, seed: int) -> list[dict]:
    from envs.transport import TransportSim, load_scenario

    outputs, _ = TransportSim(load_scenario(scenario)).run(None, iterations, seed=seed)
    return outputs


def run_transport(cfg: TransportConfig, run_dir: Path) -> str:
    import json

    import ray

    from envs.transport import MODES
    from rlsys.jobshop.evaluate import parse_seeds
    from rlsys.transport.cli import plot_shares

    t0 = time.perf_counter()
    out_dir = run_dir / "transport"
    out_dir.mkdir(exist_ok=True)
    task = ray.remote(num_cpus=1, max_retries=2)(_simulate_transport)
    seeds = parse_seeds(cfg.seeds)
    todo = {s: out_dir / f"seed{s}.json" for s in seeds}
    refs = {
        task.remote(cfg.scenario, cfg.iterations, s): s
        for s, path in todo.items()
        if not path.exists()
    }
    for ref, seed in refs.items():
        todo[seed].write_text(json.dumps(ray.get(ref)))
    results = {s: json.loads(p.read_text()) for s, p in todo.items()}
    first = seeds[0]
    plot_shares(
        results[first],
        run_dir / "transport_shares.png",
        title=f"{cfg.scenario}, default ASCs, seed {first}",
    )
    lines = [
        "| mode | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "---:|" * len(seeds),
    ]
    for mode in MODES:
        cells = [f"{results[s][-1]['mode_shares'][mode]:.2f}" for s in seeds]
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    return (
        f"## Transport simulation\n\n{cfg.scenario}, default ASCs (all 0), "
        f"{cfg.iterations} iterations, final mode shares (%), "
        f"{time.perf_counter() - t0:.1f} s.\n\n{table}\n\n![shares](transport_shares.png)\n"
    )


def run_calibration(cfg: CalibrationSuiteConfig, run_dir: Path, address: str | None) -> str:
    import json

    from rlsys.calibration.calibrate import calibrate
    from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
    from rlsys.calibration.objective import read_targets

    targets_file = resolve_path(cfg.targets_file)
    targets = read_targets(targets_file)
    lines = [
        "| method | best L1 (pp) | simulated iterations | evaluations | wall s |",
        "|---|---:|---:|---:|---:|",
    ]
    for method in cfg.methods:
        out = run_dir / "calibration" / method
        ccfg = load_config(
            CalibrationConfig,
            DEFAULT_CONFIG,
            targets=targets,
            targets_file=str(targets_file),
            scenario=cfg.scenario,
            method=method,
            evaluations=cfg.evaluations,
            seed=cfg.seed,
        )
        ccfg.check()
        resume = (out / "summary.json").exists() or (out / "tune").exists()
        summary = out / "summary.json"
        done = json.loads(summary.read_text()) if summary.exists() else {}
        if done.get("evaluations", 0) >= ccfg.evaluations:
            s = done  # finished before an interruption: not re-checked again
        else:
            s = calibrate(ccfg, out, resume=resume, address=address, quiet=True)
        best = s.get("best_l1")
        lines.append(
            f"| {method} | {best:.2f} | {s.get('iterations')} | {s.get('evaluations')} | "
            f"{s.get('wall_s', 0):.1f} |"
            if best is not None
            else f"| {method} | - | - | - | - |"
        )
    table = "\n".join(lines)
    print(table)
    return (
        f"## Transport calibration\n\nTargets {cfg.targets_file} on {cfg.scenario}, "
        f"{cfg.evaluations} evaluations per method (details in calibration/<method>/report.md)."
        f"\n\n{table}\n"
    )


def _fit_workers(ray_cpus: float) -> int:
    """Rollout actors of one training trial on this cluster: all CPUs but the learner's."""
    return max(1, int(ray_cpus) - 1)


def _variant_sweep(workload: str, name: str, values: list, base: Any, updates: int, out: Path):
    """A grid sweep of the central tuner over one config path (the variants a suite step
    compares, all at ``updates`` updates); resumable. Returns the journal's records in
    ``values`` order."""
    from rlsys.tuner.experiment import Journal
    from rlsys.tuner.sweep import resolve, run_sweep

    resume = (out / "sweep.yaml").exists()
    if resume:
        sweep = load_config(SweepConfig, out / "sweep.yaml")
    else:
        sweep = SweepConfig(
            workload=workload,
            search="grid",
            samples=len(values),
            budget=updates,
            max_concurrent=1,
            baseline=False,
            space={name: {"type": "choice", "values": list(values)}},
            base=json.loads(json.dumps(dataclasses.asdict(base))),
        )
        sweep = resolve(sweep)[0]
    run_sweep(sweep, out, resume=resume)
    records = Journal(out / "tune" / "journal.jsonl").evaluations()
    by_value = {r["config"][name]: r for r in records}
    return [by_value.get(v, {}) for v in values]


def run_commformer(cfg: CommFormerSuiteConfig, run_dir: Path) -> str:
    """One CommFormer training per graph mode, as a grid sweep of the central tuner over
    ``model.graph`` (resumable: finished modes are read back from its journal)."""
    import ray

    from rlsys.commformer.train import CommFormerTrainConfig, EnvConfig

    t0 = time.perf_counter()
    env = EnvConfig(dim=cfg.dim, agents=cfg.agents, vision=cfg.vision)
    base = CommFormerTrainConfig(env=env, eval_episodes=100)
    base.model = dataclasses.replace(base.model, sparsity=cfg.sparsity)
    base.bilevel = dataclasses.replace(base.bilevel, warmup_updates=cfg.warmup_updates)
    workers = _fit_workers(ray.cluster_resources().get("CPU", 1))
    base.train = dataclasses.replace(
        base.train,
        seed=cfg.seed,
        eval_every=cfg.updates,  # one deterministic evaluation, at the end
        rollout=dataclasses.replace(base.train.rollout, num_workers=workers),
    )
    out = run_dir / "commformer"
    print(f"commformer: graphs {', '.join(cfg.graphs)}, {cfg.updates} updates each -> {out}")
    records = _variant_sweep("commformer", "model.graph", cfg.graphs, base, cfg.updates, out)
    lines = [
        "| graph | success rate | steps | return | messages / step | env steps |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for graph, r in zip(cfg.graphs, records, strict=True):
        if r.get("success_rate") is None:
            lines.append(f"| {graph} | failed: {r.get('reason', 'no result')} | | | | |")
            continue
        lines.append(
            f"| {graph} | {r['success_rate']:.2f} | {r['steps']:.2f} | {r['return']:.3f} | "
            f"{r['messages_per_step']:.2f} | {r['env_steps']} |"
        )
    table = "\n".join(lines)
    print(table)
    return (
        f"## CommFormer\n\nPredator-prey {cfg.dim}x{cfg.dim}, {cfg.agents} agents, vision "
        f"{cfg.vision}, sparsity {cfg.sparsity:g}, {cfg.updates} PPO updates per graph mode "
        f"({workers} rollout worker(s)), seed {cfg.seed}; 100 deterministic evaluation "
        f"episodes; a grid sweep of the central tuner ([report](commformer/report.md)); "
        f"{time.perf_counter() - t0:.1f} s.\n\n{table}\n"
    )


def run_parl(cfg: ParlSuiteConfig, run_dir: Path) -> str:
    """The tabular task for each method (exact, in-process), then one Pendulum run per
    method as a grid sweep of the central tuner over ``method`` (resumable)."""
    from rlsys.parl.tabular import TabularConfig, run_tabular
    from rlsys.parl.teachers import TeacherConfig
    from rlsys.parl.train import PARLConfig, env_spec, updates_for_steps

    t0 = time.perf_counter()
    teacher = TeacherConfig(cfg.teacher)
    tabular = {
        method: run_tabular(
            TabularConfig(
                method=method, teacher=teacher, iterations=cfg.tabular_iterations, seed=cfg.seed
            )
        )[-1]["true_return"]
        for method in cfg.methods
    }
    base = PARLConfig(
        task="pendulum",
        teacher=teacher,
        queries=cfg.pendulum_queries,
        queries_per_feedback=min(20, cfg.pendulum_queries),
    )
    updates = updates_for_steps(base, cfg.pendulum_steps, env_spec("pendulum"))
    base.train = dataclasses.replace(base.train, seed=cfg.seed, eval_every=updates)
    out = run_dir / "parl"
    print(f"parl: Pendulum, {', '.join(cfg.methods)}, {cfg.pendulum_steps} env steps -> {out}")
    records = _variant_sweep("parl", "method", cfg.methods, base, updates, out)
    lines = [
        "| method | tabular true return | Pendulum true return | Pendulum env steps | queries |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, r in zip(cfg.methods, records, strict=True):
        ret = r.get("true_return")
        lines.append(
            f"| {method} | {tabular[method]:.3f} | "
            f"{float('nan') if ret is None else ret:.1f} | {r.get('env_steps', '-')} | "
            f"{int(r.get('queries') or 0)} |"
        )
    table = "\n".join(lines)
    print(table)
    return (
        f"## PARL\n\nTeacher {cfg.teacher}; tabular gridworld {cfg.tabular_iterations} outer "
        f"steps x 10 queries (true discounted return); Pendulum-v1 {cfg.pendulum_steps} env "
        f"steps and {cfg.pendulum_queries} queries per method (deterministic true return; a "
        f"grid sweep of the central tuner, [report](parl/report.md)); seed {cfg.seed}; "
        f"{time.perf_counter() - t0:.1f} s.\n\n{table}\n"
    )


def run_sweep_step(cfg: SweepConfig, out: Path) -> tuple[str, dict[str, Any]]:
    """One sweep through the central tuner (resumable: an existing directory continues)."""
    from rlsys.tuner.sweep import resolve, run_sweep

    resume = (out / "sweep.yaml").exists()
    sweep = load_config(SweepConfig, out / "sweep.yaml") if resume else resolve(cfg)[0]
    print(f"sweep {cfg.workload} ({cfg.search}, {cfg.samples} trials) -> {out}")
    summary = run_sweep(sweep, out, resume=resume)
    link = f"{out.parent.name}/{out.name}/report.md"
    row = {**summary, "link": link}
    best, base = summary["best"], summary["baseline"]
    text = (
        f"## Sweep: {cfg.workload}\n\n{cfg.search}, {summary['trials']} trials "
        f"({summary['failed']} failed), metric {summary['metric']} ({summary['mode']}): best "
        f"{_num(best)}, baseline {_num(base)}. Full report: [{link}]({link}).\n\n"
        f"![curves]({out.parent.name}/{out.name}/curves.png)\n"
    )
    return text, row


def _num(x: Any) -> str:
    return "-" if x is None else f"{x:.4g}"


def step_rows(cfg: SuiteConfig, run_dir: Path) -> list[dict[str, Any]]:
    """Summary rows of the suite's fixed steps (best against baseline), from their outputs."""
    from rlsys.tuner.experiment import Journal

    rows: list[dict[str, Any]] = []

    def row(workload, search, trials, metric, mode, best, baseline, link, best_is="", base_is=""):
        rows.append(
            dict(workload=workload, search=search, trials=trials, metric=metric, mode=mode,
                 best=best, baseline=baseline, link=link, best_is=best_is, base_is=base_is)
        )  # fmt: skip

    summary = run_dir / "jobshop_summary.yaml"
    if cfg.jobshop_rules is not None and summary.exists():
        means = yaml.safe_load(summary.read_text())  # "policy@p" -> mean makespan
        p_max = f"{max(cfg.jobshop_rules.shutdown_probs):g}"
        at = {k.rsplit("@", 1)[0]: v for k, v in means.items() if k.rsplit("@", 1)[1] == p_max}
        rules = {k: v for k, v in at.items() if k != "pretrained" and not k.endswith(".pt")}
        learned = {k: v for k, v in at.items() if k not in rules}
        base = min(rules, key=rules.get) if rules else None
        best = min(learned or rules, key=(learned or rules).get) if at else None
        row("jobshop (rules)", "evaluation", len(at), f"mean makespan at p={p_max}", "min",
            at.get(best), at.get(base), "jobshop_rules.csv", best, base)  # fmt: skip
    if cfg.calibration is not None:
        done = {}
        for method in cfg.calibration.methods:
            path = run_dir / "calibration" / method / "summary.json"
            if path.exists() and json.loads(path.read_text()).get("best_l1") is not None:
                done[method] = json.loads(path.read_text())["best_l1"]
        if done:
            best = min(done, key=done.get)
            base = "random" if "random" in done else None
            row(
                "calibration",
                "/".join(done),
                sum(1 for _ in done),
                "best L1 (pp)",
                "min",
                done[best],
                done.get(base),
                f"calibration/{best}/report.md",
                best,
                base or "",
            )
    for name, key, metric, base_value in (
        ("commformer", "model.graph", "success_rate", "none"),
        ("parl", "method", "true_return", "pebble"),
    ):
        records = Journal(run_dir / name / "tune" / "journal.jsonl").evaluations()
        got = {r["config"][key]: r.get(metric) for r in records if r.get(metric) is not None}
        if not got:
            continue
        others = {k: v for k, v in got.items() if k != base_value} or got
        best = max(others, key=others.get)
        row(
            name,
            f"grid over {key}",
            len(records),
            metric,
            "max",
            got[best],
            got.get(base_value),
            f"{name}/report.md",
            best,
            base_value if base_value in got else "",
        )
    return rows


def sweep_summary(rows: list[dict[str, Any]]) -> str:
    """The report's summary table: best result per workload against its baseline."""
    lines = [
        "## Summary: best result per workload against its baseline\n",
        "| workload | search | trials | metric | best | baseline | best / baseline | report |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for r in rows:
        # a ratio reads only between positive values (not for negative returns)
        both = r["best"] is not None and r["baseline"] is not None
        ratio = r["best"] / r["baseline"] if both and r["best"] > 0 and r["baseline"] > 0 else None
        best = _num(r["best"]) + (f" ({r['best_is']})" if r.get("best_is") else "")
        base = _num(r["baseline"]) + (f" ({r['base_is']})" if r.get("base_is") else "")
        lines.append(
            f"| {r['workload']} | {r['search']} | {r['trials']} | {r['metric']} ({r['mode']}) | "
            f"{best} | {base} | {_num(ratio)} | [report]({r['link']}) |"
        )
    return "\n".join(lines) + "\n"
