"""CommFormer's Tune trainable: real Ray Tune trials that report every update and
checkpoint into tune.Checkpoint (weights-only torch files)."""

import pytest
import torch
from ray import tune
from tune_results import TrialResults

from rlsys.commformer.tune import (
    METRIC,
    SEARCH_SPACE,
    build_config,
    commformer_trainable,
    trial_resources,
    tune_domains,
)

BASE = {
    "env": {"dim": 4, "agents": 2, "vision": 1},
    "eval_episodes": 5,
    "device": "cpu",
    "train": {
        "eval_every": 2,
        "checkpoint_every": 1,
        "rollout": {
            "num_workers": 1,
            "envs_per_worker": 4,
            "episodes_per_request": 4,
            "worker_num_cpus": 0.25,
            "request_timeout_s": 300.0,
        },
        "ppo": {"minibatch_size": 64, "update_epochs": 2},
    },
}


def test_search_space_values_reach_the_config():
    cfg = build_config(
        {
            "base": BASE,
            "updates": 3,
            "learning_rate": 1e-3,
            "graph_lr": 2e-5,
            "ent_coef": 0.02,
            "sparsity": 0.6,
            "warmup_updates": 0,
        }
    )
    assert cfg.train.total_updates == 3 and cfg.train.ppo.learning_rate == 1e-3
    assert cfg.bilevel.graph_lr == 2e-5 and cfg.bilevel.warmup_updates == 0
    assert cfg.model.sparsity == 0.6 and cfg.train.ppo.ent_coef == 0.02
    assert cfg.env.dim == 4 and cfg.train.rollout.num_workers == 1
    assert set(tune_domains()) == set(SEARCH_SPACE)
    assert trial_resources({"base": BASE}).bundles == [{"CPU": 1.0}, {"CPU": 0.25}]
    with pytest.raises(ValueError, match="sparsity must be <= 1"):
        build_config({"base": BASE, "sparsity": 2.0})


@pytest.mark.slow
def test_trials_report_every_update_and_checkpoint(ray_local, tmp_path):
    space = {"base": BASE, "updates": 2, **tune_domains()}
    seen = TrialResults()
    tuner = tune.Tuner(
        tune.with_resources(commformer_trainable, trial_resources(space, learner_cpus=0.25)),
        param_space=space,
        tune_config=tune.TuneConfig(num_samples=2, metric=METRIC, mode="max"),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="cf", callbacks=[seen]),
    )
    results = tuner.fit()
    assert len(results) == 2 and not results.errors
    assert len(seen.by_trial) == 2
    for history in seen.by_trial.values():
        assert [r["update"] for r in history] == [1, 2]
        assert {"train_success_rate", "episodic_return"} <= set(history[0])
        assert "success_rate" in history[1]  # the evaluation of update 2 (eval_every 2)
    for result in results:
        with result.checkpoint.as_directory() as d:
            state = torch.load(f"{d}/latest.pt", weights_only=True)
        assert state["update"] == 2
    configs = [r.config for r in results]
    assert configs[0]["learning_rate"] != configs[1]["learning_rate"]  # sampled
