"""`rlsys tune`: the workload registry, bad input, and a real job-shop ASHA sweep."""

from __future__ import annotations

import csv
import json

import pytest
import yaml
from tiny_configs import TINY_JOBSHOP

from rlsys.cli import main
from rlsys.tuner.space import parse_space
from rlsys.tuner.workloads import get_workload, workload_names


@pytest.mark.parametrize("name", workload_names())
def test_every_workload_default_space_fits_its_default_config(name):
    workload = get_workload(name)
    cfg = workload.load_config()
    space = parse_space(workload.space)
    workload.check_space(cfg, space)  # every name a config path, every end allowed
    assert workload.mode in ("min", "max") and workload.max_budget >= 1
    assert set(workload.baseline_values(cfg, space)) == set(space)
    # a default trial fits a 2-core laptop (learner + rollout actors)
    resources = workload.resources(cfg) if workload.resources else None
    bundles = resources.bundles if resources is not None else [{"CPU": 1}]
    assert sum(b["CPU"] for b in bundles) <= 2


def test_a_trial_reserves_a_cpu_per_learner_thread():
    workload = get_workload("jobshop")
    cfg = workload.load_config()
    cfg.train.learner_num_cpus, cfg.train.learner_threads = 1.0, 2
    bundles = workload.resources(cfg).bundles
    assert bundles[0]["CPU"] == 2.0
    cfg.train.learner_num_cpus = 3.0  # an explicit larger reservation stands
    assert workload.resources(cfg).bundles[0]["CPU"] == 3.0
    # one thread may share a CPU: a fractional reservation stands too
    cfg.train.learner_num_cpus, cfg.train.learner_threads = 0.5, 1
    assert workload.resources(cfg).bundles[0]["CPU"] == 0.5


def test_trial_values_land_on_their_config_paths():
    workload = get_workload("jobshop")
    cfg = workload.build(
        workload.load_config(), {"train.ppo.learning_rate": 1e-3, "policy.layers": 4}
    )
    assert cfg.train.ppo.learning_rate == 1e-3 and cfg.policy.layers == 4
    assert cfg.train.rollout.num_workers == 1  # the rest is configs/jobshop/tune.yaml


