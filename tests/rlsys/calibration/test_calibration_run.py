"""`rlsys calibrate` end to end on the `small` scenario, on the shared 2-CPU Ray instance."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from envs.transport import MODES, TransportSim, load_scenario
from rlsys.calibration.calibrate import FAULT_FILE
from rlsys.calibration.objective import HIDDEN_ASC as HIDDEN
from rlsys.cli import main


def calibrate(targets: Path, out: Path, *extra: str) -> int:
    args = ["calibrate", "--targets", str(targets), "--scenario", "small", "--out", str(out)]
    return main([*args, "--seed", "1", "--quiet", *extra])


def rows(run: Path) -> list[dict]:
    with open(run / "evaluations.csv") as f:
        return list(csv.DictReader(f))


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_bohb_two_workers_end_to_end(ray_local, hidden_targets, tmp_path):
    run = tmp_path / "bohb"
    code = calibrate(hidden_targets, run, "--method", "bohb", "--evaluations", "40")
    assert code == 0
    table = rows(run)
    assert len(table) == 40
    s = summary(run)
    assert s["workers"] == 2 and len({r["worker"] for r in table}) >= 2
    assert s["model_based_picks"] > 0, "BOHB never used its KDE model"
    assert s["proposal_picks"] > 0, "BOHB never evaluated a fixed-point proposal"
    assert s["continued"] > 0, "no promoted run continued from its saved state"
    for r in table:
        if r["continued"] == "True":
            assert int(r["start_iteration"]) > 0
            assert int(r["iterations_run"]) <= int(r["budget"]) - int(r["start_iteration"])
    assert {int(r["budget"]) for r in table} <= {2, 6, 18}
    # the initial design: the first configuration is the default constants (all ASCs 0)
    first = next(r for r in table if r["job"].startswith("0.0.0@"))
    assert all(float(first[f"asc_{m}"]) == 0.0 for m in HIDDEN)
    assert s["stopped_early"] > 0 and s["iterations_saved"] > 0
    for name in ("report.md", "l1.png", "shares.png", "best_asc.yaml", "config.yaml"):
        assert (run / name).is_file(), name
    # best_asc.yaml feeds straight back into the simulator and gives the reported L1
    sim_out = tmp_path / "sim.json"
    args = ["--asc", str(run / "best_asc.yaml"), "--iterations", "18", "--seed", "1"]
    assert main(["transport", "simulate", "--scenario", "small", *args, "--out", str(sim_out)]) == 0
    last = json.loads(sim_out.read_text())["per_iteration"][-5:]
    target = yaml.safe_load(hidden_targets.read_text())
    l1 = sum(abs(target[m] - np.mean([o["mode_shares"][m] for o in last])) for m in MODES)
    assert l1 == pytest.approx(s["best_l1"], abs=1e-6) == pytest.approx(s["seed_l1"], abs=1e-6)
    assert len(s["other_seeds_l1"]) == 3


@pytest.mark.parametrize("method", ["fixed-point", "hybrid"])
def test_sequential_methods_recover_hidden_ascs(ray_local, hidden_targets, tmp_path, method):
    run = tmp_path / method
    assert calibrate(hidden_targets, run, "--method", method, "--evaluations", "25") == 0
    s = summary(run)
    assert s["best_l1"] <= 1.0
    assert s["to_l1_1"]["iterations"] <= 200
    if method == "fixed-point":  # seeded and sequential: the same run twice
        again = tmp_path / "again"
        calibrate(hidden_targets, again, "--method", method, "--evaluations", "25")
        assert [r["l1"] for r in rows(again)] == [r["l1"] for r in rows(run)]


def test_default_method_is_auto_and_the_report_says_what_it_chose(
    ray_local, hidden_targets, tmp_path
):
    run = tmp_path / "auto"
    assert calibrate(hidden_targets, run, "--evaluations", "12") == 0
    s = summary(run)
    assert s["method_requested"] == "auto" and s["method"] == "hybrid"
    assert s["best_l1"] <= 2.0
    assert "Method: auto -> hybrid. auto chose hybrid" in (run / "report.md").read_text()
    assert yaml.safe_load((run / "config.yaml").read_text())["method"] == "auto"


def test_killed_simulation_is_retried_and_nothing_is_lost(ray_local, hidden_targets, tmp_path):
    run = tmp_path / "crash"
    run.mkdir()
    (run / FAULT_FILE).write_text("3")  # the first evaluation to reach iteration 3 dies
    assert calibrate(hidden_targets, run, "--method", "random", "--evaluations", "8") == 0
    assert not (run / FAULT_FILE).exists()
    s = summary(run)
    assert s["retries"] == 1
    table = rows(run)
    assert len(table) == 8 and not any(r["error"] == "True" for r in table)
    assert len({r["trial_id"] for r in table}) == 8

    chain = tmp_path / "chain"
    chain.mkdir()
    (chain / FAULT_FILE).write_text("3")  # the fixed-point loop dies in its third step
    assert calibrate(hidden_targets, chain, "--method", "fixed-point", "--evaluations", "5") == 0
    steps = rows(chain)
    assert summary(chain)["retries"] == 1
    assert len(steps) == 5 and int(steps[-1]["cumulative_iterations"]) == 5 * 18


def test_resume_runs_only_the_missing_evaluations(ray_local, hidden_targets, tmp_path):
    run = tmp_path / "resume"
    assert calibrate(hidden_targets, run, "--method", "bohb", "--evaluations", "8") == 0
    first = rows(run)
    assert main(["calibrate", "--resume", str(run), "--evaluations", "14", "--quiet"]) == 0
    both = rows(run)
    assert len(both) == 14
    assert [r["trial_id"] for r in both[:8]] == [r["trial_id"] for r in first]
    assert {r["session"] for r in both[8:]} == {"2"}
    journal = (run / "tune" / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 14  # every finished evaluation once, none recomputed


def test_user_errors_are_one_line(ray_local, hidden_targets, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("car: 50\nwalk: 20\n")
    assert main(["calibrate", "--targets", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "sum to 100" in capsys.readouterr().err
    assert main(["calibrate", "--out", str(tmp_path / "x")]) == 2
    assert "--targets" in capsys.readouterr().err
    assert main(["calibrate", "--resume", str(tmp_path)]) == 2
    assert "not a calibration directory" in capsys.readouterr().err
    args = ["--targets", str(hidden_targets), "--evaluations", "0", "--out", str(tmp_path / "y")]
    assert main(["calibrate", *args]) == 2
    assert "evaluations must be >= 1" in capsys.readouterr().err
    run = tmp_path / "done"
    assert calibrate(hidden_targets, run, "--method", "random", "--evaluations", "2") == 0
    assert main(["calibrate", "--resume", str(run), "--method", "bohb"]) == 2
    assert "cannot change on --resume" in capsys.readouterr().err
    assert calibrate(hidden_targets, run, "--method", "random", "--evaluations", "2") == 2
    assert "use --resume" in capsys.readouterr().err


def test_travel_time_targets_enter_the_objective(ray_local, hidden_targets, tmp_path):
    # travel times the hidden ASCs produce, next to their shares: both are reachable
    out, _ = TransportSim(load_scenario("small")).run(HIDDEN, 18, seed=1)
    minutes = {
        m: float(np.mean([o["mean_travel_time_min"][m] for o in out[-5:]]))
        for m in ("car", "walk_transit", "ride_hail")
    }
    times = tmp_path / "times.yaml"
    times.write_text(yaml.safe_dump(minutes))
    run = tmp_path / "timed"
    extra = ("--method", "hybrid", "--evaluations", "25", "--time-targets", str(times))
    assert calibrate(hidden_targets, run, *extra, "--time-weight", "0.5") == 0
    table = rows(run)
    for r in table:
        expected = float(r["l1"]) + 0.5 * float(r["time_error"])
        assert float(r["objective"]) == pytest.approx(expected)
        assert r["time_car"] not in ("", "None")
    s = summary(run)
    assert s["best_l1"] <= 1.0 and s["best_time_error"] <= 2.0
    assert s["best_objective"] == pytest.approx(s["best_l1"] + 0.5 * s["best_time_error"])
    assert len(s["other_seeds_time_error"]) == 3
    report = (run / "report.md").read_text()
    assert "travel-time error" in report and "walk_transit" in report
    assert (run / "times.png").is_file()
    # the weight is part of the run: it cannot change on --resume
    assert main(["calibrate", "--resume", str(run), "--time-weight", "2"]) == 2
    bad = tmp_path / "bad_times.yaml"
    bad.write_text("car: -3\n")
    args = ["calibrate", "--targets", str(hidden_targets), "--time-targets", str(bad)]
    assert main([*args, "--out", str(tmp_path / "z")]) == 2


def _replicated_l1(targets: Path, asc: dict, iterations: int, seeds: list[int]) -> float:
    """L1 of the shares averaged over seeds (each the mean of its last 5 iterations)."""
    sim = TransportSim(load_scenario("small"))
    means = []
    for seed in seeds:
        out, _ = sim.run(asc, iterations, seed=seed)
        means.append([np.mean([o["mode_shares"][m] for o in out[-5:]]) for m in MODES])
    target = yaml.safe_load(targets.read_text())
    shares = np.mean(means, axis=0)
    return float(sum(abs(target[m] - shares[i]) for i, m in enumerate(MODES)))


def test_replications_average_seeds_and_continue_every_state(ray_local, hidden_targets, tmp_path):
    run = tmp_path / "rep-fp"
    extra = ("--method", "fixed-point", "--evaluations", "2", "--replications", "2")
    assert calibrate(hidden_targets, run, *extra) == 0
    first = rows(run)[0]
    assert int(first["iterations_run"]) == 2 * 18  # two simulations of 18 iterations
    zero = {m: 0.0 for m in MODES if m != "car"}
    assert float(first["l1"]) == pytest.approx(
        _replicated_l1(hidden_targets, zero, 18, [1, 1001]), abs=1e-9
    )
    # bohb: a promoted job continues both replications' saved states bit-identically
    run = tmp_path / "rep-bohb"
    extra = ("--method", "bohb", "--evaluations", "16", "--replications", "2")
    assert calibrate(hidden_targets, run, *extra, "--no-early-stopping") == 0
    continued = [r for r in rows(run) if r["continued"] == "True"]
    assert continued
    r = continued[0]
    asc = {m: float(r[f"asc_{m}"]) for m in MODES if m != "car"}
    assert int(r["iterations_run"]) == 2 * (int(r["budget"]) - int(r["start_iteration"]))
    assert float(r["l1"]) == pytest.approx(
        _replicated_l1(hidden_targets, asc, int(r["budget"]), [1, 1001]), abs=1e-9
    )


def test_bohb_settings_reach_hpbandsters_generator(ray_local, hidden_targets, tmp_path):
    settings = tmp_path / "random-only.yaml"
    settings.write_text("bohb:\n  random_fraction: 1.0\n")  # every proposal uniform
    run = tmp_path / "rf1"
    extra = ("--method", "bohb", "--evaluations", "30", "--config", str(settings))
    assert calibrate(hidden_targets, run, *extra) == 0
    assert summary(run)["model_based_picks"] == 0
    settings.write_text("bohb:\n  bandwith: 2\n")
    assert calibrate(hidden_targets, tmp_path / "bad", *extra) == 2


def test_start_at_default_false_starts_bohb_with_a_uniform_draw(
    ray_local, hidden_targets, tmp_path
):
    settings = tmp_path / "uniform-start.yaml"
    settings.write_text("start_at_default: false\n")
    run = tmp_path / "uniform-start"
    extra = ("--method", "bohb", "--evaluations", "4", "--config", str(settings))
    assert calibrate(hidden_targets, run, *extra) == 0
    first = next(r for r in rows(run) if r["job"].startswith("0.0.0@"))
    assert all(float(first[f"asc_{m}"]) != 0.0 for m in HIDDEN)
