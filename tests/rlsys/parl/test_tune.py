"""PARL's Tune trainable: real Ray Tune trials that report every update and checkpoint."""

import pytest
from ray import tune
from tune_results import TrialResults

from rlsys.config import from_dict
from rlsys.parl.tune import SEARCH_SPACE, WORKLOAD
from rlsys.tuner.space import parse_space, tune_domains
from rlsys.tuner.workloads import trainer_workload_trial, with_budget

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


def base_config(updates: int):
    cfg = from_dict(WORKLOAD.config_cls, BASE, source="base")
    return with_budget(WORKLOAD, cfg, updates)


def test_search_space_values_reach_the_config():
    base = base_config(3)
    cfg = WORKLOAD.build(
        base,
        {"reward.learning_rate": 1e-3, "queries_per_feedback": 40, "feedback_every": 5,
         "segment_length": 10, "hypergradient.damping": 0.5, "hypergradient.trust_ratio": 2.0},
    )  # fmt: skip
    assert cfg.train.total_updates == 3
    assert cfg.reward.learning_rate == 1e-3
    assert (cfg.queries_per_feedback, cfg.feedback_every, cfg.segment_length) == (40, 5, 10)
    assert cfg.hypergradient.damping == 0.5 and cfg.hypergradient.trust_ratio == 2.0
    assert set(tune_domains(parse_space(SEARCH_SPACE))) == set(SEARCH_SPACE)
    WORKLOAD.check_space(base, parse_space(SEARCH_SPACE))
    with pytest.raises(ValueError, match="damping must be > 0"):
        WORKLOAD.build(base, {"hypergradient.damping": 0.0})


@pytest.mark.slow
def test_trials_report_every_update_and_checkpoint(ray_local, tmp_path):
    import dataclasses
    import json

    base = base_config(2)
    space = {
        "workload": WORKLOAD.name,
        "base": json.loads(json.dumps(dataclasses.asdict(base))),
        **tune_domains(parse_space(SEARCH_SPACE)),
    }
    seen = TrialResults()
    resources = WORKLOAD.resources(base, learner_cpus=0.25)
    assert resources.bundles == [{"CPU": 0.25}, {"CPU": 0.25}]
    tuner = tune.Tuner(
        tune.with_resources(trainer_workload_trial, resources),
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=2, metric=WORKLOAD.metric, mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="t", callbacks=[seen]),
    )
    results = tuner.fit()
    assert len(results) == 2 and not results.errors
    assert len(seen.by_trial) == 2
    for history in seen.by_trial.values():
        assert [r["update"] for r in history] == [1, 2] == [r["iteration"] for r in history]
        assert 0 < history[-1]["queries"] <= 20 and "true_return" in history[-1]
    for result in results:
        assert result.checkpoint is not None
