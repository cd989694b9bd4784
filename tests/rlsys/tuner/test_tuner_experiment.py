"""run_experiment (rlsys/tuner/experiment.py) on the shared 2-CPU Ray instance."""

from __future__ import annotations

import json

import pytest

from rlsys.tuner import BUDGET_KEY, ExperimentSpec, Journal, run_experiment
from rlsys.tuner.space import parse_space, uniform_box


def make_trainable():
    """A budgeted toy: loss = |x - 2| + |y| + 3 / iterations, continuing from checkpoints."""

    def trainable(config):
        from rlsys.tuner.trainable import json_blob, load_payload, report

        payload, source = load_payload(config)
        done = json.loads(payload["n.json"])["n"] if payload else 0
        start = done
        while done < config[BUDGET_KEY]:
            done += 1
            value = abs(config["x"] - 2) + abs(config["y"]) + 3.0 / done
            final = done == config[BUDGET_KEY]
            metrics = {"loss": value, "iteration": done, BUDGET_KEY: config[BUDGET_KEY]}
            if final:
                metrics["record"] = {
                    "key": "final",
                    "config": {"x": config["x"], "y": config["y"]},
                    "budget": config[BUDGET_KEY],
                    "start_iteration": start,
                    "iterations_run": done - start,
                    "loss": value,
                    "source": source,
                    "tag": config["tag"],
                }
            report(metrics, {"n.json": json_blob({"n": done})} if final else None)

    return trainable


def spec(evaluations: int, search: str = "bohb") -> ExperimentSpec:
    return ExperimentSpec(
        trainable=make_trainable(),
        constants={"tag": "toy"},
        search=search,
        space=uniform_box({"x": (-5.0, 5.0), "y": (-5.0, 5.0)}),
        metric="loss",
        mode="min",
        max_budget=9,
        eta=3,
        evaluations=evaluations,
        workers=2,
        seed=0,
        early_stopping=False,
        quiet=True,
    )


def test_bohb_experiment_continues_promotions_and_extends_on_resume(ray_local, tmp_path):
    records = run_experiment(spec(18), tmp_path / "exp")
    assert len(records) == 18
    assert {r["tag"] for r in records} == {"toy"}  # constants reach every trial
    promoted = [r for r in records if r["start_iteration"] > 0]
    assert promoted, "no promoted job continued from its parent's checkpoint"
    for r in promoted:
        assert r["source"] == "parent"
        assert r["iterations_run"] == r["budget"] - r["start_iteration"]
    assert {r["budget"] for r in records} == {1, 3, 9}
    assert len({r["worker"] for r in records}) >= 2  # both CPUs worked

    with pytest.raises(ValueError, match="already holds"):
        run_experiment(spec(18), tmp_path / "exp")
    more = run_experiment(spec(24), tmp_path / "exp", resume=True)
    assert len(more) == 24
    assert [r["trial_id"] for r in more[:18]] == [r["trial_id"] for r in records]
    assert {r["session"] for r in more[18:]} == {2}
    assert len(Journal(tmp_path / "exp" / "journal.jsonl").evaluations()) == 24


def test_random_search_runs_the_largest_budget_only(ray_local, tmp_path):
    records = run_experiment(spec(6, search="random"), tmp_path / "rnd")
    assert len(records) == 6
    assert {r["budget"] for r in records} == {9}
    assert all(r["start_iteration"] == 0 for r in records)
    with pytest.raises(ValueError, match="search must be"):
        run_experiment(spec(2, search="nope"), tmp_path / "bad")


def test_grid_runs_every_point_once_and_a_resume_only_the_missing_ones(ray_local, tmp_path):
    grid_spec = spec(50, search="grid")
    grid_spec.space = parse_space(
        {
            "x": {"type": "choice", "values": [0.0, 2.0]},
            "y": {"type": "uniform", "low": -1.0, "high": 1.0, "grid": 3},
        }
    )
    grid_spec.evaluations = 4  # the first 4 of the 6 points, as an interrupted run would
    first = run_experiment(grid_spec, tmp_path / "grid")
    assert [r["job"] for r in first] == [f"grid-{i}" for i in range(4)] or len(first) == 4
    grid_spec.evaluations = 50  # every point
    records = run_experiment(grid_spec, tmp_path / "grid", resume=True)
    assert sorted(r["job"] for r in records) == [f"grid-{i}" for i in range(6)]
    assert {r["session"] for r in records if r["job"] in ("grid-4", "grid-5")} == {2}
    points = sorted((r["config"]["x"], r["config"]["y"]) for r in records)
    assert points == [(x, y) for x in (0.0, 2.0) for y in (-1.0, 0.0, 1.0)]
    assert all(r["budget"] == 9 and r["iterations_run"] == 9 for r in records)
    best = min(records, key=lambda r: r["loss"])
    assert best["config"] == {"x": 2.0, "y": 0.0}


def test_asha_stops_poor_trials_at_its_rungs(ray_local, tmp_path):
    asha = spec(10, search="asha")
    asha.workers = 1  # one at a time: the rung comparisons do not depend on timing
    records = run_experiment(asha, tmp_path / "asha")
    assert len(records) == 10
    stopped = [r for r in records if r.get("stopped_early")]
    full = [r for r in records if r.get("full_budget", True) and not r.get("stopped_early")]
    assert stopped and full and len(stopped) + len(full) == 10
    assert {r["iterations_run"] for r in stopped} <= {1, 3}  # ASHA's rungs (eta 3)
    assert min(r["loss"] for r in full) <= min(r["loss"] for r in stopped)


def make_failing():
    """A trainable that raises at iteration 2; a marker file makes only the first attempt
    fail (a closure: Ray pickles it by value, the test module is not importable there)."""

    def failing(config):
        import os

        from rlsys.tuner.trainable import json_blob, load_payload, report

        payload, _ = load_payload(config)
        done = json.loads(payload["n.json"])["n"] if payload else 0
        while done < 3:
            done += 1
            if done == 2 and (config["always"] or os.path.exists(config["marker"])):
                if not config["always"]:
                    os.remove(config["marker"])
                raise RuntimeError(f"injected failure at iteration {done}")
            report(
                {"loss": config["x"], "iteration": done, BUDGET_KEY: 3},
                {"n.json": json_blob({"n": done})},
            )

    return failing


@pytest.mark.parametrize("always", [False, True])
def test_a_raising_trial_is_retried_and_a_lasting_error_is_recorded(ray_local, tmp_path, always):
    marker = tmp_path / "fail-once"
    marker.write_text("1")
    failing = ExperimentSpec(
        trainable=make_failing(),
        constants={"marker": str(marker), "always": always},
        search="random",
        space=uniform_box({"x": (0.0, 1.0)}),
        metric="loss",
        max_budget=3,
        evaluations=1,
        max_failures=1,
        early_stopping=False,
        quiet=True,
    )
    records = Journal(tmp_path / "exp" / "journal.jsonl")
    evaluations = run_experiment(failing, tmp_path / "exp")
    retries = [r for r in records.read() if r["kind"] == "retry"]
    assert len(evaluations) == 1 and len(retries) == 1
    (rec,) = evaluations
    if always:
        assert rec["error"] and "injected failure at iteration 2" in rec["reason"]
        assert rec["loss"] is None
    else:
        assert rec["full_budget"] and not rec.get("error") and rec["loss"] is not None
