"""``rlsys tune``: a sweep of any registered workload through the central tuner."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:
    from rlsys.tuner.workloads import workload_names

    names = ", ".join(workload_names())
    p = sub.add_parser(
        "tune",
        help="sweep a workload's hyperparameters (BOHB, ASHA, random, grid, PBT) on Ray",
        description=f"Workloads: {names}. Writes runs/tune/<workload>/<timestamp>/.",
    )
    p.add_argument("workload", nargs="?", help=f"one of {names} (not with --resume)")
    p.add_argument("--search", default="asha", help="bohb | asha (default) | random | grid | pbt")
    p.add_argument("--samples", type=int, help="trials (default 8; with --resume: extend to)")
    p.add_argument(
        "--max-concurrent", type=int, default=0, help="trials at once (default: as CPUs allow)"
    )
    p.add_argument("--space", help="YAML search space (default: the workload's)")
    p.add_argument("--config", help="the workload's config file as the base of every trial")
    p.add_argument("--budget", type=int, default=0, help="full budget per trial (workload unit)")
    p.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    p.add_argument("--no-baseline", action="store_true", help="skip the baseline trial")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--resume", help="continue (or extend: with a larger --samples) a sweep")
    p.add_argument("--runs-dir", help="root of run directories (default runs/)")
    p.set_defaults(func=cmd_tune)


def cmd_tune(args) -> int:
    from rlsys.config import from_dict, load_config, read_yaml_file
    from rlsys.paths import check_writable, resolve_path
    from rlsys.runtime import RUNS_ROOT, init_ray
    from rlsys.tuner.sweep import SweepConfig, resolve, run_sweep

    if args.resume:
        if args.workload:
            raise ValueError("give either a workload or --resume DIR, not both")
        run_dir = Path(args.resume)
        if not (run_dir / "sweep.yaml").is_file():
            raise ValueError(f"--resume {run_dir}: not a sweep directory (no sweep.yaml)")
        check_writable(run_dir, "--resume", directory=True)
        cfg = load_config(SweepConfig, run_dir / "sweep.yaml")
        if args.samples is not None and args.samples > cfg.samples:  # extend the sweep
            cfg.samples = args.samples
        resume = True
    else:
        if not args.workload:
            raise ValueError("name a workload (rlsys tune --help lists them) or --resume DIR")
        space = {}
        if args.space:
            space = read_yaml_file(resolve_path(args.space))
            if not isinstance(space, dict):
                raise ValueError(f"{args.space}: a search space must be a mapping")
        cfg = from_dict(
            SweepConfig,
            {
                "workload": args.workload,
                "search": args.search,
                "samples": 8 if args.samples is None else args.samples,
                "max_concurrent": args.max_concurrent,
                "budget": args.budget,
                "seed": args.seed,
                "baseline": not args.no_baseline,
                "space": space,
                "config": str(args.config or ""),
            },
            source="rlsys tune",
        )
        # check everything before a directory is made or Ray starts
        cfg = resolve(cfg)[0]
        root = Path(args.runs_dir) if args.runs_dir else RUNS_ROOT
        check_writable(root, "--runs-dir", directory=True)
        run_dir = _new_dir(root / "tune" / cfg.workload)
        resume = False
    print(f"sweep directory: {run_dir}")
    ray = init_ray(args.address)
    print(f"Ray: {int(ray.cluster_resources().get('CPU', 0))} CPUs on {len(ray.nodes())} node(s)")
    summary = run_sweep(cfg, run_dir, resume=resume)
    best, base = summary["best"], summary["baseline"]
    print(
        f"done: {summary['trials']} trials ({summary['failed']} failed); best "
        f"{summary['metric']} {best if best is not None else '-'}"
        + (f", baseline {base}" if base is not None else "")
    )
    if summary["best_file"]:
        print(f"best config: {run_dir / summary['best_file']}")
    print(f"report: {run_dir / 'report.md'}")
    return 0


def _new_dir(parent: Path) -> Path:
    import datetime as dt

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = parent / stamp, 1
    while path.exists():
        n += 1
        path = parent / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path
