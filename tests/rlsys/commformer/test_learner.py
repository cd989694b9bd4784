"""The bilevel alternation: which optimiser steps in which epoch, warm-up and freezing."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rlsys.commformer.learner import BilevelConfig, BilevelLearner
from rlsys.commformer.model import CommFormerPolicy
from rlsys.rl.ppo import PPOConfig


def _batch(policy, steps=40, seed=0):
    rng = np.random.default_rng(seed)
    obs = [rng.random((4, 11)).astype(np.float32) for _ in range(steps)]
    actions, logp, values, extras = policy.act(obs, generator=torch.Generator().manual_seed(seed))
    adv = rng.standard_normal(actions.shape).astype(np.float32)
    return SimpleNamespace(
        obs=obs,
        actions=actions,
        logp=logp,
        values=values,
        rewards=adv,
        terminated=np.zeros(steps, dtype=bool),
        episode_lengths=np.array([steps]),
        bootstrap_values=np.zeros((1, *actions.shape[1:]), dtype=np.float32),
        policy_extras=extras,
    )


def _adam_steps(learner, group):
    params = [p for g in learner.groups if g.name == group for p in g.params]
    states = [learner.optimizers[group].state.get(p, {}) for p in params]
    return [int(s["step"]) if "step" in s else 0 for s in states]


def _learner(epochs=10, **bilevel):
    policy = CommFormerPolicy(n_agents=4, obs_dim=11, n_actions=5, seed=0)
    cfg = PPOConfig(update_epochs=epochs, minibatch_size=20, learning_rate=5e-4)
    bl = BilevelConfig(**{"warmup_updates": 0, **bilevel})
    return policy, BilevelLearner(policy, cfg, bl, total_updates=10, seed=0)


def test_every_fifth_epoch_steps_only_the_graph_logits():
    policy, learner = _learner(epochs=10, graph_every=5)
    batch = _batch(policy)
    stats = learner.update(batch)
    # 2 minibatches per epoch: network in 8 epochs, graph in 2 (epochs 5 and 10)
    assert set(_adam_steps(learner, "network")) == {16}
    assert _adam_steps(learner, "graph") == [4]
    assert stats["epochs"] == 10 and "grad_norm/graph" in stats


def test_warmup_keeps_full_communication_and_the_logits_still():
    policy, learner = _learner(epochs=5, warmup_updates=2)
    assert bool(policy.warmup) and torch.equal(policy.execution_graph(), torch.ones(4, 4))
    before = policy.edge_logits.detach().clone()
    learner.update(_batch(policy))
    assert torch.equal(policy.edge_logits, before) and bool(policy.warmup)
    learner.update(_batch(policy, seed=1))
    assert not bool(policy.warmup)  # the phase for the next rollout (update 2)
    learner.update(_batch(policy, seed=2))
    assert not torch.equal(policy.edge_logits, before)


def test_freezing_stops_graph_updates_and_graph_sampling():
    policy, learner = _learner(epochs=5, freeze_fraction=0.2)  # frozen from update 2 of 10
    batch = _batch(policy)
    learner.update(batch)
    assert bool(policy.sampling)
    learner.update(batch)
    assert not bool(policy.sampling)
    before = policy.edge_logits.detach().clone()
    learner.update(batch)
    assert torch.equal(policy.edge_logits, before)


@pytest.mark.parametrize("graph", ["full", "none", "random"])
def test_fixed_graphs_never_step_the_logits(graph):
    policy = CommFormerPolicy(n_agents=4, obs_dim=11, n_actions=5, graph=graph)
    learner = BilevelLearner(
        policy, PPOConfig(update_epochs=5), BilevelConfig(warmup_updates=0), 10
    )
    learner.update(_batch(policy))
    assert _adam_steps(learner, "graph") == [0]
    assert set(_adam_steps(learner, "network")) == {5}  # every epoch goes to the network


def test_learner_state_round_trip_restores_the_phase():
    policy, learner = _learner(epochs=5, warmup_updates=1)
    learner.update(_batch(policy))
    state = learner.state_dict()
    policy2, learner2 = _learner(epochs=5, warmup_updates=1)
    assert bool(policy2.warmup)
    learner2.load_state_dict(state)
    assert learner2.updates == 1 and not bool(policy2.warmup)
