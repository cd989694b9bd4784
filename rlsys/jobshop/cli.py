"""`rlsys jobshop ...`: schedule, eval, rules, solve, validate, plot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsys.paths import check_writable, resolve_path

DEFAULT_POLICIES = "SPT,LPT,MWKR,LWKR,MOR,LOR,FIFO,RANDOM"


def _add_variant_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-swaps", action="store_true", help="blocking without swaps (BNS)")
    p.add_argument(
        "--repair",
        default="uniform:1:10",
        help="repair time (time units): uniform:LOW:HIGH, constant:V, geometric:MEAN "
        "(default uniform:1:10)",
    )
    p.add_argument(
        "--restart", action="store_true", help="interrupted operations restart from zero"
    )


def _options(args):
    from envs.jobshop.shutdowns import RepairTime
    from rlsys.jobshop.evaluate import SimOptions

    RepairTime.parse(args.repair)  # validate early
    return SimOptions(swaps=not args.no_swaps, repair=args.repair, resume=not args.restart)


def add_commands(sub: argparse._SubParsersAction) -> None:
    js = sub.add_parser("jobshop", help="interrupting swap-allowed blocking job shop")
    cmds = js.add_subparsers(dest="jobshop_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("schedule", help="one schedule of one policy")
    p.add_argument("--instance", required=True, help="benchmark name (ft06, la01, ...) or file")
    p.add_argument(
        "--policy",
        default="MWKR",
        help="rule name, pretrained, pretrained-large or a policy file .pt (default MWKR); "
        "a learned policy may plan: pretrained@sample:N (best of N schedules, p = 0) or "
        "pretrained@rollout:N (N rollouts per candidate against sampled futures; options such as "
        "rollout:8:z=1:gate=0.95:top=3 in rlsys/jobshop/planning.py) or pretrained@follow:N "
        "(sample:N's plan at p = 0, followed under the shutdowns); plan:FILE.json or "
        "plan:DIR (DIR/<instance>.json) follows a planned schedule's machine orders, e.g. "
        "solve --out's, with the times shifted by the shutdowns",
    )
    p.add_argument("--shutdown-prob", type=float, default=0.0, help="per machine, per time unit")
    p.add_argument("--seed", type=int, default=0, help="disruption seed (common random numbers)")
    p.add_argument("--out", required=True, help="schedule JSON to write")
    p.add_argument("--plot", help="also write a Gantt chart PNG here")
    _add_variant_args(p)
    p.set_defaults(func=cmd_schedule)

    p = cmds.add_parser("eval", help="policies x instances x shutdown probs x seeds on Ray")
    p.add_argument(
        "--instances",
        required=True,
        help="comma-separated names or files; ranges la01-la20 and random:25x15:0-4",
    )
    p.add_argument(
        "--policies",
        default=DEFAULT_POLICIES,
        help=f"as for schedule --policy, comma-separated (default {DEFAULT_POLICIES})",
    )
    p.add_argument("--shutdown-probs", default="0,0.05,0.1", help="default 0,0.05,0.1")
    p.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,5 (default 0-9)")
    p.add_argument("--out", required=True, help="results CSV to write")
    p.add_argument("--schedules-dir", help="write every schedule JSON here")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    _add_variant_args(p)
    p.set_defaults(func=cmd_eval)

    p = cmds.add_parser("train", help="train the GNN policy with PPO on Ray rollout workers")
    p.add_argument(
        "--config",
        default="configs/jobshop/default.yaml",
        type=resolve_path,
        help="YAML config (default configs/jobshop/default.yaml, shipped)",
    )
    p.add_argument("--actors", type=int, help="rollout workers (overrides the config)")
    p.add_argument("--updates", type=int, help="PPO updates (overrides the config)")
    p.add_argument("--seed", type=int, help="root seed (overrides the config; not with --resume)")
    p.add_argument("--resume", help="continue a run from its directory")
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local)")
    p.add_argument("--runs-dir", help="root of run directories (default runs/)")
    p.set_defaults(func=cmd_train)

    p = cmds.add_parser("rules", help="list the dispatching rules")
    p.set_defaults(func=cmd_rules)

    p = cmds.add_parser(
        "solve",
        help="CP-SAT optimum of the blocking job shop with swaps; with --shutdown-prob, "
        "clairvoyant (that seed's downtime known in advance)",
    )
    p.add_argument("--instance", required=True)
    p.add_argument(
        "--shutdown-prob", type=float, default=0.0, help="solve against this p's downtime (0)"
    )
    p.add_argument("--seed", type=int, default=0, help="disruption seed (common random numbers)")
    p.add_argument(
        "--repair", default="uniform:1:10", help="repair time, as for schedule (uniform:1:10)"
    )
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--workers", type=int, default=1, help="CP-SAT search workers (default 1)")
    p.add_argument(
        "--hint",
        help="start the search from this policy's schedule on the same seed, e.g. "
        "pretrained-large@sample:64 (default: none at p = 0, the best rule's under shutdowns)",
    )
    p.add_argument("--out", help="schedule JSON to write (a plan for --policy plan:FILE)")
    p.set_defaults(func=cmd_solve)

    p = cmds.add_parser("validate", help="check a schedule JSON; exit 1 on the first violation")
    p.add_argument("schedule")
    p.add_argument("--instance", help="default: the schedule's own instance field")
    p.set_defaults(func=cmd_validate)

    p = cmds.add_parser("plot", help="Gantt chart PNG of a schedule JSON")
    p.add_argument("schedule")
    p.add_argument("--out", help="PNG path (default: next to the schedule)")
    p.set_defaults(func=cmd_plot)


def cmd_schedule(args) -> int:
    from envs.jobshop.instance import load_instance
    from envs.jobshop.schedule import save_schedule, validate
    from rlsys.jobshop.evaluate import run_policy

    check_writable(args.out, "--out")
    if args.plot:
        check_writable(args.plot, "--plot")
    inst = load_instance(args.instance)
    if not 0.0 <= args.shutdown_prob < 1.0:
        raise ValueError(f"--shutdown-prob must be in [0, 1), got {args.shutdown_prob}")
    sim = run_policy(inst, args.policy, args.shutdown_prob, args.seed, _options(args))
    if sim.deadlock:
        print(f"{inst.name}: deadlock at t={sim.t} (no swaps); no schedule written")
        return 1
    sched = sim.schedule()
    sched["policy"] = args.policy
    validate(sched, inst)
    save_schedule(sched, args.out)
    print(
        f"{inst.name} {args.policy} p={args.shutdown_prob:g} seed={args.seed}: "
        f"makespan {sched['makespan']} ({sim.n_decisions} decisions, {sim.n_swaps} swaps, "
        f"{len(sched['downtime'])} shutdowns) -> {args.out}"
    )
    if args.plot:
        from rlsys.jobshop.plot import plot_schedule

        plot_schedule(sched, args.plot)
        print(f"Gantt chart -> {args.plot}")
    return 0


def cmd_eval(args) -> int:
    from rlsys.jobshop.evaluate import (
        evaluate,
        parse_instances,
        parse_probs,
        parse_seeds,
        reference_gap_table,
        summary_table,
        vs_best_rule_table,
        write_csv,
    )
    from rlsys.jobshop.rules import RULES

    check_writable(args.out, "--out")
    if args.schedules_dir:
        check_writable(args.schedules_dir, "--schedules-dir", directory=True)
    instances = parse_instances(args.instances)
    policies = [s.strip() for s in args.policies.split(",") if s.strip()]
    from envs.jobshop.instance import load_instance

    for name in instances:
        load_instance(name)  # fail fast, before Ray starts
    rows = evaluate(
        instances,
        policies,
        parse_probs(args.shutdown_probs),
        parse_seeds(args.seeds),
        _options(args),
        schedules_dir=args.schedules_dir,
        address=args.address,
    )
    write_csv(rows, args.out)
    print(summary_table(rows, title=f"mean makespan ({len(instances)} instances)"))
    if any(name in RULES and name != "RANDOM" for name in policies):
        # every policy against the best rule at each p, and its gap to BWS at p = 0
        print("\n" + vs_best_rule_table(rows))
    elif gaps := reference_gap_table(rows):  # instances with a published BWS reference
        print(gaps)
    invalid = [r for r in rows if r["valid"] not in ("yes", "deadlock")]
    print(f"{len(rows)} runs -> {args.out}; invalid schedules: {len(invalid)}")
    return 1 if invalid else 0


def cmd_train(args) -> int:
    import dataclasses

    from rlsys.jobshop.train import JobshopTrainConfig, train
    from rlsys.runtime import apply_train_flags, start_training_run

    if args.seed is not None and args.resume:
        # a resumed run continues its own random streams (bit-identical resume)
        raise ValueError("--seed cannot be changed on --resume: the run keeps its seed")

    def flags(cfg, args):
        cfg.train = apply_train_flags(cfg.train, args)  # --actors, --seed (no --steps here)
        if args.updates is not None:
            cfg.train = dataclasses.replace(cfg.train, total_updates=args.updates)
        return cfg

    cfg, run_dir, resume = start_training_run(
        "jobshop", JobshopTrainConfig, args, flags, flags_on_resume=True
    )
    summary = train(cfg, run_dir, resume=resume)
    from rlsys.jobshop.report import plot_learning_curve

    plot_learning_curve(run_dir / "metrics.jsonl", run_dir / "learning_curve.png")
    best = export_best_checkpoint(run_dir)
    if best is not None:
        print(f"best validation checkpoint -> {run_dir / 'best.pt'} (update {best})")
    ev = summary.get("eval") or {}
    (run_dir / "report.md").write_text(
        f"# Job-shop GNN-PPO training\n\n{summary['updates']} updates, "
        f"{summary['env_steps']} environment steps, {summary['wall_time_s']:.0f} s.\n\n"
        + "".join(f"- {k}: {v:.4g}\n" for k, v in ev.items())
        + "\n![learning curve](learning_curve.png)\n"
    )
    print(f"done: {summary['updates']} updates, {summary['env_steps']} steps; last eval {ev}")
    print(f"policy: {run_dir / 'final.pt'} (use with --policy {run_dir / 'final.pt'})")
    return 0


def export_best_checkpoint(run_dir: Path) -> int | None:
    """Write ``best.pt``: the saved checkpoint with the lowest validation makespan (model
    selection on the validation set, never on the benchmark instances)."""
    import json

    from rlsys.jobshop.policy import JobShopGNNPolicy

    scores = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "eval/val/makespan" in row:
            scores[row["update"]] = row["eval/val/makespan"]
    saved = {u: run_dir / "checkpoints" / f"ckpt_{u}.pt" for u in scores}
    saved = {u: p for u, p in saved.items() if p.exists()}
    if not saved:
        return None
    best = min(saved, key=lambda u: (scores[u], -u))
    policy = JobShopGNNPolicy.load(saved[best])
    policy.save(run_dir / "best.pt", metadata={"update": best, "val_makespan": scores[best]})
    return best


def cmd_rules(args) -> int:
    from rlsys.jobshop.rules import DESCRIPTIONS

    for name, text in DESCRIPTIONS.items():
        print(f"{name:7s} {text}")
    print("Ties go to the lowest job index.")
    return 0


def cmd_solve(args) -> int:
    if args.out:
        check_writable(args.out, "--out")
    from envs.jobshop.instance import load_instance
    from envs.jobshop.schedule import save_schedule, validate
    from envs.jobshop.shutdowns import RepairTime, ShutdownProcess
    from rlsys.jobshop.cpsat import solve_bws

    inst = load_instance(args.instance)
    if not 0.0 <= args.shutdown_prob < 1.0:
        raise ValueError(f"--shutdown-prob must be in [0, 1), got {args.shutdown_prob}")
    downtime = ShutdownProcess(
        inst.n_machines, args.shutdown_prob, args.seed, RepairTime.parse(args.repair)
    )
    hint = None
    if args.hint:
        from rlsys.jobshop.evaluate import SimOptions, run_policy

        options = SimOptions(repair=args.repair)  # the downtime the solve sees
        started = run_policy(inst, args.hint, args.shutdown_prob, args.seed, options)
        if not started.deadlock:
            hint = started.schedule()
            print(f"hint: {args.hint} makespan {started.makespan}")
    res = solve_bws(
        inst, time_limit=args.time_limit, workers=args.workers, downtime=downtime, hint=hint
    )
    if res.schedule is None:
        print(f"{inst.name}: no solution found ({res.status}) in {res.wall_time:.1f} s")
        return 1
    validate(res.schedule, inst)
    what = (
        f" against seed {args.seed}'s downtime at p={args.shutdown_prob:g} (clairvoyant)"
        if downtime.active
        else ""
    )
    print(
        f"{inst.name}: makespan {res.makespan} ({res.status}, lower bound {res.lower_bound})"
        f"{what} in {res.wall_time:.1f} s"
    )
    if args.out:
        save_schedule(res.schedule, args.out)
        print(f"-> {args.out}")
    return 0


def cmd_validate(args) -> int:
    from envs.jobshop.instance import load_instance
    from envs.jobshop.schedule import load_schedule, violations

    sched = load_schedule(args.schedule)
    name = args.instance or sched.get("instance")
    if not name:
        raise ValueError("the schedule names no instance; pass --instance")
    if not isinstance(name, str):
        raise ValueError(f"{args.schedule}: 'instance' must be a name or a file path")
    inst = load_instance(name)
    found = violations(sched, inst, limit=1)
    if found:
        print(f"{args.schedule}: INVALID: {found[0]}", file=sys.stderr)
        return 1
    print(f"{args.schedule}: valid, makespan {sched['makespan']}")
    return 0


def cmd_plot(args) -> int:
    out = Path(args.out) if args.out else Path(args.schedule).with_suffix(".png")
    check_writable(out, "--out")
    from envs.jobshop.schedule import load_schedule
    from rlsys.jobshop.plot import plot_schedule

    sched = load_schedule(args.schedule)
    plot_schedule(sched, out)
    print(f"Gantt chart -> {out}")
    return 0
