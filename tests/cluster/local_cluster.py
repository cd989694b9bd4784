"""A `cluster/local.sh` cluster driven from Python (tests and benches): up, submit, down.

``LocalCluster.create(port_base, ray)`` picks a short temporary state dir (Ray's unix
sockets live under it) and the environment ``local.sh`` reads; ``sh("up")`` starts it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_SH = REPO / "cluster" / "local.sh"


@dataclasses.dataclass
class LocalCluster:
    state: Path
    env: dict
    dashboard: str
    ray: Path
    address: str = ""

    @classmethod
    def create(
        cls, port_base: int, ray: Path, workers: int = 2, cpus_per_worker: int = 1, **env: str
    ) -> LocalCluster:
        state = Path(tempfile.mkdtemp(prefix="rlc-", dir="/tmp"))
        full = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        full.update(
            RLSYS_CLUSTER_DIR=str(state), RLSYS_CLUSTER_PORT_BASE=str(port_base),
            DASHBOARD_PORT=str(port_base + 2), WORKERS=str(workers),
            CPUS_PER_WORKER=str(cpus_per_worker), RAY=str(ray), **env,
        )  # fmt: skip
        dashboard = f"http://127.0.0.1:{port_base + 2}"
        return cls(state, full, dashboard, ray, address=f"127.0.0.1:{port_base}")

    def sh(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(LOCAL_SH), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def submit(self, *entrypoint: str, timeout: float = 240) -> str:
        """`ray job submit` from the repo (uploaded minus runtime_env.yaml's excludes)."""
        cmd = [
            str(self.ray), "job", "submit", "--address", self.dashboard,
            "--runtime-env", str(REPO / "cluster" / "runtime_env.yaml"),
            "--working-dir", str(REPO), "--", *entrypoint,
        ]  # fmt: skip
        env = dict(self.env, RAY_AUTH_MODE="token")
        result = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
        )
        out = result.stdout + result.stderr
        assert result.returncode == 0 and "succeeded" in out, out[-4000:]
        return out

    def processes(self) -> set[int]:
        """Live pids of the cluster: its `ray start` sessions and anything naming its dir."""
        sids = {int(p.read_text()) for p in (self.state / "pids").glob("*.sid")}
        found = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            state, _ppid, _pgrp, sid = stat.rsplit(")", 1)[1].split()[:4]
            if state != "Z" and (int(sid) in sids or str(self.state) in cmdline):
                found.add(int(proc.name))
        return found
