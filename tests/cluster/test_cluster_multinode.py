"""rlsys's job-shop evaluation tasks spread over the worker nodes of a multi-node cluster.

`ray.cluster_utils.Cluster` (head with 0 CPUs, two 1-CPU nodes with custom resources) runs
in a subprocess: this test session may already hold its own Ray (the `ray_local` fixture),
and one process cannot be the driver of two Ray clusters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

SCRIPT = Path(__file__).with_name("cluster_multinode_eval.py")


def test_evaluate_runs_tasks_on_both_worker_nodes():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=240, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["alive"] == 3 and out["cpus"] == 2
    rows = out["rows"]
    # 2 instances x 4 seeds tasks, each 2 policies x 2 shutdown probabilities
    assert len(rows) == 2 * 4 * 2 * 2
    assert all(r["valid"] == "yes" for r in rows)
    used = {r["node_id"] for r in rows}
    # every task ran on a worker node (the head has no CPU), and both were used
    assert used == {out["nodes"]["node_a"], out["nodes"]["node_b"]}
    # rows of one task share a node: the 8 tasks split between the nodes
    per_task = {(r["instance"], r["seed"]): r["node_id"] for r in rows}
    assert len(per_task) == 8 and set(per_task.values()) == used


NODE_LOSS = Path(__file__).with_name("cluster_node_loss_sweep.py")


@pytest.mark.fault
def test_a_sweep_survives_the_loss_of_a_worker_node():
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, str(NODE_LOSS)], capture_output=True, text=True, timeout=900, env=env
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["removed"], "node_b never hosted a trial"
    assert out["finished_thread"] and out["alive"] == 2  # the head and node_a
    evaluations = out["evaluations"]
    # every trial accounted for: finished, or failed with its reason; none twice
    assert len(evaluations) == 8 == out["summary"]["trials"]
    assert len({r["trial_id"] for r in evaluations}) == 8
    for r in evaluations:
        assert r.get("objective") is not None or r.get("reason")
    # the trial that ran on the lost node was retried (on node_a) and its retry recorded
    assert out["retries"], "no retry was recorded"
    assert out["summary"]["finished"] + out["summary"]["stopped_early"] >= 7
