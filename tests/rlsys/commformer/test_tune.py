"""CommFormer's Tune trainable: real Ray Tune trials that report every update and
checkpoint into tune.Checkpoint (weights-only torch files)."""

import pytest
import torch
from ray import tune
from tune_results import TrialResults

from rlsys.commformer.tune import SEARCH_SPACE, WORKLOAD
from rlsys.config import from_dict
from rlsys.tuner.space import parse_space, tune_domains
from rlsys.tuner.workloads import trainer_workload_trial, with_budget

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


def base_config(updates: int):
    cfg = from_dict(WORKLOAD.config_cls, BASE, source="base")
    return with_budget(WORKLOAD, cfg, updates)


def test_search_space_values_reach_the_config():
    base = base_config(3)
    cfg = WORKLOAD.build(
        base,
        {"train.ppo.learning_rate": 1e-3, "bilevel.graph_lr": 2e-5, "train.ppo.ent_coef": 0.02,
         "model.sparsity": 0.6, "bilevel.warmup_updates": 0},
    )  # fmt: skip
    assert cfg.train.total_updates == 3
    assert cfg.train.ppo.learning_rate == 1e-3 and cfg.bilevel.graph_lr == 2e-5
    assert cfg.bilevel.warmup_updates == 0 and cfg.model.sparsity == 0.6
    assert cfg.train.ppo.ent_coef == 0.02
    assert cfg.env.dim == 4 and cfg.train.rollout.num_workers == 1
    assert set(tune_domains(parse_space(SEARCH_SPACE))) == set(SEARCH_SPACE)
    WORKLOAD.check_space(base, parse_space(SEARCH_SPACE))
    with pytest.raises(ValueError, match="sparsity must be <= 1"):
        WORKLOAD.build(base, {"model.sparsity": 2.0})


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
        assert {"train_success_rate", "episodic_return"} <= set(history[0])
        assert "success_rate" in history[1]  # the evaluation of update 2 (eval_every 2)
    for result in results:
        with result.checkpoint.as_directory() as d:
            state = torch.load(f"{d}/latest.pt", weights_only=True)
        assert state["update"] == 2
    configs = [r.config for r in results]
    key = "train.ppo.learning_rate"
    assert configs[0][key] != configs[1][key]  # sampled
