"""SIGKILL the driver of `rlsys calibrate`, `rlsys jobshop train` and `rlsys run` mid-run,
then `--resume`: it finishes, redoes no finished work, and where the computation is
deterministic the results equal an uninterrupted run's.

Each command runs as a real CLI subprocess (`python -m rlsys ...`) in its own process
group with its own embedded local Ray; the kill takes the whole group (the driver and
the Ray processes it started: GCS, raylet, workers), and every process of that Ray
session that is still alive afterwards is killed too, so later tests (and the resumed
run, which starts its own Ray) see a clean machine. The uninterrupted reference runs in
this process on the shared 2-CPU Ray instance.

What is deterministic on resume:
- `jobshop train` in sync mode: bit for bit (the same final weights and per-update
  metrics); updates after the last checkpoint are redone (here: checkpoints every update).
- `calibrate --method fixed-point` (and hybrid): every step's ASCs and L1 equal the
  uninterrupted run's; the step that was running at the kill is redone.
- `calibrate --method bohb|random` and the suite's BOHB calibration: no finished
  evaluation is redone or lost, and the run ends with the requested number of them,
  but the resumed session proposes new configurations (its own seed, its model
  warm-started from every finished result), so the sequence differs from an
  uninterrupted run's; with parallel workers an uninterrupted run is not reproducible
  either (the completion order decides what the model has seen).
- `rlsys run`: the job-shop and transport parts are seeded and compared exactly.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
import torch
import yaml

from rlsys.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.fault]

REPO = Path(__file__).resolve().parents[2]
SESSION = re.compile(r"session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_\d+")

# mode shares of BEAM's Urbansim-10k (percent), a valid target for the `small` scenario
TARGETS = {
    "car": 64.86,
    "walk": 6.94,
    "drive_transit": 5.98,
    "walk_transit": 5.98,
    "ride_hail_transit": 5.98,
    "ride_hail": 5.23,
    "ride_hail_pooled": 5.03,
    "bike": 0.0,
}


class Driver:
    """`python -m rlsys ARGS` in its own process group; remembers its Ray session."""

    def __init__(self, args: list[str], cwd: Path, log: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 - closed in _reap
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlsys", *args],
            cwd=cwd,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.sessions: set[str] = set()

    def _note_ray(self) -> list[psutil.Process]:
        """The driver's process tree now; Ray session names from its command lines."""
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for p in tree:
            try:
                self.sessions.update(SESSION.findall(" ".join(p.cmdline())))
            except psutil.Error:
                pass
        return tree

    def wait_for(self, done: Callable[[], bool], timeout: float = 120.0) -> None:
        """Poll ``done`` until it holds; fail if the driver exits first or it times out."""
        deadline = time.monotonic() + timeout
        while not done():
            self._note_ray()
            if self.proc.poll() is not None:
                self._reap()
                pytest.fail(f"driver exited ({self.proc.returncode}) too early:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"no progress in {timeout} s:\n{self.tail()}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL the driver's process group, then any survivor of its Ray session."""
        tree = self._note_ray()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for p in tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        self.proc.wait(timeout=30)
        self._reap()
        assert self.proc.returncode == -signal.SIGKILL

    def finish(self, timeout: float = 300.0) -> int:
        """Wait for a normal exit; return the exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            self._note_ray()
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"did not finish in {timeout} s:\n{self.tail()}")
            time.sleep(0.2)
        self._reap()
        return self.proc.returncode

    def _reap(self) -> None:
        """Kill every process still running in one of this driver's Ray sessions."""
        self._out.close()
        if not self.sessions:
            return
        left = []
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info["cmdline"] or [])
            if p.pid != os.getpid() and any(s in cmd for s in self.sessions):
                left.append(p)
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        _, alive = psutil.wait_procs(left, timeout=15)
        assert not alive, f"Ray processes survived: {alive}"

    def tail(self) -> str:
        return "".join(self.log.read_text().splitlines(keepends=True)[-30:])


