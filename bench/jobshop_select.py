"""Choose a job-shop policy among the checkpoints of finished runs on a selection set:
random instances that neither training nor its validation set used, sizes included that
training never saw, scored against MWKR on the same disruption paths. Never the benchmarks.

    python bench/jobshop_select.py --runs runs/jobshop/A,runs/jobshop/B [--updates 100-400:20]
        [--candidates FILE.pt,...]
        [--sizes 10x5,15x10,20x10,30x10,20x15] [--per-size 10] [--probs 0,0.05,0.1]
        [--first-seed 50000] [--workers 2] [--extra FILE.pt,...] [--guard la01-la05]
        [--incumbent SHIPPED.pt] [--export best.pt] [--out bench/results/jobshop/select]

A training run keeps ``best.pt`` by the mean makespan on its own validation set, which
large instances at high shutdown probability dominate, measured on a few instances at
every 20th update. Here every candidate checkpoint is scored by its mean ratio to MWKR
(scale-free: a 10x5 instance counts as much as a 30x10 one) on more and larger instances;
the lowest ratio wins. ``--guard`` names benchmark instances on which a candidate's greedy
schedule at p = 0 must be shorter than MWKR's (the shipped file's regression test,
``tests/rlsys/jobshop/test_policy.py``): a pass/fail filter, not a score, so the
benchmarks never rank candidates. ``--candidates`` adds policy files as candidates (the
kept files of runs whose directories are gone); ``--extra`` adds them as reference rows.

Every row also shows its paired difference to the lowest ratio, case by case, with the
standard error of that mean: a difference within about two standard errors is one the
selection set cannot resolve. ``--incumbent`` names the file in service (a candidate too):
it is replaced only by a candidate whose ratio is lower than its own by more than two
paired standard errors, so a coin flip does not swap the shipped file.
Writes ``select.md`` and ``select.csv`` to ``--out``; ``--export`` saves the winner as a
policy file (its decision model kept) with the selection in its metadata.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parse_updates(text: str) -> range:
    span, _, step = text.partition(":")
    first, _, last = span.partition("-")
    return range(int(first), int(last or first) + 1, int(step or 1))


def parse_sizes(text: str) -> list[list[int]]:
    sizes = []
    for item in text.split(","):
        jobs, sep, machines = item.partition("x")
        if not sep:
            raise SystemExit(f"--sizes: {item!r} is not JOBSxMACHINES")
        sizes.append([int(jobs), int(machines)])
    return sizes


def score(task: tuple[str, dict, list[str]]) -> dict:
    """Mean ratio to MWKR and mean makespan of one policy file on the selection set, and
    whether it beats MWKR on every guard instance at p = 0."""
    import torch

    from rlsys.jobshop.evaluate import run_episode
    from rlsys.jobshop.policies import GNNDispatcher
    from rlsys.jobshop.policy import JobShopGNNPolicy
    from rlsys.jobshop.rules import make_rule
    from rlsys.jobshop.train import ValidationConfig, Validator

    torch.set_num_threads(1)
    path, cfg, guard = task
    policy = JobShopGNNPolicy.load(path)
    start = time.perf_counter()
    validator = Validator(ValidationConfig(**cfg))
    makespans = validator.makespans(policy)
    ratios = makespans / validator.mwkr
    policy.eval()
    passes = all(
        run_episode(inst, GNNDispatcher(policy), 0.0, 0).makespan
        < run_episode(inst, make_rule("MWKR"), 0.0, 0).makespan
        for inst in guard
    )
    return {
        "policy": path,
        "decisions": policy.config.decisions,
        "ratio_to_mwkr": float(ratios.mean()),
        "makespan": float(makespans.mean()),
        "mwkr_makespan": float(validator.mwkr.mean()),
        "passes_guard": passes,
        "seconds": time.perf_counter() - start,
        "ratios": ratios,
    }


def paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b over the cases and its standard error."""
    d = a - b
    return float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="", help="run directories, comma-separated")
    p.add_argument(
        "--candidates", default="", help="policy files ranked with the checkpoints (finished runs)"
    )
    p.add_argument("--updates", default="100-400:20", help="FIRST-LAST:STEP checkpoints")
    p.add_argument("--sizes", default="10x5,15x10,20x10,30x10,20x15")
    p.add_argument("--per-size", type=int, default=10)
    p.add_argument("--probs", default="0,0.05,0.1")
    p.add_argument("--first-seed", type=int, default=50_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--extra", default="", help="reference policy files (not candidates)")
    p.add_argument("--guard", default="", help="instances where it must beat MWKR at p = 0")
    p.add_argument("--incumbent", default="", help="the file in service (kept unless beaten)")
    p.add_argument("--export", default=None, help="save the winner here")
    p.add_argument("--out", default="bench/results/jobshop/select")
    args = p.parse_args()

    cfg = {
        "sizes": parse_sizes(args.sizes),
        "instances_per_size": args.per_size,
        "shutdown_probs": [float(x) for x in args.probs.split(",")],
        "seeds": 1,
        "first_seed": args.first_seed,
    }
    candidates = []
    for run in filter(None, args.runs.split(",")):
        for u in parse_updates(args.updates):
            ckpt = Path(run) / "checkpoints" / f"ckpt_{u}.pt"
            if not ckpt.exists():
                raise SystemExit(f"{ckpt}: no such checkpoint (--updates {args.updates})")
            candidates.append(str(ckpt))
    candidates += [x for x in args.candidates.split(",") if x]
    if args.incumbent and args.incumbent not in candidates:
        candidates.append(args.incumbent)
    if not candidates:
        raise SystemExit("nothing to select from: give --runs and/or --candidates")
    extras = [x for x in args.extra.split(",") if x]
    from envs.jobshop.instance import load_instance
    from rlsys.jobshop.evaluate import parse_instances

    guard = [load_instance(spec) for spec in parse_instances(args.guard)] if args.guard else []
    tasks = [(path, cfg, guard) for path in candidates + extras]
    n_cases = len(cfg["sizes"]) * args.per_size * len(cfg["shutdown_probs"])
    print(f"{len(candidates)} checkpoints + {len(extras)} references x {n_cases} cases")
    rows = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i, row in enumerate(pool.map(score, tasks), 1):
            rows.append(row)
            print(
                f"[{i}/{len(tasks)}] {row['policy']}: ratio {row['ratio_to_mwkr']:.4f} "
                f"({row['seconds']:.0f} s)",
                flush=True,
            )

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ranked = sorted(rows[: len(candidates)], key=lambda r: (r["ratio_to_mwkr"], r["policy"]))
    eligible = [r for r in ranked if r["passes_guard"]]
    if not eligible:
        raise SystemExit(f"no candidate beats MWKR on every guard instance ({args.guard})")
    best = eligible[0]
    for row in rows:
        row["diff_to_best"], row["diff_se"] = paired(row["ratios"], best["ratios"])
    winner, verdict = best, "the lowest ratio"
    incumbent = next((r for r in rows if r["policy"] == args.incumbent), None)
    if incumbent is not None and incumbent is not best and incumbent["passes_guard"]:
        gain, se = paired(best["ratios"], incumbent["ratios"])
        if not gain < -2 * se:
            winner = incumbent
            verdict = (
                f"the incumbent: the lowest ratio, {best['policy']}, is {-gain:.4f} below it, "
                f"within two paired standard errors ({se:.4f})"
            )
        else:
            verdict = f"the lowest ratio, {-gain:.4f} below the incumbent (paired SE {se:.4f})"
    with open(out / "select.csv", "w", newline="") as f:
        fields = [k for k in rows[0] if k != "ratios"]
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    command = "python bench/jobshop_select.py " + " ".join(sys.argv[1:])
    guard_name = args.guard or "(no guard)"
    lines = [
        "# Checkpoint selection on a fresh selection set\n",
        f"`{command}`: {n_cases} cases (sizes {args.sizes} x {args.per_size} instances from "
        f"seed {args.first_seed} x p in {{{args.probs}}}, one disruption seed), greedy "
        "policies against MWKR on the same paths. Lower ratio = better.\n",
        f"| policy | decisions | mean ratio to MWKR | paired difference to the lowest (SE) | "
        f"mean makespan | beats MWKR on {guard_name} |",
        "|---|---|---:|---:|---:|---|",
    ]
    shown = ranked[:10]
    if incumbent is not None and incumbent not in shown:  # the verdict names it: show its row
        shown.append(incumbent)
    for row in shown + rows[len(candidates) :]:
        lines.append(
            f"| {row['policy']} | {row['decisions']} | {row['ratio_to_mwkr']:.4f} | "
            f"{row['diff_to_best']:+.4f} ({row['diff_se']:.4f}) | {row['makespan']:.1f} | "
            f"{'yes' if row['passes_guard'] else 'no'} |"
        )
    lines.append(
        f"\nWinner: {winner['policy']} ({verdict}; {len(eligible)} of {len(candidates)} "
        f"candidates beat MWKR on {guard_name})."
    )
    (out / "select.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if args.export:
        from rlsys.jobshop.policy import JobShopGNNPolicy

        policy = JobShopGNNPolicy.load(winner["policy"])
        meta = {
            "selected_from": winner["policy"],
            "selection_ratio": winner["ratio_to_mwkr"],
            "selection": command,
        }
        policy.save(args.export, metadata=meta)
        print(f"exported -> {args.export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
