"""A short real CommFormer run on Ray rollout actors: it learns, logs and resumes."""

import dataclasses
import functools
import json

import pytest
import torch

from rlsys.commformer.evaluate import run_episodes
from rlsys.commformer.model import CommFormerPolicy
from rlsys.commformer.train import (
    CommFormerTrainConfig,
    EnvConfig,
    TeamEnvFn,
    make_learner,
    make_policy,
    make_team_env,
    policy_kwargs,
    train,
)


def _cfg(updates, seed=1):
    cfg = CommFormerTrainConfig(env=EnvConfig(dim=5, agents=3, vision=1), eval_episodes=50)
    cfg.bilevel = dataclasses.replace(cfg.bilevel, warmup_updates=3)
    cfg.train = dataclasses.replace(
        cfg.train, seed=seed, total_updates=updates, eval_every=updates, checkpoint_every=5
    )
    cfg.train.rollout = dataclasses.replace(
        cfg.train.rollout, worker_num_cpus=0.5, request_timeout_s=300.0
    )
    cfg.device = "cpu"
    return cfg


@pytest.mark.slow
def test_short_5x5_run_improves_success_over_the_untrained_policy(ray_local, tmp_path):
    cfg = _cfg(25)
    untrained = CommFormerPolicy(**policy_kwargs(cfg))
    before = run_episodes(untrained, lambda rm=None: make_team_env(cfg.env, rm), 50)
    summary = train(cfg, tmp_path, progress=False)
    after = summary["eval"]
    print(f"5x5/3 success: untrained {before['success_rate']:.2f} -> {after['success_rate']:.2f}")
    assert after["success_rate"] >= before["success_rate"] + 0.15
    assert after["steps"] < before["steps"]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rows] == list(range(1, 26))
    assert "losses/grad_norm/graph" in rows[-1] and "losses/grad_norm/network" in rows[-1]
    final = torch.load(tmp_path / "final.pt", weights_only=True)
    assert final["meta"]["env"]["dim"] == 5 and final["meta"]["policy_kwargs"]["n_agents"] == 3
    # the learned graph moved away from its all-ones initialisation
    assert not torch.equal(final["model"]["edge_logits"], torch.ones(3, 3))


def _trainer(cfg, run_dir, resume=False):
    from rlsys.rl.trainer import Trainer

    kwargs = policy_kwargs(cfg)
    return Trainer(
        cfg.train,
        TeamEnvFn(cfg.env),
        functools.partial(make_policy, kwargs),
        run_dir,
        resume=resume,
        learner_fn=make_learner(cfg),
        progress=False,
    )


@pytest.mark.slow
def test_resume_continues_bit_identically(ray_local, tmp_path):
    """Stop after 4 of 6 updates (past the 3-update warm-up), resume: the same weights,
    graph logits and optimiser states as an uninterrupted run."""
    cfg = _cfg(6)
    whole = _trainer(cfg, tmp_path / "whole")
    whole.train()
    first = _trainer(cfg, tmp_path / "cut")
    first.train(stop_after=4)
    resumed = _trainer(cfg, tmp_path / "cut", resume=True)
    assert resumed.update == 4 and not bool(resumed.policy.warmup)
    resumed.train()
    for (name, a), b in zip(
        whole.policy.state_dict().items(), resumed.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert whole.learner.updates == resumed.learner.updates == 6


def test_init_weights_fine_tunes_an_ungated_policy_with_gates(tmp_path):
    """``init_weights``: every stored weight is copied, a gate head the file lacks keeps
    its initialisation; a file for another team size is a one-line error."""
    from rlsys.commformer.train import load_initial_weights

    kwargs = policy_kwargs(_cfg(1))
    ungated = CommFormerPolicy(**{**kwargs, "seed": 7})
    torch.save({"model": ungated.state_dict(), "meta": {}}, tmp_path / "final.pt")
    gated = CommFormerPolicy(**{**kwargs, "gating": True, "gate_open_init": 0.9})
    gate_before = {k: v.clone() for k, v in gated.state_dict().items() if k.startswith("gate.")}
    load_initial_weights(gated, str(tmp_path / "final.pt"))
    for name, value in ungated.state_dict().items():
        assert torch.equal(gated.state_dict()[name], value), name
    for name, value in gate_before.items():
        assert torch.equal(gated.state_dict()[name], value), name
    other = CommFormerPolicy(**{**kwargs, "n_agents": 4})
    with pytest.raises(ValueError, match="do not fit"):
        load_initial_weights(other, str(tmp_path / "final.pt"))
    with pytest.raises(ValueError, match="missing|no such|not found|exist"):
        load_initial_weights(gated, str(tmp_path / "nope.pt"))


def test_simple_spread_partial_observability_shrinks_the_observation():
    """mpe2's nearest-neighbour observations (the setting where messages carry news):
    one landmark and one other agent instead of all; a predator-prey env refuses them."""
    pytest.importorskip("mpe2")
    from rlsys.commformer.train import make_team_env

    full = make_team_env(EnvConfig(name="simple_spread", agents=3))
    partial = make_team_env(
        EnvConfig(name="simple_spread", agents=3, landmark_neighbors=1, agent_neighbors=1)
    )
    agent = full.possible_agents[0]
    # own velocity and position, landmarks, other agents, their messages (2-D each)
    assert full.observation_space(agent).shape == (2 + 2 + 3 * 2 + 2 * 2 + 2 * 2,)
    assert partial.observation_space(agent).shape == (2 + 2 + 2 + 2 + 2,)
    obs, _ = partial.reset(seed=0)
    assert obs[agent].shape == (10,)
    with pytest.raises(ValueError, match="simple_spread options, not predator_prey"):
        EnvConfig(name="predator_prey", landmark_neighbors=1)
