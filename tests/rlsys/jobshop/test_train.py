"""A short real GNN-PPO run beats the untrained policy on validation.

10x5 instances (la01's size): 6x6 ones need so few decisions (3-5 per episode) that 40
updates move the greedy makespan less than the validation noise."""

import pytest
import torch

from envs.jobshop.env import ISBJSSPEnv
from envs.jobshop.instance import random_instance
from rlsys.config import from_dict
from rlsys.jobshop.cli import export_best_checkpoint
from rlsys.jobshop.policy import JobShopGNNPolicy, PolicyConfig
from rlsys.jobshop.train import (
    JobshopTrainConfig,
    Validator,
    load_initial_weights,
    make_policy,
    train,
)

CONFIG = {
    "instances": {"jobs": [10, 10], "machines": [5, 5], "shutdown_probs": [0.0, 0.05]},
    "validation": {
        "sizes": [[10, 5]],
        "instances_per_size": 12,
        "shutdown_probs": [0.0, 0.05],
        "seeds": 2,
    },
    "policy": {"hidden": 32, "layers": 2},
    "train": {
        "seed": 0,
        "total_updates": 40,
        "checkpoint_every": 40,
        "eval_every": 40,
        "ppo": {"gamma": 1.0, "learning_rate": 0.001, "update_epochs": 3, "minibatch_size": 128},
        "rollout": {"num_workers": 2, "envs_per_worker": 4, "episodes_per_request": 16},
    },
}


def test_training_improves_validation_makespan(ray_local, tmp_path):
    cfg = from_dict(JobshopTrainConfig, CONFIG)
    validator = Validator(cfg.validation)
    torch.manual_seed(cfg.train.seed)  # the trainer seeds torch the same way before building
    untrained = validator(make_policy(cfg.policy), 0)["val/makespan"]
    summary = train(cfg, tmp_path, progress=False)
    trained = validator(JobShopGNNPolicy.load(tmp_path / "final.pt"), 0)["val/makespan"]
    assert summary["updates"] == 40
    assert trained < untrained, (trained, untrained)
    assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "checkpoints").is_dir()
    assert export_best_checkpoint(tmp_path) == 40
    best = JobShopGNNPolicy.load(tmp_path / "best.pt")
    assert validator(best, 0)["val/makespan"] == trained


def test_validator_makespans_are_the_cases_behind_its_mean():
    cfg = from_dict(
        JobshopTrainConfig,
        {**CONFIG, "validation": {"sizes": [[6, 4]], "instances_per_size": 3,
                                  "shutdown_probs": [0.0, 0.1], "seeds": 1}},
    )  # fmt: skip
    validator = Validator(cfg.validation)
    policy = make_policy(cfg.policy)
    policy.train()
    makespans = validator.makespans(policy)
    assert makespans.shape == (len(validator.cases),) == (6,)
    assert policy.training  # restored after the greedy episodes
    metrics = validator(policy, 0)
    assert metrics["val/makespan"] == makespans.mean()
    assert metrics["val/ratio_to_mwkr"] == (makespans / validator.mwkr).mean()


def test_a_reserve_run_keeps_its_decision_model_in_every_file(ray_local, tmp_path):
    cfg = from_dict(
        JobshopTrainConfig,
        {
            **CONFIG,
            "validation": {"sizes": [[10, 5]], "instances_per_size": 1, "shutdown_probs": [0.0]},
            "policy": {"hidden": 8, "layers": 1, "decisions": "reserve"},
            "train": {**CONFIG["train"], "total_updates": 2, "checkpoint_every": 1,
                      "eval_every": 1},
        },
    )  # fmt: skip
    train(cfg, tmp_path, progress=False)
    assert export_best_checkpoint(tmp_path) in (1, 2)
    for name in ("final.pt", "best.pt", "checkpoints/ckpt_1.pt"):
        assert JobShopGNNPolicy.load(tmp_path / name).config.decisions == "reserve", name


def test_a_selection_set_takes_instances_the_validation_set_does_not():
    from rlsys.jobshop.train import ValidationConfig, validation_set

    def times(first_seed=None):
        extra = {} if first_seed is None else {"first_seed": first_seed}
        cfg = ValidationConfig(
            sizes=[[6, 4], [8, 4]], instances_per_size=3, shutdown_probs=[0.0], seeds=1, **extra
        )
        return [inst.times.tobytes() for inst, _, _ in validation_set(cfg)]

    default = times()
    assert default == times(10_000)  # the training runs' validation sets are unchanged
    selection = times(50_000)  # bench/jobshop_select.py's default
    assert len(set(default)) == len(set(selection)) == 6
    assert not set(default) & set(selection)


def test_machine_load_features_start_from_a_file_without_them(tmp_path):
    torch.manual_seed(5)
    source = JobShopGNNPolicy(hidden=8, layers=2)
    path = source.save(tmp_path / "plain.pt")
    policy = make_policy(PolicyConfig(hidden=8, layers=2, machine_load=True))
    load_initial_weights(policy, str(path))
    obs = [ISBJSSPEnv(random_instance(8, 4, seed=s), 0.05).reset(seed=s)[0] for s in range(3)]
    # the new columns start at zero: the same logits and values as the file's policy
    for a, b in zip(source(source.collate(obs)), policy(policy.collate(obs)), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    assert policy.encoder[0].weight[:, -3:].abs().sum() == 0
    with_load = policy.save(tmp_path / "load.pt")
    plain = make_policy(PolicyConfig(hidden=8, layers=2))
    with pytest.raises(ValueError, match="machine-load features"):
        load_initial_weights(plain, str(with_load))


def test_a_deeper_policy_starts_from_a_file_as_the_file_acts_and_its_new_layers_learn(tmp_path):
    torch.manual_seed(6)
    source = JobShopGNNPolicy(hidden=8, layers=2, decisions="reserve")
    with torch.no_grad():  # a trained file's last norm scales and shifts: hand it over
        source.norms[1].weight.uniform_(0.5, 2.0)
        source.norms[1].bias.uniform_(-1.0, 1.0)
    path = source.save(tmp_path / "two.pt")
    deep = make_policy(PolicyConfig(hidden=8, layers=4, decisions="reserve"))
    load_initial_weights(deep, str(path))
    obs = [
        ISBJSSPEnv(random_instance(10, 5, seed=s), 0.05, decisions="reserve").reset(seed=s)[0]
        for s in range(4)
    ]
    logits, mask, values = deep(deep.collate(obs))
    for a, b in zip(source(source.collate(obs)), (logits, mask, values), strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    for k in (0, 1):  # the file's layers are its own (the norm's affine moved to the top)
        for name, value in source.convs[k].state_dict().items():
            assert torch.equal(deep.convs[k].state_dict()[name], value)
    assert torch.equal(deep.norms[3].weight, source.norms[1].weight)
    # the new layers are not dead: their last weights get gradients from the first step
    (logits.masked_fill(~mask, 0).sum() + values.sum()).backward()
    for k in (2, 3):
        assert deep.convs[k].mlp[2].weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="a deeper policy of its width"):
        load_initial_weights(make_policy(PolicyConfig(hidden=8, layers=1)), str(path))
    with pytest.raises(ValueError, match="a deeper policy of its width"):
        load_initial_weights(make_policy(PolicyConfig(hidden=16, layers=4)), str(path))
