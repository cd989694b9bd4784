"""`rlsys parl compare`: runs on Ray, results.csv / results.md / plot, continues a study."""

import csv
import json
import math

import pytest

from rlsys.cli import main
from rlsys.parl.compare import censor_steps, samples_saved, write_results
from rlsys.parl.train import PARLConfig
from rlsys.runtime import write_config


def test_compare_writes_results_and_reuses_finished_runs(ray_local, tmp_path, capsys):
    argv = ["parl", "compare", "--methods", "parl,oracle", "--seeds", "1", "--steps", "400",
            "--queries", "10", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["method"] for r in rows} == {"parl", "oracle"}
    assert set(rows[0]) == {"method", "seed", "env_steps", "queries", "true_return"}
    assert (tmp_path / "true_return.png").exists()
    assert "| parl |" in (tmp_path / "results.md").read_text()
    final = tmp_path / "runs" / "parl-seed1" / "final.pt"
    stamp = final.stat().st_mtime_ns
    assert main(argv) == 0  # nothing left to train: the finished runs are kept
    assert final.stat().st_mtime_ns == stamp
    assert "every one of" not in capsys.readouterr().err


def test_compare_bad_methods_is_one_line(tmp_path, capsys):
    assert main(["parl", "compare", "--methods", "rlhf", "--out", str(tmp_path)]) == 2
    assert "--methods 'rlhf'" in capsys.readouterr().err


def test_samples_saved_pairs_seeds_and_censors_runs_that_never_arrive():
    p = samples_saved([6000, 5000, math.inf], [8000, 5000, 9000], censor=11_000)
    assert p["saved"] == pytest.approx(1 - 6000 / 8000)
    assert (p["earlier"], p["tied"], p["later"]) == (1, 1, 1)
    assert p["mean_difference"] == pytest.approx((-2000 + 0 + 2000) / 3)
    assert p["saved_low"] <= p["saved"] <= p["saved_high"]
    with pytest.raises(ValueError):
        samples_saved([1.0], [1.0, 2.0], censor=3.0)


def test_censor_steps_is_one_evaluation_past_the_budget():
    evals = [{"env_steps": 1000}, {"env_steps": 2000}, {"env_steps": 3000}]
    assert censor_steps(evals) == 4000
    assert censor_steps([{"env_steps": 500}]) == 501  # one evaluation: just past it


def test_results_state_the_paired_saving_when_parl_and_pebble_both_ran(tmp_path):
    curves = {  # env steps -> true return, per (method, seed)
        ("parl", 1): [-900, -150, -100], ("parl", 2): [-900, -400, -120],
        ("pebble", 1): [-900, -400, -110], ("pebble", 2): [-900, -800, -130],
    }  # fmt: skip
    for (method, seed), returns in curves.items():
        run = tmp_path / "runs" / f"{method}-seed{seed}"
        run.mkdir(parents=True)
        write_config(PARLConfig(method=method), run / "config.yaml")
        rows = [
            {"env_steps": 1000 * (i + 1), "eval/true_return": float(r)}
            for i, r in enumerate(returns)
        ]
        (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    text = write_results(tmp_path, ["parl", "pebble"], [1, 2], target=-200.0).read_text()
    # parl reaches -200 at 2000 and 3000 steps, pebble at 3000 and 3000: medians 2500 / 3000
    assert "Target: -200.0, given." in text
    assert f"**{100 * (1 - 2500 / 3000):.0f} %**" in text
    assert "parl earlier on 1, tied on 1, later on 0 of 2 seeds" in text
