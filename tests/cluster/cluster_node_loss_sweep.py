"""A calibration sweep of the central tuner on an in-process multi-node Ray cluster, with
a worker node removed while one of its trials runs.

Executed as a script by test_cluster_multinode.py (its own process: the test session may
hold its own Ray). Head with 0 CPUs, two 1-CPU worker nodes; `rlsys.tuner.sweep.run_sweep`
runs in a thread with 2 trials at a time (so each worker node hosts one); once the first
evaluation has finished, the worker node the driver is not attached to is removed
(`Cluster.remove_node`) while its trial runs. Prints one JSON line: the journal's records,
the retries, the summary and the nodes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path


def main() -> int:
    from cluster_multinode_eval import free_port  # this script's folder is on sys.path
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "dashboard_agent_listen_port": free_port(),
        },
    )
    try:
        workers = [cluster.add_node(num_cpus=1), cluster.add_node(num_cpus=1)]
        cluster.wait_for_nodes()
        os.environ["RAY_ADDRESS"] = cluster.address
        from rlsys.runtime import init_ray
        from rlsys.tuner.experiment import Journal
        from rlsys.tuner.sweep import SweepConfig, run_sweep

        ray = init_ray()
        # all nodes share one IP here: the driver attaches to one of their raylets, and
        # Cluster refuses to remove that one
        mine = ray.get_runtime_context().get_node_id()
        node_b = next(n for n in workers if n.node_id != mine)
        run_dir = Path(tempfile.mkdtemp(prefix="node-loss-"))
        cfg = SweepConfig(
            workload="calibration",
            search="random",
            samples=8,
            budget=18,
            max_concurrent=2,
            baseline=False,
            max_failures=3,
            base={},
        )
        from rlsys.tuner.workloads import get_workload

        base = get_workload("calibration").load_config(None)
        base.scenario = "small"
        cfg.base = json.loads(json.dumps(__import__("dataclasses").asdict(base)))
        out: dict = {}

        def sweep() -> None:
            out["summary"] = run_sweep(cfg, run_dir)

        thread = threading.Thread(target=sweep)
        thread.start()
        journal = Journal(run_dir / "tune" / "journal.jsonl")
        deadline = time.monotonic() + 180
        removed = False
        while thread.is_alive() and time.monotonic() < deadline:
            if journal.evaluations():
                cluster.remove_node(node_b)
                removed = True
                break
            time.sleep(0.05)
        thread.join(timeout=600)
        records = journal.read()

        print(
            json.dumps(
                {
                    "removed": removed,
                    "finished_thread": not thread.is_alive(),
                    "evaluations": [r for r in records if r["kind"] == "evaluation"],
                    "retries": [r for r in records if r["kind"] == "retry"],
                    "summary": out.get("summary"),
                    "alive": len([n for n in ray.nodes() if n["Alive"]]),
                    "node_b": node_b.node_id,
                }
            )
        )
        ray.shutdown()
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
