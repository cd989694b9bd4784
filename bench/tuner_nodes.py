"""Sweep throughput of the central tuner with 1 and 2 worker nodes.

    python bench/tuner_nodes.py [--trials 16] [--repeats 2]

Each setting is a fresh in-process multi-node Ray cluster (``ray.cluster_utils.Cluster``:
a head with 0 CPUs and 1 or 2 worker nodes, separate raylets like
``cluster/local.sh``'s nodes), running (a) a calibration random-search sweep (``small``
scenario, 18 iterations per trial; 1-CPU nodes) and (b) a job-shop ASHA sweep (tiny
instances, up to 4 PPO updates per trial; 2-CPU nodes, as a trial holds its learner's CPU
and its rollout worker's) through
``rlsys.tuner.sweep.run_sweep``, as ``rlsys tune`` runs them. Printed: trials per minute
(median over repeats) and the 2-node / 1-node ratio. On this 2-core machine the driver,
the GCS and both nodes share the cores (the job-shop nodes oversubscribe them 2x), so
the ratio is a floor for real nodes.
Writes bench/results/tuner/nodes.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def one(workload: str, nodes: int, trials: int) -> float:
    """Trials per minute of one sweep on a fresh cluster of ``nodes`` 1-CPU workers."""
    from ray.cluster_utils import Cluster

    sys.path.insert(0, str(ROOT / "tests" / "cluster"))
    from cluster_multinode_eval import free_port
    from tiny_configs import TINY_CALIBRATION, TINY_JOBSHOP

    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False,
                        "dashboard_agent_listen_port": free_port()},
    )  # fmt: skip
    try:
        # a job-shop trial holds 2 CPUs (its learner and its rollout worker)
        for _ in range(nodes):
            cluster.add_node(num_cpus=1 if workload == "calibration" else 2)
        cluster.wait_for_nodes()
        os.environ["RAY_ADDRESS"] = cluster.address
        from rlsys.runtime import init_ray
        from rlsys.tuner.sweep import SweepConfig, run_sweep
        from rlsys.tuner.workloads import get_workload

        init_ray()
        if workload == "calibration":
            w = get_workload("calibration")
            base = w.load_config(None)
            for k, v in TINY_CALIBRATION.items():
                setattr(base, k, v)
            base = json.loads(json.dumps(dataclasses.asdict(base)))
            cfg = SweepConfig(workload="calibration", search="random", samples=trials,
                              budget=18, baseline=False, base=base)  # fmt: skip
        else:
            js = json.loads(json.dumps(TINY_JOBSHOP))
            js["train"]["rollout"]["worker_num_cpus"] = 1.0
            cfg = SweepConfig(workload="jobshop", search="asha", samples=trials, budget=4,
                              baseline=False, base=_full_jobshop(js))  # fmt: skip
        run_dir = Path(tempfile.mkdtemp(prefix="bench-nodes-"))
        t0 = time.perf_counter()
        summary = run_sweep(cfg, run_dir)
        wall = time.perf_counter() - t0
        assert summary["trials"] == trials and summary["failed"] == 0
        import ray

        ray.shutdown()
        return 60.0 * trials / wall
    finally:
        cluster.shutdown()
        os.environ.pop("RAY_ADDRESS", None)


def _full_jobshop(data: dict) -> dict:
    from rlsys.config import from_dict
    from rlsys.jobshop.train import JobshopTrainConfig

    return json.loads(json.dumps(dataclasses.asdict(from_dict(JobshopTrainConfig, data))))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--one", nargs=3, metavar=("WORKLOAD", "NODES", "TRIALS"), help=argparse.SUPPRESS
    )
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tuner")
    args = p.parse_args()
    if args.one:  # one measurement in its own process (one Ray cluster per process)
        print(json.dumps(one(args.one[0], int(args.one[1]), int(args.one[2]))))
        return 0
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    rates: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.repeats):
        for workload in ("calibration", "jobshop"):
            for nodes in (1, 2):
                out = subprocess.run(
                    [sys.executable, __file__, "--one", workload, str(nodes), str(args.trials)],
                    capture_output=True, text=True, env=env, timeout=1800,
                )  # fmt: skip
                if out.returncode != 0:
                    print(out.stderr[-3000:])
                    return 1
                rate = json.loads(out.stdout.strip().splitlines()[-1])
                rates.setdefault((workload, nodes), []).append(rate)
                print(workload, nodes, f"{rate:.1f} trials/min", flush=True)
    lines = [
        "# Sweep throughput with 1 and 2 worker nodes",
        "",
        f"`python bench/tuner_nodes.py --trials {args.trials} --repeats {args.repeats}`: "
        "in-process multi-node clusters (head 0 CPUs; 1-CPU worker nodes for the calibration, "
        "2-CPU ones for the job shop) on this 2-core "
        "machine; medians over repeats.",
        "",
        "| sweep | 1 node, trials/min | 2 nodes, trials/min | 2 / 1 |",
        "|---|---:|---:|---:|",
    ]
    names = {"calibration": "calibration, random, 18 iterations/trial",
             "jobshop": "job shop, ASHA, up to 4 PPO updates/trial"}  # fmt: skip
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
