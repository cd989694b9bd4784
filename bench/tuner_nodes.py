"""Sweep throughput of the central tuner with 1 and 2 worker nodes of ``cluster/local.sh``.

    python bench/tuner_nodes.py [--trials 8] [--repeats 2]

Each setting starts ``cluster/local.sh up`` (token auth on, a head with 0 CPUs and
``WORKERS`` = 1 or 2 worker nodes of 1 CPU each, separate ``ray start`` processes),
runs ``rlsys tune`` as a driver joining it (``RAY_ADDRESS``, as a user on a cluster does)
and stops it again. Two sweeps: (a) calibration, random search on the 200,000-agent
``large`` scenario, 6 simulation iterations per trial; (b) job shop, ASHA over tiny
instances, up to 4 PPO updates per trial, a trial holding 1 CPU (learner 0.5 + one
0.5-CPU rollout worker, ``train.learner_num_cpus``). Printed: trials per minute of the
sweep (``summary.json``'s wall time, driver start-up excluded; medians over repeats) and
the 2-node / 1-node ratio. On this 2-core machine the driver, the GCS and the nodes share
the cores, so the ratio is a floor for real machines.
Writes bench/results/tuner/nodes.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "cluster"))
PYTHON = Path(sys.executable)
BEAM_TARGETS = {
    "car": 64.86, "walk": 6.94, "drive_transit": 5.98, "walk_transit": 5.98,
    "ride_hail_transit": 5.98, "ride_hail": 5.23, "ride_hail_pooled": 5.03, "bike": 0.0,
}  # fmt: skip


def sweep_args(workload: str, trials: int, tmp: Path) -> list[str]:
    from tiny_configs import TINY_JOBSHOP

    if workload == "calibration":
        cfg = {"scenario": "large", "check_seeds": 0, "targets": BEAM_TARGETS}
        extra = ["--search", "random", "--budget", "6"]
    else:
        cfg = json.loads(json.dumps(TINY_JOBSHOP))
        cfg["train"]["learner_num_cpus"] = 0.5
        extra = ["--search", "asha", "--budget", "4"]
    path = tmp / f"{workload}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return [workload, *extra, "--samples", str(trials), "--config", str(path), "--no-baseline"]


def one(workload: str, workers: int, trials: int) -> float:
    """Trials per minute of one sweep on a fresh local.sh cluster of ``workers`` nodes."""
    from cluster_multinode_eval import free_port_block
    from local_cluster import LocalCluster

    base = free_port_block()
    assert base is not None, "no free block of 400 ports in 20000-31999"
    cluster = LocalCluster.create(base, PYTHON.parent / "ray", workers=workers)
    try:
        up = cluster.sh("up")
        if up.returncode != 0:
            raise RuntimeError(up.stdout + up.stderr)
        runs = cluster.state / "runs"
        driver_env = dict(cluster.env, RAY_AUTH_MODE="token", RAY_ADDRESS=cluster.address)
        cmd = [str(PYTHON), "-m", "rlsys", "tune", *sweep_args(workload, trials, cluster.state)]
        out = subprocess.run(
            [*cmd, "--runs-dir", str(runs)], env=driver_env, cwd=ROOT,
            capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(out.stdout[-3000:] + out.stderr[-3000:])
        (sweep,) = (runs / "tune" / workload).iterdir()
        summary = json.loads((sweep / "summary.json").read_text())
        assert summary["trials"] == trials and summary["failed"] == 0, summary
        assert summary["nodes"] == workers, summary
        return 60.0 * trials / summary["wall_s"]
    finally:
        cluster.sh("down")
        shutil.rmtree(cluster.state, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tuner")
    args = p.parse_args()
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for workload in ("calibration", "jobshop"):
            for workers in (1, 2):
                rate = one(workload, workers, args.trials)
                rates.setdefault((workload, workers), []).append(rate)
                print(workload, workers, f"{rate:.1f} trials/min", flush=True)
    lines = [
        "# Sweep throughput with 1 and 2 worker nodes of cluster/local.sh",
        "",
        f"`python bench/tuner_nodes.py --trials {args.trials} --repeats {args.repeats}`: "
        "`cluster/local.sh` clusters (token auth, head 0 CPUs, 1-CPU worker nodes) on this "
        "2-core machine, `rlsys tune` as a driver joining them; trials per minute of the "
        "sweep's own wall time, medians over repeats.",
        "",
        "| sweep | 1 node, trials/min | 2 nodes, trials/min | 2 / 1 |",
        "|---|---:|---:|---:|",
    ]
    names = {"calibration": "calibration on `large` (200k agents), random, 6 iterations/trial",
             "jobshop": "job shop, ASHA, up to 4 PPO updates/trial (1 CPU/trial)"}  # fmt: skip
    for workload, name in names.items():
        r1 = statistics.median(rates[(workload, 1)])
        r2 = statistics.median(rates[(workload, 2)])
        lines.append(f"| {name} | {r1:.1f} | {r2:.1f} | {r2 / r1:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nodes.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
