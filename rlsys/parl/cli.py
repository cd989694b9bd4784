"""`rlsys parl train|eval`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from rlsys.paths import resolve_path


def add_commands(sub: argparse._SubParsersAction) -> None:
    parl = sub.add_parser("parl", help="PARL: bilevel policy alignment from preferences")
    cmds = parl.add_subparsers(dest="parl_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("train", help="SAC on a learned reward with a scripted teacher")
    p.add_argument("--config", type=resolve_path, help="YAML config; flags override it")
    p.add_argument("--task", help="pendulum | reacher | cheetah | walker (default pendulum)")
    p.add_argument("--method", help="parl | pebble | oracle (default parl)")
    p.add_argument("--teacher", help="oracle | noisy | myopic | skip | equal | mistake")
    p.add_argument("--beta", type=float, help="noisy teacher's rationality (> 0, default 1)")
    p.add_argument("--queries", type=int, help="feedback budget: labels (default 200)")
    p.add_argument("--steps", type=int, help="env-step budget (sets the number of updates)")
    p.add_argument(
        "--unsupervised-steps",
        type=int,
        help="PEBBLE's unsupervised pre-training: env steps on the state-entropy reward first",
    )
    p.add_argument("--seed", type=int, help="root seed")
    p.add_argument("--actors", type=int, help="rollout actors (default 1)")
    p.add_argument("--resume", help="continue a run from its directory")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--runs-dir", help="root of run directories (default runs/)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = cmds.add_parser("compare", help="methods x seeds in parallel on Ray, one table")
    p.add_argument("--config", type=resolve_path, help="YAML config of every run")
    p.add_argument("--task", help="pendulum | reacher | cheetah | walker (default pendulum)")
    p.add_argument("--methods", default="parl,pebble", help="comma list (default parl,pebble)")
    p.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    p.add_argument("--teacher", help="oracle | noisy | myopic | skip | equal | mistake")
    p.add_argument("--beta", type=float, help="noisy teacher's rationality (> 0)")
    p.add_argument("--queries", type=int, help="feedback budget per run")
    p.add_argument("--steps", type=int, help="env-step budget per run")
    p.add_argument(
        "--unsupervised-steps",
        type=int,
        help="PEBBLE's unsupervised pre-training: env steps on the state-entropy reward first",
    )
    p.add_argument("--cpus-per-run", type=float, default=1.0, help="Ray CPUs per run (1)")
    p.add_argument(
        "--target",
        type=float,
        help="true return the steps-to-target columns use (default: pebble's mean final)",
    )
    p.add_argument("--out", required=True, help="study directory (rerun to continue it)")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.set_defaults(func=cmd_compare, seed=None, actors=None, method=None)

    p = cmds.add_parser("eval", help="true return of a trained actor")
    p.add_argument("--checkpoint", required=True, help="a run's final.pt")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes (default 10)")
    p.set_defaults(func=cmd_eval)


def apply_flags(cfg, args) -> None:
    """Command-line flags over the config (each validated by its dataclass)."""
    from rlsys.parl.teachers import TeacherConfig
    from rlsys.parl.train import env_spec, updates_for_steps
    from rlsys.runtime import apply_train_flags

    top = {
        "task": args.task,
        "method": args.method,
        "queries": args.queries,
        "unsupervised_steps": args.unsupervised_steps,
    }
    top = {k: v for k, v in top.items() if v is not None}
    if top:
        cfg = dataclasses.replace(cfg, **top)
    teacher = {"kind": args.teacher, "beta": args.beta}
    teacher = {k: v for k, v in teacher.items() if v is not None}
    if teacher:
        cfg.teacher = TeacherConfig(**{**dataclasses.asdict(cfg.teacher), **teacher})
    cfg.train = apply_train_flags(
        cfg.train, args, lambda steps: updates_for_steps(cfg, steps, env_spec(cfg.task))
    )
    return cfg


def cmd_train(args) -> int:
    from rlsys.parl.report import write_report
    from rlsys.parl.train import PARLConfig, check_budget, env_spec, train
    from rlsys.runtime import print_training_summary, start_training_run

    def flags(cfg, args):
        cfg = apply_flags(cfg, args)
        check_budget(cfg, env_spec(cfg.task))  # before a run directory exists
        return cfg

    cfg, run_dir, resume = start_training_run("parl", PARLConfig, args, flags)
    summary = train(cfg, run_dir, resume=resume, progress=not args.no_progress)
    print_training_summary(summary, run_dir, write_report(run_dir, cfg))
    return 0


def cmd_compare(args) -> int:
    from rlsys.config import load_config
    from rlsys.parl.compare import run_compare
    from rlsys.parl.train import METHODS, PARLConfig, check_budget, env_spec
    from rlsys.paths import check_writable
    from rlsys.runtime import init_ray

    check_writable(args.out, "--out", directory=True)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise ValueError(f"--methods {args.methods!r}: each one of {', '.join(METHODS)}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.cpus_per_run <= 0:
        raise ValueError(f"--cpus-per-run must be > 0, got {args.cpus_per_run}")
    cfg = apply_flags(load_config(PARLConfig, args.config), args)
    check_budget(cfg, env_spec(cfg.task))
    init_ray(args.address)
    path = run_compare(
        cfg,
        methods,
        list(range(1, args.seeds + 1)),
        Path(args.out),
        args.cpus_per_run,
        target=args.target,
    )
    print(f"results: {path}")
    return 0


def cmd_eval(args) -> int:
    from rlsys.parl.train import TrueReturn
    from rlsys.rl.policy import read_policy_file
    from rlsys.rl.sac import SquashedGaussianActor

    if args.episodes < 1:
        raise ValueError(f"--episodes must be at least 1, got {args.episodes}")
    state, meta = read_policy_file(args.checkpoint, "PARL policy file")
    if "task" not in meta or not meta.get("policy_kwargs"):
        raise ValueError(f"{args.checkpoint}: not a PARL run's final.pt (no task in it)")
    actor = SquashedGaussianActor(**meta["policy_kwargs"])
    actor.load_state_dict(state)
    result = TrueReturn(meta["task"], args.episodes)(actor, 0)
    print(
        f"{meta['task']} ({meta.get('method', '?')}), {args.episodes} episodes: "
        f"true return {result['true_return']:.1f}"
    )
    return 0
