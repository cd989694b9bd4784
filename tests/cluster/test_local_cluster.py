"""cluster/local.sh: a real 3-node Ray cluster on this machine (three `ray start` nodes with
their own ports, token authentication on), jobs submitted to it with `ray job submit`, and
`down` leaving no process behind.

The cluster gets a temporary state dir and a random free block of ports (20000-31999:
below the kernel's ephemeral range and above Ray's default worker ports), so it meets
neither another Ray on this machine nor the test session's own (`ray_local`).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_multinode_eval import free_port_block
from local_cluster import LOCAL_SH, REPO, LocalCluster

pytestmark = pytest.mark.cluster

VENV_BIN = Path(sys.executable).parent
RAY = VENV_BIN / "ray"
PORTS = 400  # the block local.sh uses from RLSYS_CLUSTER_PORT_BASE on

TINY_SUITE = """
jobshop_rules:
  instances: [ft06, la01]
  policies: [SPT, MWKR]
  shutdown_probs: [0.0, 0.05]
  seeds: "0-1"
transport:
  scenario: small
  iterations: 2
  seeds: "1"
"""


def _free_port_block() -> int:
    base = free_port_block(PORTS)
    if base is None:
        pytest.skip("no free block of 400 ports in 20000-31999")
    return base


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (dead, only not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def local_cluster():
    cluster = LocalCluster.create(_free_port_block(), RAY, UP_TIMEOUT="90")
    state = cluster.state
    try:
        up = cluster.sh("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "3 nodes alive, 2 CPUs" in up.stdout and "ray job submit" in up.stdout
        yield cluster
    finally:
        cluster.sh("down", timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def test_up_is_idempotent_and_status_shows_the_nodes(local_cluster):
    again = local_cluster.sh("up")
    assert again.returncode == 0 and "already up" in again.stdout
    # `ray status` lists resources only once the autoscaler has reported them: poll a bit
    for _ in range(10):
        status = local_cluster.sh("status")
        assert status.returncode == 0, status.stderr
        assert "3 of 3 nodes' raylets alive" in status.stdout
        if "CPU" in status.stdout:
            break
        time.sleep(2)
    assert "CPU" in status.stdout, status.stdout


def test_token_authentication_is_on(local_cluster):
    env = dict(local_cluster.env, RAY_AUTH_MODE="disabled")
    result = subprocess.run(
        [str(RAY), "job", "list", "--address", local_cluster.dashboard],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "auth" in (result.stdout + result.stderr).lower()


def test_job_runs_the_venv_python_on_all_three_nodes(local_cluster):
    out = local_cluster.submit("python", "tests/cluster/cluster_probe_job.py")
    probe = json.loads(next(line for line in out.splitlines() if line.startswith("PROBE "))[6:])
    # `python` in the entrypoint is the interpreter that started the nodes (local.sh puts
    # its bin dir first on the nodes' PATH), and rlsys comes from the uploaded working dir
    assert probe["which_python"] == str(VENV_BIN / "python")
    assert Path(probe["python"]).parent == VENV_BIN
    assert "working_dir_files" in probe["rlsys"] and str(REPO) not in probe["rlsys"]
    assert probe["cpus"] == 2
    nodes = probe["nodes"]
    assert sorted(nodes.values()) == [["node_a"], ["node_b"], ["node_head"]]
    for res in ("node_a", "node_b"):
        where = probe["pinned"][res]
        assert nodes[where["node_id"]] == [res]
        assert Path(where["python"]).parent == VENV_BIN and "working_dir_files" in where["rlsys"]


def test_submit_jobshop_eval(local_cluster, tmp_path):
    out_csv = tmp_path / "eval.csv"
    local_cluster.submit(
        "python", "-m", "rlsys", "jobshop", "eval", "--instances", "ft06,la01",
        "--policies", "SPT,MWKR", "--shutdown-probs", "0,0.05", "--seeds", "0-1",
        "--out", str(out_csv), "--address", "auto",
    )  # fmt: skip
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 2 * 2 * 2 * 2 and all(r["valid"] == "yes" for r in rows)


def test_submit_run_sees_three_nodes(local_cluster, tmp_path):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(TINY_SUITE)
    out = local_cluster.submit(
        "python", "-m", "rlsys", "run", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs")
    )
    assert "Ray: 2 CPUs on 3 node(s)" in out
    (run_dir,) = (tmp_path / "runs" / "run").iterdir()
    report = (run_dir / "report.md").read_text()
    assert "## Job shop: dispatching rules" in report and "## Transport simulation" in report


def test_submit_jobshop_tune_runs_trials_on_both_worker_nodes(local_cluster, tmp_path):
    """The issue's acceptance command: `ray job submit ... rlsys tune jobshop --samples 4`.
    A trial holds 1 CPU (learner 0.5 + one 0.5-CPU rollout worker, one placement group),
    so two run at once, one per 1-CPU worker node."""
    import yaml
    from tiny_configs import TINY_JOBSHOP

    js = json.loads(json.dumps(TINY_JOBSHOP))
    js["train"]["learner_num_cpus"] = 0.5
    config = tmp_path / "jobshop.yaml"
    config.write_text(yaml.safe_dump(js))
    runs = tmp_path / "runs"
    out = local_cluster.submit(
        "python", "-m", "rlsys", "tune", "jobshop", "--search", "asha", "--samples", "4",
        "--budget", "3", "--config", str(config), "--runs-dir", str(runs), "--address", "auto",
    )  # fmt: skip
    assert "Ray: 2 CPUs on 3 node(s)" in out and "2 at a time" in out
    (sweep,) = (runs / "tune" / "jobshop").iterdir()
    rows = list(csv.DictReader((sweep / "trials.csv").open()))
    assert len(rows) == 4 + 1 and all(r["state"] != "failed" for r in rows)
    assert len({r["node_id"] for r in rows}) == 2  # the two worker nodes (the head has 0 CPUs)
    assert (sweep / "best.yaml").exists() and (sweep / "report.md").exists()


def test_one_worker_node(tmp_path):
    """WORKERS=1: a head and one worker node (what bench/tuner_nodes.py compares with 2)."""
    cluster = LocalCluster.create(
        _free_port_block(), RAY, workers=1, cpus_per_worker=2, UP_TIMEOUT="90"
    )
    state, env = cluster.state, cluster.env
    try:
        up = cluster.sh("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "2 nodes alive, 2 CPUs" in up.stdout and "1 worker(s) x 2 CPU" in up.stdout
        status = cluster.sh("status")
        assert "2 of 2 nodes' raylets alive" in status.stdout
        bad = subprocess.run(
            ["bash", str(LOCAL_SH), "up"], env={**env, "WORKERS": "3"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bad.returncode != 0 and "WORKERS must be 1 or 2" in bad.stderr
    finally:
        down = cluster.sh("down", timeout=120)
        shutil.rmtree(state, ignore_errors=True)
    assert down.returncode == 0 and "down" in down.stdout


def test_down_stops_everything_it_started(local_cluster):
    before = local_cluster.processes()
    assert len(before) >= 3 * 4  # per node at least raylet, agents, log monitor; + GCS, ...
    down = local_cluster.sh("down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    left = {pid for pid in before if _alive(pid)}
    assert not left and not local_cluster.processes()
    assert not (local_cluster.state / "ray" / "ray_current_cluster").exists()
    again = local_cluster.sh("down")
    assert again.returncode == 0 and "nothing running" in again.stdout
    assert local_cluster.sh("status").stdout.strip() == "down"