def journal(path: Path) -> list[dict]:
    """Every complete line, duplicates included (a line torn by the kill is skipped, as
    rlsys's own reader does)."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def csv_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def count_lines(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text().splitlines() if line.endswith("}"))
    except FileNotFoundError:
        return 0


# --- rlsys calibrate -----------------------------------------------------------------------


def test_killed_calibrate_resumes_exactly(ray_local, tmp_path):
    """fixed-point, 12 steps: kill after 3 finished steps, resume, compare every step."""
    targets = tmp_path / "targets.yaml"
    targets.write_text(yaml.safe_dump(TARGETS))
    config = tmp_path / "patience.yaml"
    config.write_text("patience: 1000\ncheck_seeds: 1\n")  # the loop runs all its steps
    n = 12

    def args(out: Path) -> list[str]:
        return [
            "calibrate",
            *("--targets", str(targets), "--scenario", "small", "--method", "fixed-point"),
            *("--evaluations", str(n), "--seed", "1", "--config", str(config)),
            *("--out", str(out), "--quiet"),
        ]

    assert main(args(tmp_path / "reference")) == 0
    reference = csv_rows(tmp_path / "reference" / "evaluations.csv")
    assert len(reference) == n

    run = tmp_path / "killed"
    log = run / "tune" / "journal.jsonl"
    driver = Driver(args(run), tmp_path, tmp_path / "calibrate-1.log")
    driver.wait_for(lambda: count_lines(log) >= 3)
    driver.kill()
    before = journal(log)
    assert 3 <= len(before) < n, "the kill did not land mid-run"
    assert not (run / "summary.json").exists()

    resumed = Driver(["calibrate", "--resume", str(run), "--quiet"], tmp_path, tmp_path / "c2.log")
    assert resumed.finish() == 0, resumed.tail()
    after = journal(log)
    assert after[: len(before)] == before  # the finished steps stay as they were
    steps = [int(r["key"].split("-")[1]) for r in after if r["kind"] == "evaluation"]
    assert steps == list(range(1, n + 1))  # each step once: none redone, none lost
    assert {r["session"] for r in after[len(before) :]} == {2}
    rows = csv_rows(run / "evaluations.csv")
    same = ["l1", "objective", "budget", *(k for k in rows[0] if k.startswith("asc_"))]
    assert [{k: r[k] for k in same} for r in rows] == [{k: r[k] for k in same} for r in reference]
    best = json.loads((run / "summary.json").read_text())
    ref = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert best["best_l1"] == ref["best_l1"] and best["other_seeds_l1"] == ref["other_seeds_l1"]


# --- rlsys jobshop train -----------------------------------------------------------------

TRAIN_CONFIG = {
    "instances": {"jobs": [6, 6], "machines": [4, 4], "shutdown_probs": [0.0, 0.05]},
    "validation": {"sizes": [[6, 4]], "instances_per_size": 2, "shutdown_probs": [0.0], "seeds": 1},
    "policy": {"hidden": 16, "layers": 2},
    "train": {
        "seed": 0,
        "total_updates": 12,
        "checkpoint_every": 1,
        "eval_every": 4,
        "ppo": {"gamma": 1.0, "learning_rate": 0.001, "update_epochs": 2, "minibatch_size": 64},
        "rollout": {
            "num_workers": 2,
            "envs_per_worker": 2,
            "episodes_per_request": 4,
            "mode": "sync",
        },
    },
}

TIMING = re.compile(r"^time/|SPS")  # wall-clock fields (episode/time is simulated time)


def metrics(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock fields."""
    rows = journal(run_dir / "metrics.jsonl")
    return [{k: v for k, v in r.items() if not TIMING.search(k)} for r in rows]


def the_run(runs: Path) -> Path:
    found = list((runs / "jobshop").glob("*")) if (runs / "jobshop").exists() else []
    return found[0] if len(found) == 1 else Path("/nonexistent")


