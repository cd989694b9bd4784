"""Entrypoint of a probe job submitted by test_local_cluster.py (`python tests/cluster/...`).

Joins the job's cluster through rlsys's init path and prints one line, PROBE {json}: the
interpreter and rlsys copy the entrypoint runs, the alive nodes, and the node that ran a
task pinned to each worker node by its custom resource.
"""

from __future__ import annotations

import json
import os
import shutil
import sys


def where() -> dict:
    import ray

    import rlsys

    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "python": sys.executable,
        "rlsys": rlsys.__file__,
    }


def main() -> None:
    import rlsys
    from rlsys.runtime import init_ray

    ray = init_ray()  # RAY_ADDRESS, set by `ray job submit`
    task = ray.remote(num_cpus=1)(where)
    pinned = {
        res: ray.get(task.options(resources={res: 0.01}).remote(), timeout=120)
        for res in ("node_a", "node_b")
    }
    nodes = {
        n["NodeID"]: sorted(k for k in n["Resources"] if k.startswith("node_"))
        for n in ray.nodes()
        if n["Alive"]
    }
    print(
        "PROBE "
        + json.dumps(
            {
                "python": sys.executable,
                "which_python": shutil.which("python"),
                "rlsys": rlsys.__file__,
                "cwd": os.getcwd(),
                "ray_address": os.environ.get("RAY_ADDRESS"),
                "cpus": ray.cluster_resources().get("CPU", 0),
                "nodes": nodes,
                "pinned": pinned,
            }
        )
    )


if __name__ == "__main__":
    main()
