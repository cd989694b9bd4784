"""The one way rlsys starts Ray, derives seeds and lays out run directories.

A local run is a cluster of one node: with no address we start a fresh embedded
cluster sized to this machine; with ``--address``/``RAY_ADDRESS`` (which ``ray job
submit`` sets for its entrypoint) we join that cluster. There is no second path.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import numpy as np
import yaml

RUNS_ROOT = Path(os.environ.get("RLSYS_RUNS", "runs"))


def init_ray(address: str | None = None, num_cpus: int | None = None, quiet: bool = True):
    """Start or join Ray once per process and return the ``ray`` module.

    address: None -> RAY_ADDRESS if set (cluster or `ray job submit`), else a new local
        cluster. "auto" or "host:port" or "ray://..." joins an existing cluster.
    num_cpus: only for a new local cluster (defaults to all local cores).
    """
    import ray

    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"log_to_driver": not quiet, "configure_logging": True}
    if quiet:
        kwargs["logging_level"] = "ERROR"
    if address:
        ray.init(address=address, **kwargs)
    else:
        # address="local" always starts a new cluster: a stale ray_current_cluster file
        # from a dead `ray start` must not be joined by accident.
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)
    return ray


def derive_seeds(root_seed: int, n: int) -> list[int]:
    """n independent 32-bit seeds from one root seed (never the same seed twice)."""
    children = np.random.SeedSequence(root_seed).spawn(n)
    return [int(c.generate_state(1)[0]) for c in children]


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _to_plain(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def make_run_dir(workload: str, config: Any, root: Path | str | None = None) -> Path:
    """Create ``runs/<workload>/<timestamp>/`` and write the resolved config there."""
    root = Path(root) if root is not None else RUNS_ROOT
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = root / workload / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = root / workload / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    write_config(config, run_dir / "config.yaml")
    return run_dir


def write_config(config: Any, path: Path | str) -> Path:
    """A resolved config (dataclasses) as YAML: the run directory's ``config.yaml``."""
    with open(path, "w") as f:
        yaml.safe_dump(_to_plain(config), f, sort_keys=False)
    return Path(path)


def load_run_config(cls, run_dir: Path | str):
    """The resolved config of an existing run directory, to resume it."""
    from rlsys.config import load_config

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise ValueError(f"{run_dir}: not a run directory (no config.yaml)")
    return load_config(cls, run_dir / "config.yaml")


def run_config(cls, config_path: str | Path | None, resume: str | Path | None, runs_dir=None):
    """The config of a training command and the run directory it continues.

    ``resume`` given: that directory's resolved ``config.yaml`` and the directory; else the
    ``config_path`` file (or the defaults) and None (the caller makes the run directory
    once its flags are applied). Checks first that the directory can be written, so a bad
    ``--resume``/``--runs-dir`` is a one-line error before any work.
    """
    from rlsys.paths import check_writable

    if resume:
        check_writable(resume, "--resume", directory=True)
        return load_run_config(cls, resume), Path(resume)
    check_writable(runs_dir or RUNS_ROOT, "--runs-dir", directory=True)
    from rlsys.config import load_config

    return load_config(cls, config_path), None


def start_training_run(workload: str, cls, args, apply_flags=None, flags_on_resume=False):
    """(config, run directory, resume) of an ``rlsys <workload> train`` command.

    ``args`` carries ``config``, ``resume``, ``runs_dir`` and ``address``. A new run gets
    its flags (``apply_flags(cfg, args) -> cfg``) and a new run directory; a resumed run
    keeps its stored config (flags too when ``flags_on_resume``). Joins or starts Ray. A
    run killed before its first checkpoint has no finished update to keep: it starts over
    in the same directory (its partial metrics are dropped).
    """
    cfg, run_dir = run_config(cls, args.config, args.resume, args.runs_dir)
    if apply_flags is not None and (run_dir is None or flags_on_resume):
        cfg = apply_flags(cfg, args)
    if run_dir is None:
        run_dir = make_run_dir(workload, cfg, root=args.runs_dir)
    print(f"run directory: {run_dir}")
    init_ray(args.address)
    resume = bool(args.resume)
    if resume and not (run_dir / "checkpoints" / "latest.pt").exists():
        print("no checkpoint yet: training starts from update 0")
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
        resume = False
    return cfg, run_dir, resume


def apply_train_flags(train, args, updates_for_steps=None):
    """``--seed``, ``--actors`` and ``--steps`` of a train command over its ``TrainConfig``
    (a flag left out keeps the config's value); ``updates_for_steps(steps) -> updates``
    turns the env-step budget into updates. Returns the new ``TrainConfig``."""
    if getattr(args, "seed", None) is not None:
        train = dataclasses.replace(train, seed=args.seed)
    if getattr(args, "actors", None) is not None:
        if args.actors < 1:
            raise ValueError(f"--actors must be at least 1, got {args.actors}")
        train.rollout = dataclasses.replace(train.rollout, num_workers=args.actors)
    if getattr(args, "steps", None) is not None:
        if args.steps < 1:
            raise ValueError(f"--steps must be at least 1, got {args.steps}")
        train = dataclasses.replace(train, total_updates=updates_for_steps(args.steps))
    return train


def print_training_summary(summary: dict, run_dir: Path, report: Path | None = None) -> None:
    """The last lines of a training command: size, time, last evaluation, where things are."""
    ev = summary.get("eval") or {}
    print(
        f"done: {summary['updates']} updates, {summary['env_steps']} env steps, "
        f"{summary['wall_time_s']:.0f} s; last eval "
        + ", ".join(f"{k} {v:.4g}" for k, v in ev.items())
    )
    print(f"policy: {run_dir / 'final.pt'}" + (f"; report: {report}" if report else ""))