def test_killed_jobshop_train_resumes_bit_for_bit(ray_local, tmp_path):
    """12 sync PPO updates, a checkpoint after each: kill after update 4, resume."""
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TRAIN_CONFIG))
    total = TRAIN_CONFIG["train"]["total_updates"]

    def args(runs: Path) -> list[str]:
        return ["jobshop", "train", "--config", str(config), "--runs-dir", str(runs)]

    assert main(args(tmp_path / "reference")) == 0
    reference = the_run(tmp_path / "reference")

    runs = tmp_path / "killed"
    driver = Driver(args(runs), tmp_path, tmp_path / "train-1.log")
    driver.wait_for(lambda: (the_run(runs) / "checkpoints" / "ckpt_4.pt").exists())
    driver.kill()
    run = the_run(runs)
    assert not (run / "final.pt").exists(), "the kill did not land mid-run"
    # finished: the checkpoints written before the last latest.pt (a kill between a
    # ckpt_<n>.pt and its latest.pt leaves update n unfinished: it is redone)
    latest = (run / "checkpoints" / "latest.pt").stat().st_mtime_ns
    saved = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").glob("ckpt_*.pt")}
    saved = {name: stamp for name, stamp in saved.items() if stamp <= latest}
    assert 3 <= len(saved) < total

    resumed = Driver(["jobshop", "train", "--resume", str(run)], tmp_path, tmp_path / "t2.log")
    assert resumed.finish() == 0, resumed.tail()
    # the checkpointed updates were not redone: their files were not written again
    for name, stamp in saved.items():
        assert (run / "checkpoints" / name).stat().st_mtime_ns == stamp, name
    rows = metrics(run)
    assert [r["update"] for r in rows] == list(range(1, total + 1))  # no duplicates
    assert rows == metrics(reference)
    ours = torch.load(run / "final.pt", weights_only=True)["model"]
    theirs = torch.load(reference / "final.pt", weights_only=True)["model"]
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


# --- rlsys run -----------------------------------------------------------------------------

SUITE = {
    "jobshop_rules": {
        "instances": ["ft06", "la01"],
        "policies": ["SPT", "MWKR"],
        "shutdown_probs": [0.0, 0.05],
        "seeds": "0-1",
    },
    "transport": {"scenario": "small", "iterations": 3, "seeds": "1-2"},
    "calibration": {"scenario": "small", "methods": ["bohb"], "evaluations": 40},
}


def test_killed_run_resumes_without_redoing_finished_parts(ray_local, tmp_path):
    """Kill `rlsys run` during its BOHB calibration, after the job-shop and transport
    parts finished; the resumed run keeps those files and the finished evaluations."""
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(SUITE))
    evaluations = SUITE["calibration"]["evaluations"]
    runs = tmp_path / "killed"

    def the_dir() -> Path:
        found = list((runs / "run").glob("*")) if (runs / "run").exists() else []
        return found[0] if len(found) == 1 else Path("/nonexistent")

    def cal_journal() -> Path:
        return the_dir() / "calibration" / "bohb" / "tune" / "journal.jsonl"

    args = ["run", "--suite", str(suite), "--runs-dir", str(runs)]
    driver = Driver(args, tmp_path, tmp_path / "run-1.log")
    driver.wait_for(lambda: count_lines(cal_journal()) >= 5, timeout=180)
    driver.kill()
    run = the_dir()
    before = journal(cal_journal())
    assert 5 <= len(before) < evaluations, "the kill did not land mid-calibration"
    assert not (run / "report.md").exists()
    parts = sorted((run / "jobshop_parts").glob("*.json")) + sorted(
        (run / "transport").glob("seed*.json")
    )
    assert len(parts) == 4 + 2
    stamps = {p: p.stat().st_mtime_ns for p in parts}

    resumed = Driver(["run", "--resume", str(run)], tmp_path, tmp_path / "run-2.log")
    assert resumed.finish() == 0, resumed.tail()
    assert (run / "report.md").exists()
    assert {p: p.stat().st_mtime_ns for p in parts} == stamps  # finished parts not redone
    after = [r for r in journal(cal_journal()) if r["kind"] == "evaluation"]
    assert after[: len(before)] == [r for r in before if r["kind"] == "evaluation"]
    assert len(after) == evaluations
    assert len({(r["trial_id"], r["key"]) for r in after}) == evaluations  # no duplicates
    assert {r["session"] for r in after[len(before) :]} == {2}
    assert len(csv_rows(run / "calibration" / "bohb" / "evaluations.csv")) == evaluations

    # the seeded parts equal an uninterrupted run's (this process, shared Ray)
    ref_suite = tmp_path / "reference.yaml"
    ref_suite.write_text(yaml.safe_dump({**SUITE, "calibration": None}))
    ref_runs = tmp_path / "reference"
    assert main(["run", "--suite", str(ref_suite), "--runs-dir", str(ref_runs)]) == 0
    ref = next((ref_runs / "run").iterdir())
    keep = ("instance", "policy", "shutdown_prob", "seed", "makespan", "decisions", "valid")
    assert [{k: r[k] for k in keep} for r in csv_rows(run / "jobshop_rules.csv")] == [
        {k: r[k] for k in keep} for r in csv_rows(ref / "jobshop_rules.csv")
    ]
    for seed in (1, 2):
        name = f"transport/seed{seed}.json"
        assert json.loads((run / name).read_text()) == json.loads((ref / name).read_text())


