"""Policies against the best rule, per shutdown probability, from ``rlsys jobshop eval``
CSVs; and at p = 0 the mean gap to a reference makespan per instance.

    python bench/jobshop_vs_rules.py EVAL.csv [EVAL.csv ...] [--cpsat FILE.csv]
        [--only PREFIX,...] [--by-size] [--out FILE.md]

``--only`` keeps the instances whose name starts with one of the prefixes (``ta4`` for
ta41-ta50, ``rand25x15`` for random:25x15:*), for a table per family. ``--by-size`` adds
each policy's p = 0 gap to the reference per instance size (jobs x machines): whether a
gap sits in the sizes training never saw or everywhere.

The best rule at each p is the rule (SPT, LPT, MWKR, LWKR, MOR, LOR, FIFO) with the lowest
mean makespan over every instance and seed of that p. The reference of an instance is its
published BWS makespan (``rlsys/jobshop/data/bws_reference.csv``: la01-la20, ft06, ft10)
or else, with ``--cpsat``, CP-SAT's schedule from ``bench/jobshop_cpsat.py`` (an upper
bound on the optimum, so those gaps understate the distance to it). Invalid schedules stop
the script: a mean over them would mean nothing.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.jobshop.instance import load_instance  # noqa: E402
from rlsys.jobshop.evaluate import bws_reference, reference_gaps, vs_best_rule_table  # noqa: E402


def gaps_by_size_table(rows: list[dict], references: dict[str, int]) -> str:
    """Markdown: each policy's mean p = 0 gap (%) to the reference per instance size, with
    the number of schedules; sizes in order of operations, then jobs."""
    size_of = {}
    for name in {r["instance"] for r in rows}:
        inst = load_instance(name)
        size_of[name] = (inst.n_jobs * inst.n_machines, inst.n_jobs, inst.n_machines)
    sizes = sorted(set(size_of.values()))
    gaps = {
        size: reference_gaps([r for r in rows if size_of[r["instance"]] == size], references)
        for size in sizes
    }
    lines = [
        "| p = 0 gap to reference by size | " + " | ".join(f"{j}x{m}" for _, j, m in sizes) + " |",
        "|---|" + "---:|" * len(sizes),
    ]
    for policy in dict.fromkeys(r["policy"] for r in rows):
        cells = []
        for size in sizes:
            g = gaps[size].get(policy)
            cells.append(f"{sum(g) / len(g):.1f} % ({len(g)})" if g else "")
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csvs", nargs="+", type=Path)
    ap.add_argument("--cpsat", type=Path, default=None, help="bench/jobshop_cpsat.py's CSV")
    ap.add_argument("--only", default="", help="instance-name prefixes, comma-separated")
    ap.add_argument("--by-size", action="store_true", help="p = 0 gaps per instance size too")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = [r for path in args.csvs for r in csv.DictReader(path.open())]
    if args.only:
        rows = [r for r in rows if r["instance"].startswith(tuple(args.only.split(",")))]
    if not rows:
        raise SystemExit("no schedules to compare")
    bad = [r for r in rows if r["valid"] != "yes"]
    if bad:
        raise SystemExit(f"{len(bad)} invalid schedules, e.g. {bad[0]}")
    ref = {name: value for name, (value, _) in bws_reference().items()}
    if args.cpsat:
        for r in csv.DictReader(args.cpsat.open()):
            if r["makespan"]:  # named as given (random:25x15:0); rows carry the instance's name
                ref.setdefault(load_instance(r["instance"]).name, int(r["makespan"]))
    try:
        table = vs_best_rule_table(rows, ref)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    n_inst = len({r["instance"] for r in rows})
    text = (
        f"`python bench/jobshop_vs_rules.py {' '.join(sys.argv[1:])}`: {n_inst} instances, "
        f"{len(rows)} schedules, every one valid.\n\n{table}\n"
    )
    if args.by_size:
        text += f"\n{gaps_by_size_table(rows, ref)}\n"
    if args.out:
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
