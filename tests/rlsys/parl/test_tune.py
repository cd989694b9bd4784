"""PARL's Tune trainable: real Ray Tune trials that report every update and checkpoint."""

import pytest
from ray import tune
from tune_results import TrialResults

from rlsys.parl.tune import (
    METRIC,
    SEARCH_SPACE,
    build_config,
    parl_trainable,
    trial_resources,
    tune_domains,
)

BASE = {
    "queries": 20,
    "queries_per_feedback": 10,
    "eval_episodes": 1,
    "hidden_sizes": [16],
    "reward": {"members": 2, "hidden_sizes": [8], "epochs": 1, "candidates": 2},
    "train": {
        "eval_every": 2,
        "checkpoint_every": 1,
        "sac": {"learning_starts": 200, "batch_size": 16, "hidden_sizes": [16],
                "updates_per_step": 0.05},
        "rollout": {"num_workers": 1, "episodes_per_request": 1, "worker_num_cpus": 0.25},
    },
}  # fmt: skip


def test_search_space_values_reach_the_config():
    cfg = build_config(
        {"base": BASE, "updates": 3, "reward_lr": 1e-3, "queries_per_feedback": 40,
         "feedback_every": 5, "segment_length": 10, "damping": 0.5, "trust_ratio": 2.0}
    )  # fmt: skip
    assert cfg.train.total_updates == 3 and cfg.reward.learning_rate == 1e-3
    assert (cfg.queries_per_feedback, cfg.feedback_every, cfg.segment_length) == (40, 5, 10)
    assert cfg.hypergradient.damping == 0.5 and cfg.hypergradient.trust_ratio == 2.0
    assert set(tune_domains()) == set(SEARCH_SPACE)
    assert trial_resources({"base": BASE}, 0.5).bundles == [{"CPU": 0.5}, {"CPU": 0.25}]
    with pytest.raises(ValueError, match="damping must be > 0"):
        build_config({"base": BASE, "damping": 0.0})


@pytest.mark.slow
def test_trials_report_every_update_and_checkpoint(ray_local, tmp_path):
    space = {"base": BASE, "updates": 2, **tune_domains()}
    seen = TrialResults()
    tuner = tune.Tuner(
        tune.with_resources(parl_trainable, trial_resources(space, learner_cpus=0.25)),
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=2, metric=METRIC, mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="parl", callbacks=[seen]),
    )
    results = tuner.fit()
    assert len(results) == 2 and not results.errors
    for rows in seen.by_trial.values():
        assert [r["update"] for r in rows] == [1, 2]
        assert 0 < rows[-1]["queries"] <= 20 and "true_return" in rows[-1]
    for result in results:
        assert result.checkpoint is not None