# --- rlsys tune ------------------------------------------------------------------------

GRID_SPACE = {
    "walk": {"type": "choice", "values": [-2.0, 0.0, 2.0]},
    "ride_hail": {"type": "choice", "values": [-1.0, 1.0]},
    "bike": {"type": "fixed", "value": -3.0},
}


def test_killed_tune_resumes_without_rerunning_finished_trials(ray_local, tmp_path):
    """A grid sweep of the calibration (6 points + the baseline): kill the driver after 2
    finished trials, resume: every point ran once, none twice, and the best result is the
    uninterrupted sweep's (a grid is deterministic, and so is each simulation)."""
    config = tmp_path / "calibration.yaml"
    config.write_text(
        yaml.safe_dump({"scenario": "small", "targets": TARGETS, "check_seeds": 0, "seed": 1})
    )
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(GRID_SPACE))

    def args(runs: Path) -> list[str]:
        return [
            "tune", "calibration", "--search", "grid", "--space", str(space),
            "--config", str(config), "--budget", "6", "--max-concurrent", "1",
            "--runs-dir", str(runs),
        ]  # fmt: skip

    def sweep_dir(runs: Path) -> Path:
        dirs = list((runs / "tune" / "calibration").glob("*"))
        return dirs[0] if dirs else runs / "missing"

    assert main(args(tmp_path / "reference")) == 0
    ref = json.loads((sweep_dir(tmp_path / "reference") / "summary.json").read_text())
    assert ref["trials"] == 6 and ref["failed"] == 0

    runs = tmp_path / "killed"
    log = lambda: sweep_dir(runs) / "tune" / "journal.jsonl"  # noqa: E731
    driver = Driver(args(runs), tmp_path, tmp_path / "tune-1.log")
    driver.wait_for(lambda: count_lines(log()) >= 2, timeout=240)
    driver.kill()
    before = [r for r in journal(log()) if r["kind"] == "evaluation"]
    assert 2 <= len(before) < 6, "the kill did not land mid-sweep"
    assert not (sweep_dir(runs) / "summary.json").exists()

    resumed = Driver(["tune", "--resume", str(sweep_dir(runs))], tmp_path, tmp_path / "t2.log")
    assert resumed.finish() == 0, resumed.tail()
    after = [r for r in journal(log()) if r["kind"] == "evaluation"]
    assert after[: len(before)] == before  # finished trials stay as they were
    jobs = [r["job"] for r in after]
    assert sorted(jobs) == [f"grid-{i}" for i in range(6)]  # each point once
    assert {r["session"] for r in after[len(before) :]} == {2}
    summary = json.loads((sweep_dir(runs) / "summary.json").read_text())
    assert summary["best"] == ref["best"] and summary["best_config"] == ref["best_config"]
    assert summary["baseline"] == ref["baseline"]
    asc = yaml.safe_load((sweep_dir(runs) / "best_asc.yaml").read_text())
    assert asc["bike"] == -3.0 and asc["car"] == 0.0
