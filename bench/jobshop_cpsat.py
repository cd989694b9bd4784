"""CP-SAT on benchmark instances at p = 0 with a stated time limit: a reference for
instances without a published BWS value (la21-la40, orb01-orb10), and its time.

    python bench/jobshop_cpsat.py [--instances la21-la40,orb01-orb10] [--time-limit 60]
        [--processes 2] [--hint MWKR] [--out bench/results/jobshop/cpsat.csv]
        [--schedules DIR]

One CP-SAT search worker per solve (reproducible for its seed when it ends before the
limit), ``--processes`` solves at a time, each started from a dispatching rule's schedule
(``--hint``). Writes instance, makespan (best found), lower bound, status, seconds and
the hint's makespan; finished instances are kept in the CSV and skipped on a rerun, so an
interrupted run continues. A 'feasible' makespan is an upper bound on the optimum: a gap
measured against it understates the distance to the optimum. ``--schedules DIR`` also
writes each schedule to ``DIR/<instance>.json``: the plans that ``plan:DIR`` follows under
shutdowns (``rlsys jobshop eval --policies plan:DIR``).
"""

from __future__ import annotations

import argparse
import csv
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIELDS = ["instance", "makespan", "lower_bound", "status", "seconds", "time_limit", "hint"]


def solve(task: tuple[str, float, str, Path | None]) -> dict:
    from envs.jobshop.instance import load_instance
    from envs.jobshop.schedule import save_schedule, validate
    from rlsys.jobshop.cpsat import solve_bws
    from rlsys.jobshop.evaluate import run_policy

    name, time_limit, hint_policy, schedules = task
    inst = load_instance(name)
    hint = run_policy(inst, hint_policy, 0.0, 0)
    result = solve_bws(inst, time_limit=time_limit, workers=1, hint=hint.schedule())
    if schedules is not None and result.schedule is not None:
        validate(result.schedule, inst)
        save_schedule(result.schedule, schedules / f"{inst.name}.json")
    return {
        "instance": name,
        "makespan": result.makespan,
        "lower_bound": result.lower_bound,
        "status": result.status,
        "seconds": round(result.wall_time, 1),
        "time_limit": time_limit,
        "hint": hint.makespan,
    }


def main() -> int:
    from rlsys.jobshop.evaluate import parse_instances

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default="la21-la40,orb01-orb10")
    p.add_argument("--time-limit", type=float, default=60.0)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--hint", default="MWKR", help="the rule whose schedule starts the search")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "jobshop" / "cpsat.csv")
    p.add_argument("--schedules", type=Path, help="also write each schedule to DIR/<instance>.json")
    args = p.parse_args()

    done = {}
    if args.out.exists():
        done = {r["instance"]: r for r in csv.DictReader(args.out.open())}
    todo = [n for n in parse_instances(args.instances) if n not in done]
    print(f"{len(done)} instances done, {len(todo)} to solve ({args.time_limit:g} s each)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.out.exists()
    with args.out.open("a", newline="") as f, ProcessPoolExecutor(args.processes) as pool:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        tasks = [(n, args.time_limit, args.hint, args.schedules) for n in todo]
        for row in pool.map(solve, tasks):
            writer.writerow(row)
            f.flush()
            print(
                f"{row['instance']}: {row['makespan']} ({row['status']}, bound "
                f"{row['lower_bound']}, {args.hint} {row['hint']}, {row['seconds']} s)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