@pytest.mark.parametrize(
    "space, message",
    [
        ({"train.ppo.lr": {"type": "uniform", "low": 0.1, "high": 1}}, "train.ppo.lr"),
        ({"policy.hidden": {"type": "int", "low": 4, "high": 4}}, "empty range"),
        ({"policy.layers": {"type": "int", "low": 0, "high": 3}}, "layers"),
        ({"train.seed.x": {"type": "fixed", "value": 1}}, "not a section"),
    ],
)  # fmt: skip
def test_bad_spaces_are_one_line_errors_and_write_nothing(tmp_path, capsys, space, message):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    runs = tmp_path / "runs"
    assert main(["tune", "jobshop", "--space", str(path), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not runs.exists() or not any(runs.rglob("*"))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tune", "nope"], "unknown workload 'nope'"),
        (["tune", "jobshop", "--search", "hyper"], "search must be one of"),
        (["tune", "jobshop", "--samples", "0"], "samples must be >= 1"),
        (["tune"], "name a workload"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, capsys, argv, message):
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_resume_needs_a_sweep_directory(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    assert main(["tune", "--resume", str(tmp_path / "x")]) == 2
    assert "not a sweep directory" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["keep.txt"]


@pytest.mark.slow
def test_jobshop_asha_sweep_writes_a_best_config_the_train_command_accepts(ray_local, tmp_path):
    from rlsys.config import load_config
    from rlsys.jobshop.train import JobshopTrainConfig

    config = tmp_path / "jobshop.yaml"
    config.write_text(yaml.safe_dump(TINY_JOBSHOP))
    space = tmp_path / "space.yaml"
    space.write_text(
        yaml.safe_dump(
            {
                "train.ppo.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
                "policy.hidden": {"type": "choice", "values": [16, 32]},
            }
        )
    )
    runs = tmp_path / "runs"
    argv = ["tune", "jobshop", "--search", "asha", "--samples", "4", "--budget", "3"]
    assert (
        main([*argv, "--config", str(config), "--space", str(space), "--runs-dir", str(runs)]) == 0
    )
    (sweep,) = (runs / "tune" / "jobshop").iterdir()
    summary = json.loads((sweep / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["failed"] == 0 and summary["baseline"] is not None
    rows = list(csv.DictReader(open(sweep / "trials.csv")))
    assert [r["experiment"] for r in rows].count("tune") == 4
    assert [r["experiment"] for r in rows].count("baseline") == 1
    assert all(float(r["val_makespan"]) > 0 for r in rows)
    stopped = [r for r in rows if r["state"] == "stopped early"]
    assert all(int(r["iterations_run"]) < 3 for r in stopped)
    best = load_config(JobshopTrainConfig, sweep / "best.yaml")
    assert best.train.total_updates == 3  # the sweep's budget: trains as long as it did
    assert best.policy.hidden == summary["best_config"]["policy.hidden"]
    assert best.instances.jobs == [3, 4]  # the rest is the base config
    report = (sweep / "report.md").read_text()
    assert "Top configurations" in report and "baseline" in report
    assert (sweep / "curves.png").stat().st_size > 1000
    curves = [json.loads(x) for x in (sweep / "curves.jsonl").read_text().splitlines()]
    assert {c["experiment"] for c in curves} == {"tune", "baseline"}


@pytest.mark.slow
def test_bohb_promotions_continue_the_parent_run(ray_local, tmp_path):
    """BOHB on the job shop, budgets 1 and 3 updates: the promoted configuration continues
    its 1-update run from the checkpoint (2 more updates), it does not start over."""
    config = tmp_path / "jobshop.yaml"
    config.write_text(yaml.safe_dump(TINY_JOBSHOP))
    space = tmp_path / "space.yaml"
    space.write_text(
        yaml.safe_dump(
            {"train.ppo.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 3e-3}}
        )
    )
    runs = tmp_path / "runs"
    argv = ["tune", "jobshop", "--search", "bohb", "--samples", "4", "--budget", "3"]
    argv += ["--config", str(config), "--space", str(space), "--runs-dir", str(runs)]
    assert main([*argv, "--no-baseline"]) == 0
    (sweep,) = (runs / "tune" / "jobshop").iterdir()
    rows = list(csv.DictReader(open(sweep / "trials.csv")))
    assert sorted(int(r["budget"]) for r in rows) == [1, 1, 1, 3]
    (promoted,) = [r for r in rows if r["budget"] == "3"]
    assert promoted["continued"] == "True" and promoted["iterations_run"] == "2"
    curves = [json.loads(x) for x in (sweep / "curves.jsonl").read_text().splitlines()]
    assert [c["iteration"] for c in curves if c["job"] == promoted["job"]] == [2, 3]


@pytest.mark.slow
def test_jobshop_pbt_clones_members_and_changes_their_values(ray_local, tmp_path):
    """PBT on the job shop: 4 members, 2 at a time (a trial holds 1 CPU), perturbations
    every 2 updates. A clone continues its donor's checkpoint with perturbed values, so
    some member's learning rate changes during its run; values stay in the space."""
    from rlsys.config import load_config
    from rlsys.jobshop.train import JobshopTrainConfig

    js = json.loads(json.dumps(TINY_JOBSHOP))
    js["train"]["learner_num_cpus"] = 0.5  # 0.5 + one 0.5-CPU rollout worker
    config = tmp_path / "jobshop.yaml"
    config.write_text(yaml.safe_dump(js))
    space = tmp_path / "space.yaml"
    low, high = 1e-4, 3e-3
    space.write_text(
        yaml.safe_dump(
            {
                "train.ppo.learning_rate": {"type": "loguniform", "low": low, "high": high},
                "policy.hidden": {"type": "choice", "values": [16, 32]},  # not mutable
            }
        )
    )
    runs = tmp_path / "runs"
    argv = ["tune", "jobshop", "--search", "pbt", "--samples", "4", "--budget", "8"]
    argv += ["--config", str(config), "--space", str(space), "--runs-dir", str(runs)]
    assert main([*argv, "--no-baseline"]) == 0
    (sweep,) = (runs / "tune" / "jobshop").iterdir()
    rows = list(csv.DictReader(open(sweep / "trials.csv")))
    assert len(rows) == 4 and all(r["state"] == "finished" for r in rows)
    curves = [json.loads(x) for x in (sweep / "curves.jsonl").read_text().splitlines()]
    lrs: dict[str, list[float]] = {}
    for c in curves:
        lrs.setdefault(c["trial_id"], []).append(c["params"]["train.ppo.learning_rate"])
    assert all(low <= lr <= high for seq in lrs.values() for lr in seq)
    assert any(len(set(seq)) > 1 for seq in lrs.values()), "no member was ever cloned"
    best = load_config(JobshopTrainConfig, sweep / "best.yaml")
    summary = json.loads((sweep / "summary.json").read_text())
    assert best.train.ppo.learning_rate == summary["best_config"]["train.ppo.learning_rate"]
    assert "PBT schedule of the best member" in (sweep / "report.md").read_text()


def test_pbt_needs_a_parameter_that_may_change_during_a_run(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"policy.hidden": {"type": "choice", "values": [16, 32]}}))
    argv = ["tune", "jobshop", "--search", "pbt", "--space", str(space)]
    assert main([*argv, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert "pbt needs a searched parameter that may change" in err and len(err.splitlines()) == 1
    assert main(["tune", "calibration", "--search", "pbt", "--runs-dir", str(tmp_path)]) == 2
    assert "this workload has none" in capsys.readouterr().err
