"""Run rlsys's job-shop evaluation on an in-process multi-node Ray cluster.

Executed as a script by test_cluster_multinode.py (in its own process, so it never meets
the test session's Ray): a head with 0 CPUs and two 1-CPU nodes with the custom resources
node_a / node_b, joined through rlsys's one init path (RAY_ADDRESS). Prints one JSON line:
the nodes, which node ran each evaluate_one task, and the result rows.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def free_port_block(size: int = 400) -> int | None:
    """First port of ``size`` free ports in 20000-31999 (what ``cluster/local.sh`` uses
    from RLSYS_CLUSTER_PORT_BASE on: below the kernel's ephemeral range and above Ray's
    default worker ports), or None."""
    import random

    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 32000 - size)
        if all(port_free(p) for p in range(base, base + size)):
            return base
    return None


def main() -> int:
    from ray.cluster_utils import Cluster

    import rlsys.jobshop.evaluate as ev

    # The head would take the default dashboard-agent port (52365): another Ray on this
    # machine may hold it.
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "include_dashboard": False,
            "dashboard_agent_listen_port": free_port(),
        },
    )
    try:
        nodes = {
            "node_a": cluster.add_node(num_cpus=1, resources={"node_a": 1}).node_id,
            "node_b": cluster.add_node(num_cpus=1, resources={"node_b": 1}).node_id,
        }
        cluster.wait_for_nodes()
        os.environ["RAY_ADDRESS"] = cluster.address  # rlsys.runtime.init_ray joins it

        original = ev.evaluate_one

        def evaluate_one_where(*args, **kwargs):
            """evaluate_one, plus the id of the node that ran it (the task body)."""
            import time

            import ray

            rows, schedules = original(*args, **kwargs)
            # The real work takes milliseconds: long enough tasks that the first node's
            # warm worker cannot finish them all before the second node's worker starts.
            time.sleep(0.5)
            node = ray.get_runtime_context().get_node_id()
            return [dict(r, node_id=node) for r in rows], schedules

        ev.evaluate_one = evaluate_one_where  # evaluate() wraps this global as its task
        rows = ev.evaluate(
            ["ft06", "la01"], ["SPT", "MWKR"], [0.0, 0.05], [0, 1, 2, 3], progress=False
        )
        import ray

        alive = [n for n in ray.nodes() if n["Alive"]]
        print(
            json.dumps(
                {
                    "nodes": nodes,
                    "alive": len(alive),
                    "cpus": ray.cluster_resources().get("CPU", 0),
                    "rows": rows,
                }
            )
        )
        ray.shutdown()
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
