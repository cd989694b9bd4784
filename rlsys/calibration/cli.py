"""`rlsys calibrate ...`: calibrate the transport simulation's ASCs to target mode shares.

Heavy imports (Ray, hpbandster) happen inside the command, so `rlsys --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlsys.paths import check_writable, resolve_path

# options that a resumed calibration may change; every other one must match the run's
_RESUME_CHANGEABLE = ("evaluations", "workers")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `rlsys calibrate`."""
    from rlsys.calibration.config import METHODS

    p = sub.add_parser(
        "calibrate",
        help="calibrate transport mode-choice constants (BOHB, random, fixed-point, hybrid)",
        description=(
            "Tune the ASCs of every mode but car until the simulated mode shares match the "
            "targets (L1 in percentage points), with evaluations running in parallel on Ray."
        ),
    )
    p.add_argument("--targets", type=resolve_path, help="YAML (mode: percent) or CSV (mode,share)")
    p.add_argument(
        "--time-targets",
        type=resolve_path,
        help="extra targets: mean travel time per mode, YAML (mode: minutes) or CSV",
    )
    p.add_argument(
        "--time-weight", type=float, help="objective = L1 + weight x travel-time error %% (1)"
    )
    p.add_argument("--scenario", help="shipped scenario name or YAML path")
    p.add_argument(
        "--simulator",
        type=resolve_path,
        help="adapter YAML of an external simulator (default: the built-in transport simulation)",
    )
    p.add_argument("--method", choices=METHODS, help="search method (default auto: hybrid)")
    p.add_argument("--max-iterations", type=int, help="iterations of a full evaluation (18)")
    p.add_argument("--evaluations", type=int, help="evaluations to run (200)")
    p.add_argument("--workers", type=int, help="parallel evaluations (default: all CPUs)")
    p.add_argument("--seed", type=int, help="root seed; also the simulation seed (1)")
    p.add_argument(
        "--replications",
        type=int,
        help="simulations per evaluation (seeds seed, seed+1000, ...), shares averaged (1)",
    )
    p.add_argument("--bounds", type=float, nargs=2, metavar=("LOW", "HIGH"), help="ASC bounds")
    p.add_argument("--no-early-stopping", action="store_true", help="disable the trend rule")
    p.add_argument("--config", type=resolve_path, help="YAML of CalibrationConfig fields")
    p.add_argument("--address", help="Ray cluster address (auto, host:port; default local)")
    p.add_argument("--resume", type=Path, metavar="DIR", help="continue a calibration")
    p.add_argument("--out", type=Path, help="run directory (default runs/calibration/<time>)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_calibrate)


def _overrides(args: argparse.Namespace) -> dict:
    over = {
        "scenario": args.scenario,
        "simulator": None if args.simulator is None else str(args.simulator),
        "method": args.method,
        "max_iterations": args.max_iterations,
        "evaluations": args.evaluations,
        "workers": args.workers,
        "seed": args.seed,
        "replications": args.replications,
        "bounds": list(args.bounds) if args.bounds else None,
        "early_stopping": False if args.no_early_stopping else None,
        "time_weight": args.time_weight,
    }
    return {k: v for k, v in over.items() if v is not None}


def cmd_calibrate(args: argparse.Namespace) -> int:
    from rlsys.runtime import RUNS_ROOT

    if args.resume is not None:
        check_writable(args.resume, "--resume", directory=True)
    else:
        check_writable(args.out or RUNS_ROOT, "--out", directory=True)
    from rlsys.calibration.calibrate import calibrate
    from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
    from rlsys.calibration.objective import read_targets, read_time_targets
    from rlsys.config import load_config, validate

    over = _overrides(args)
    if args.resume is not None:
        run_dir = args.resume
        if not (run_dir / "config.yaml").is_file():
            raise ValueError(f"{run_dir}: not a calibration directory (no config.yaml)")
        if args.out is not None and args.out.resolve() != run_dir.resolve():
            raise ValueError("--out and --resume name different directories")
        cfg = load_config(CalibrationConfig, run_dir / "config.yaml")
        for key, value in over.items():
            if key not in _RESUME_CHANGEABLE and getattr(cfg, key) != value:
                raise ValueError(
                    f"--{key.replace('_', '-')} cannot change on --resume "
                    f"(the run has {getattr(cfg, key)!r})"
                )
            setattr(cfg, key, value)
        validate(cfg)  # the changed options too
        if args.targets is not None and read_targets(args.targets) != cfg.targets:
            raise ValueError("--targets differ from the resumed run's targets")
        if args.time_targets is not None and read_time_targets(args.time_targets) != dict(
            cfg.time_targets
        ):
            raise ValueError("--time-targets differ from the resumed run's time targets")
        calibrate(cfg, run_dir, resume=True, address=args.address, quiet=args.quiet)
        return 0

    if args.targets is None:
        raise ValueError("--targets FILE is required (a YAML map mode -> percent)")
    targets = read_targets(args.targets)
    if args.time_targets is not None:
        over["time_targets"] = read_time_targets(args.time_targets)
        over["time_targets_file"] = str(args.time_targets)
    cfg = load_config(
        CalibrationConfig,
        args.config or DEFAULT_CONFIG,
        targets=targets,
        targets_file=str(args.targets),
        **over,
    )
    cfg.check()
    if args.out is not None:
        run_dir = args.out
        if (run_dir / "tune").exists():
            raise ValueError(f"{run_dir} already holds a calibration; use --resume {run_dir}")
    else:
        from rlsys.runtime import make_run_dir

        run_dir = make_run_dir("calibration", cfg)
    calibrate(cfg, run_dir, resume=False, address=args.address, quiet=args.quiet)
    return 0
