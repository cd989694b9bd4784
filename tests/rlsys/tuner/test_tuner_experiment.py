"""run_experiment (rlsys/tuner/experiment.py) on the shared 2-CPU Ray instance."""

from __future__ import annotations

import json

import pytest

from rlsys.tuner import BUDGET_KEY, ExperimentSpec, Journal, run_experiment


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
        space={"x": (-5.0, 5.0), "y": (-5.0, 5.0)},
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
        run_experiment(spec(2, search="grid"), tmp_path / "bad")
