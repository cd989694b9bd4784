"""`rlsys calibrate --simulator FILE`: the external-command adapter, its fault paths,
and our own simulation behind it (as a subprocess) calibrating like the built-in one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from envs.transport import MODES
from rlsys.calibration.simulator import SimulatorConfig, SimulatorError, run_once
from rlsys.cli import main
from rlsys.config import from_dict

FAULTY = Path(__file__).with_name("faulty_sim.py")
TRANSPORT = Path(__file__).resolve().parents[3] / "configs/calibration/simulators/transport.yaml"
ARGS = [
    "--asc", "{asc_file}", "--seed", "{seed}", "--iterations", "{iterations}",
    "--state", "{state_dir}", "--shares", "{shares_file}", "--times", "{times_file}",
]  # fmt: skip


def faulty(fault: str, counter: Path, **over) -> dict:
    cmd = ["{python}", str(FAULTY), fault, str(counter), *ARGS]
    return {"name": f"faulty-{fault}", "command": cmd, "continues": True, **over}


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("crash-first", "exit code 3: simulated crash: out of licences"),
        ("hang-first", "timed out after 5 s"),
        ("garbage-first", "share of 'walk' must be a number"),
        ("missing-first", "no share for ride_hail"),
        ("sum-first", "must sum to 100"),
    ],
)
def test_every_fault_is_retried_then_reported_with_its_reason(tmp_path, fault, reason):
    sim = from_dict(SimulatorConfig, faulty(fault, tmp_path / "n", timeout_s=5, retries=1))
    asc = {m: 0.0 for m in MODES}
    ok = run_once(sim, asc, seed=1, units=3, job_dir=tmp_path / "job")
    assert ok["attempts"] == 2 and sum(ok["shares"].values()) == pytest.approx(100, abs=0.5)
    (tmp_path / "n").unlink()  # the first call misbehaves again
    no_retry = from_dict(SimulatorConfig, faulty(fault, tmp_path / "n", timeout_s=5, retries=0))
    with pytest.raises(SimulatorError) as err:
        run_once(no_retry, asc, seed=1, units=3, job_dir=tmp_path / "job2")
    message = str(err.value)
    assert reason in message and "failed 1 time(s)" in message and "\n" not in message


def test_a_continued_run_equals_one_longer_run(tmp_path):
    sim = from_dict(SimulatorConfig, faulty("ok", tmp_path / "n"))
    asc = {m: 0.0 if m == "car" else 0.3 for m in MODES}
    short = run_once(sim, asc, seed=2, units=3, job_dir=tmp_path / "a")
    more = run_once(sim, asc, 2, 8, tmp_path / "b", parent_state=tmp_path / "a" / "state")
    once = run_once(sim, asc, seed=2, units=8, job_dir=tmp_path / "c")
    assert more["continued"] and not short["continued"] and not once["continued"]
    assert more["shares"] == once["shares"]


@pytest.mark.parametrize(
    "adapter, message",
    [
        ({"command": ["sim", "{asc}"]}, "unknown placeholder {asc}"),
        ({"command": ["sim", "{asc_file}"]}, "must pass {shares_file}"),
        ({"command": []}, "command"),
        ({"command": ["sim", "{shares_file}"], "timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_adapter_files_are_one_line_errors(tmp_path, capsys, hidden_targets, adapter, message):
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(adapter))
    args = [
        "--targets",
        str(hidden_targets),
        "--simulator",
        str(path),
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(["calibrate", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def calibrate(targets: Path, out: Path, simulator: Path, *extra: str) -> int:
    args = ["calibrate", "--targets", str(targets), "--simulator", str(simulator)]
    return main([*args, "--out", str(out), "--seed", "1", "--quiet", *extra])


def rows(run: Path) -> list[dict]:
    return list(csv.DictReader(open(run / "evaluations.csv")))


@pytest.mark.slow
def test_our_simulation_as_a_subprocess_calibrates_like_the_built_in_one(
    ray_local, hidden_targets, tmp_path
):
    ext = tmp_path / "external"
    assert (
        calibrate(hidden_targets, ext, TRANSPORT, "--method", "hybrid", "--evaluations", "8") == 0
    )
    builtin = tmp_path / "builtin"
    args = ["--targets", str(hidden_targets), "--scenario", "small", "--seed", "1", "--quiet"]
    assert (
        main(
            ["calibrate", *args, "--method", "hybrid", "--evaluations", "8", "--out", str(builtin)]
        )
        == 0
    )
    assert [r["l1"] for r in rows(ext)] == [r["l1"] for r in rows(builtin)]  # bit-identical
    assert float(rows(ext)[-1]["l1"]) <= 2.0


@pytest.mark.slow
def test_bohb_on_a_faulty_simulator_records_failures_and_resumes(
    ray_local, hidden_targets, tmp_path
):
    """BOHB (auto picks it for an external simulator) on a simulator whose first run
    writes shares summing to 90 and that never retries: that evaluation is recorded as
    failed with its reason, the others finish, promoted jobs continue their parents'
    state directories, and --resume adds evaluations without recomputing any."""
    adapter = tmp_path / "faulty.yaml"
    adapter.write_text(yaml.safe_dump(faulty("sum-first", tmp_path / "n", retries=0)))
    run = tmp_path / "bohb"
    assert calibrate(hidden_targets, run, adapter, "--evaluations", "14") == 0
    table = rows(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["method_requested"] == "auto" and summary["method"] == "bohb"
    failed = [r for r in table if r["error"] == "True"]
    assert len(table) == 14 and len(failed) == 1
    assert "must sum to 100" in failed[0]["reason"] and "failed 1 time(s)" in failed[0]["reason"]
    assert any(r["continued"] == "True" for r in table)
    assert summary["best_l1"] is not None
    report = (run / "report.md").read_text()
    assert "promoted BOHB jobs continue their parent's state directory" in report
    assert main(["calibrate", "--resume", str(run), "--evaluations", "18", "--quiet"]) == 0
    both = rows(run)
    assert len(both) == 18 and [r["trial_id"] for r in both[:14]] == [r["trial_id"] for r in table]
    journal = (run / "tune" / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 18


def test_an_adapters_custom_resource_goes_into_every_trials_bundle(tmp_path, hidden_targets):
    """A licensed simulator: each evaluation asks Ray for the adapter's custom resource,
    so evaluations run only on nodes that have it, as many at once as it allows."""
    from rlsys.calibration.calibrate import experiment_spec
    from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
    from rlsys.calibration.objective import read_targets
    from rlsys.config import load_config

    adapter = tmp_path / "licensed.yaml"
    data = faulty("ok", tmp_path / "n", resources={"licensed_sim": 1}, cpus=2)
    adapter.write_text(yaml.safe_dump(data))
    cfg = load_config(
        CalibrationConfig, DEFAULT_CONFIG, targets=read_targets(hidden_targets),
        simulator=str(adapter), method="bohb",
    )  # fmt: skip
    spec = experiment_spec(cfg, tmp_path, workers=2)
    assert spec.resources.bundles == [{"CPU": 2.0, "licensed_sim": 1.0}]
    assert spec.constants["simulator"]["command"][1] == str(FAULTY)


def test_a_slow_run_within_its_timeout_is_not_a_fault(tmp_path):
    sim = from_dict(SimulatorConfig, faulty("slow", tmp_path / "n", timeout_s=30, retries=0))
    out = run_once(sim, {m: 0.0 for m in MODES}, seed=1, units=2, job_dir=tmp_path / "job")
    assert out["attempts"] == 1 and sum(out["shares"].values()) == pytest.approx(100, abs=0.5)


def test_rlsys_tune_calibration_gives_trials_the_adapters_resources(tmp_path, hidden_targets):
    from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
    from rlsys.calibration.objective import read_targets
    from rlsys.config import load_config
    from rlsys.tuner.workloads import get_workload

    adapter = tmp_path / "licensed.yaml"
    adapter.write_text(yaml.safe_dump(faulty("ok", tmp_path / "n", resources={"lic": 1})))
    cfg = load_config(
        CalibrationConfig, DEFAULT_CONFIG, targets=read_targets(hidden_targets),
        simulator=str(adapter),
    )  # fmt: skip
    workload = get_workload("calibration")
    assert workload.resources(cfg).bundles == [{"CPU": 1.0, "lic": 1.0}]
    plain = load_config(CalibrationConfig, DEFAULT_CONFIG, targets=read_targets(hidden_targets))
    assert workload.resources(plain) is None  # the built-in simulation: one CPU per trial
