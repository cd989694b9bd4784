"""A calibration of the `large` scenario submitted to `cluster/local.sh` with `ray job submit`.

    python bench/calibration_cluster.py [--evaluations 40] [--repeats 2]

One `cluster/local.sh` cluster (token auth, a 0-CPU head, two 1-CPU worker nodes); for
1 and 2 workers, `ray job submit ... -- python -m rlsys calibrate --scenario large
--method bohb --workers W` (BEAM targets, 200,000 agents, full evaluation 18
iterations). Printed: milliseconds per evaluation from the first to the last finished
evaluation (the workers' start-up excluded; medians over repeats), the speed-up, and on
how many nodes the evaluations ran. Writes bench/results/calibration/cluster.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
PYTHON = Path(sys.executable)


def per_evaluation_ms(run: Path) -> tuple[float, int]:
    rows = list(csv.DictReader(open(run / "evaluations.csv")))
    t = sorted(float(r["elapsed_s"]) for r in rows)
    workers = {r["worker"] for r in rows}
    return 1000 * (t[-1] - t[0]) / (len(t) - 1), len(workers)


def main() -> int:
    from cluster_multinode_eval import free_port_block
    from local_cluster import LocalCluster

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--evaluations", type=int, default=40)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "calibration")
    args = p.parse_args()
    base = free_port_block()
    assert base is not None, "no free block of 400 ports in 20000-31999"
    cluster = LocalCluster.create(base, PYTHON.parent / "ray")
    ms: dict[int, list[float]] = {1: [], 2: []}
    procs: dict[int, int] = {}
    try:
        up = cluster.sh("up")
        if up.returncode != 0:
            raise RuntimeError(up.stdout + up.stderr)
        targets = ROOT / "configs" / "calibration" / "beam-urbansim-10k.yaml"
        for rep in range(args.repeats):
            for workers in (1, 2):
                run = cluster.state / f"cal-w{workers}-r{rep}"
                cluster.submit(
                    "python", "-m", "rlsys", "calibrate", "--targets", str(targets),
                    "--scenario", "large", "--method", "bohb", "--evaluations",
                    str(args.evaluations), "--workers", str(workers), "--seed", "1",
                    "--out", str(run), "--address", "auto", "--quiet", timeout=3600,
                )  # fmt: skip
                value, n = per_evaluation_ms(run)
                ms[workers].append(value)
                procs[workers] = n
                summary = json.loads((run / "summary.json").read_text())
                print(
                    f"workers {workers}: {value:.0f} ms/evaluation, best L1 "
                    f"{summary['best_l1']:.2f}, {n} worker process(es)",
                    flush=True,
                )
    finally:
        cluster.sh("down")
        shutil.rmtree(cluster.state, ignore_errors=True)
    m1, m2 = statistics.median(ms[1]), statistics.median(ms[2])
    text = "\n".join(
        [
            "# Calibration of `large` on cluster/local.sh (ray job submit)",
            "",
            f"`python bench/calibration_cluster.py --evaluations {args.evaluations} --repeats "
            f"{args.repeats}`: token auth, a 0-CPU head and two 1-CPU worker nodes on this "
            "2-core machine; `rlsys calibrate --scenario large --method bohb` (BEAM targets, "
            "200,000 agents) submitted as a job; ms per evaluation from the first to the "
            "last finished evaluation, medians over repeats.",
            "",
            "| workers | ms / evaluation | worker processes | speed-up |",
            "|---:|---:|---:|---:|",
            f"| 1 | {m1:.0f} | {procs[1]} | 1.00x |",
            f"| 2 | {m2:.0f} | {procs[2]} | {m1 / m2:.2f}x |",
        ]
    )
    print(text)
    (args.out / "cluster.md").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
