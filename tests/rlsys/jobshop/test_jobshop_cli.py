import json
import subprocess
import sys

import pytest

from rlsys.cli import main


def test_schedule_validate_plot(tmp_path, capsys):
    out = tmp_path / "s.json"
    rc = main(
        [
            "jobshop",
            "schedule",
            "--instance",
            "la01",
            "--policy",
            "MWKR",
            "--shutdown-prob",
            "0.05",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and "makespan" in capsys.readouterr().out
    sched = json.loads(out.read_text())
    assert sched["instance"] == "la01" and sched["downtime"]
    assert main(["jobshop", "validate", str(out)]) == 0
    assert main(["jobshop", "plot", str(out), "--out", str(tmp_path / "g.png")]) == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a broken schedule: non-zero exit and the violation on one line
    sched["operations"][0]["leave"] += 1
    out.write_text(json.dumps(sched))
    capsys.readouterr()
    assert main(["jobshop", "validate", str(out)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err and err.count("\n") == 1


def test_no_swaps_deadlock_is_reported(tmp_path, capsys):
    inst = tmp_path / "swap.txt"
    inst.write_text("2 2\n0 1 1 5\n1 3 0 1\n")
    rc = main(
        [
            "jobshop",
            "schedule",
            "--instance",
            str(inst),
            "--no-swaps",
            "--out",
            str(tmp_path / "x.json"),
        ]
    )
    assert rc == 1 and "deadlock" in capsys.readouterr().out
    assert (
        main(["jobshop", "schedule", "--instance", str(inst), "--out", str(tmp_path / "x.json")])
        == 0
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["jobshop", "schedule", "--instance", "nosuch", "--out", "x.json"], "unknown instance"),
        (
            ["jobshop", "schedule", "--instance", "ft06", "--policy", "XYZ", "--out", "x.json"],
            "unknown policy",
        ),
        (
            [
                "jobshop",
                "schedule",
                "--instance",
                "ft06",
                "--shutdown-prob",
                "1.5",
                "--out",
                "x.json",
            ],
            "[0, 1)",
        ),
        (
            [
                "jobshop",
                "schedule",
                "--instance",
                "ft06",
                "--repair",
                "uniform:3",
                "--out",
                "x.json",
            ],
            "bad repair",
        ),
        (["jobshop", "eval", "--instances", "ft06", "--seeds", "x", "--out", "r.csv"], "bad seeds"),
        (
            ["jobshop", "eval", "--instances", "ft06", "--shutdown-probs", "-1", "--out", "r.csv"],
            "outside",
        ),
        (["jobshop", "validate", "missing.json"], "no such schedule"),
        (
            ["jobshop", "eval", "--instances", "ft06", "--policies", "pretrained@sample:4"]
            + ["--out", "r.csv"],
            "clairvoyant",
        ),
        (
            ["jobshop", "schedule", "--instance", "ft06", "--policy", "pretrained@beam:4"]
            + ["--out", "x.json"],
            "sample:N, follow:N or rollout:N",
        ),
        (
            ["jobshop", "schedule", "--instance", "ft06", "--policy", "MWKR@rollout:4"]
            + ["--out", "x.json"],
            "learned policy",
        ),
        (["jobshop", "train", "--resume", "runs/x", "--seed", "3"], "--seed cannot be changed"),
    ],
)
def test_bad_input_one_line_error(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_malformed_instance_file_names_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\n0 5 1 3\n1 4 0\n")
    assert (
        main(["jobshop", "schedule", "--instance", str(bad), "--out", str(tmp_path / "x.json")])
        == 2
    )
    assert "bad.txt:3:" in capsys.readouterr().err


def test_eval_cli_on_ray(ray_local, tmp_path, capsys):
    out = tmp_path / "r.csv"
    rc = main(
        [
            "jobshop",
            "eval",
            "--instances",
            "ft06,la01",
            "--policies",
            "SPT,MWKR",
            "--shutdown-probs",
            "0,0.1",
            "--seeds",
            "0-1",
            "--out",
            str(out),
            "--schedules-dir",
            str(tmp_path / "s"),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "| MWKR |" in text and "invalid schedules: 0" in text
    assert len(out.read_text().splitlines()) == 1 + 2 * 2 * 2 * 2
    assert len(list((tmp_path / "s").glob("*.json"))) == 16


def test_python_dash_m():
    res = subprocess.run(
        [sys.executable, "-m", "rlsys", "jobshop", "rules"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "MWKR" in res.stdout


def test_solve_clairvoyant_cli_writes_a_valid_schedule_with_its_downtime(tmp_path, capsys):
    out = tmp_path / "c.json"
    argv = ["jobshop", "solve", "--instance", "ft06", "--shutdown-prob", "0.05", "--seed", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "(clairvoyant)" in capsys.readouterr().out
    assert main(["jobshop", "validate", str(out)]) == 0
    sched = json.loads(out.read_text())
    assert sched["seed"] == 1 and sched["shutdown_prob"] == 0.05 and sched["downtime"]
    assert main([*argv[:-4], "--shutdown-prob", "1.5"]) == 2
    assert "--shutdown-prob must be in [0, 1)" in capsys.readouterr().err


def test_solve_makes_a_plan_that_schedule_follows(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    solve = ["jobshop", "solve", "--instance", "ft06", "--hint", "MWKR", "--time-limit", "20"]
    assert main([*solve, "--out", str(plan)]) == 0
    printed = capsys.readouterr().out
    assert "hint: MWKR makespan 75" in printed and "makespan 63 (optimal" in printed
    out = tmp_path / "s.json"
    run = ["jobshop", "schedule", "--instance", "ft06", "--policy", f"plan:{plan}"]
    assert main([*run, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["makespan"] == 63  # replayed at p = 0
    assert main([*run, "--shutdown-prob", "0.1", "--seed", "2", "--out", str(out)]) == 0
    followed = json.loads(out.read_text())
    assert followed["makespan"] > 63 and followed["decisions"] == "plan"
    assert main(["jobshop", "validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["jobshop", "schedule", "--instance", "la01", "--policy", f"plan:{plan}",
                 "--out", str(out)]) != 0  # fmt: skip
    assert "the plan is for 'ft06', not 'la01'" in capsys.readouterr().err


def test_schedule_with_a_planner(tmp_path, capsys):
    out = tmp_path / "s.json"
    args = ["jobshop", "schedule", "--instance", "ft06", "--shutdown-prob", "0.05"]
    assert main([*args, "--policy", "pretrained@rollout:2", "--out", str(out)]) == 0
    sched = json.loads(out.read_text())
    assert sched["policy"] == "pretrained@rollout:2"
    assert main(["jobshop", "validate", str(out)]) == 0
    capsys.readouterr()
    # sampling against the true disruptions would be clairvoyant: a one-line error
    assert main([*args, "--policy", "pretrained@sample:4", "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert "clairvoyant" in err and err.count("\n") == 1


def test_train_seed_flag_overrides_the_config(ray_local, tmp_path):
    """`rlsys jobshop train --seed S` trains with root seed S (recorded in the run's
    config.yaml), like the other workloads' train commands."""
    import yaml
    from tiny_configs import TINY_JOBSHOP

    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_JOBSHOP))
    runs = tmp_path / "runs"
    argv = ["jobshop", "train", "--config", str(config), "--runs-dir", str(runs)]
    assert main([*argv, "--updates", "1", "--seed", "7"]) == 0
    (run,) = (runs / "jobshop").iterdir()
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["seed"] == 7
