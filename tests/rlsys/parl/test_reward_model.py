"""Reward ensemble: Bradley-Terry loss and gradient by hand, query selection, fitting."""

import math

import numpy as np
import pytest
import torch

from rlsys.parl.reward_model import (
    RewardEnsemble,
    RewardLearner,
    RewardModelConfig,
    bradley_terry_loss,
    select_queries,
)
from rlsys.parl.teachers import Teacher, TeacherConfig


def test_bradley_terry_loss_and_gradient_on_hand_made_segments():
    # R0 - R1 = 1 with label 1, = -2 with label 0.5, a skipped query (NaN) is ignored
    ret0 = torch.tensor([2.0, 0.0, 5.0], requires_grad=True)
    ret1 = torch.tensor([1.0, 2.0, 0.0])
    labels = torch.tensor([1.0, 0.5, float("nan")])
    loss = bradley_terry_loss(ret0, ret1, labels)

    def sig(x):
        return 1 / (1 + math.exp(-x))

    expected = -(math.log(sig(1)) + 0.5 * math.log(sig(-2)) + 0.5 * math.log(sig(2))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    # d(-U)/dR0 = -(y - sigmoid(R0 - R1)) / Q
    grad = [-(1 - sig(1)) / 2, -(0.5 - sig(-2)) / 2, 0.0]
    np.testing.assert_allclose(ret0.grad.numpy(), grad, rtol=1e-6)


def test_no_label_means_zero_loss():
    assert bradley_terry_loss(torch.ones(2), torch.zeros(2), torch.full((2,), math.nan)) == 0


def test_select_queries_picks_disagreement_and_entropy():
    gen = torch.Generator().manual_seed(0)
    probs = torch.tensor(
        [[0.5, 0.9, 0.1, 0.5], [0.5, 0.3, 0.1, 0.54]]
    )  # [M=2, C=4]: column 1 splits the members, column 0 is maximally uncertain
    assert select_queries(probs, 1, "disagreement", gen).tolist() == [1]
    assert select_queries(probs, 1, "entropy", gen).tolist() == [0]
    uniform = select_queries(probs, 4, "uniform", gen)
    assert sorted(uniform.tolist()) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="query selection 'best'"):
        select_queries(probs, 1, "best", gen)


def test_fitted_ensemble_recovers_the_teachers_preferences():
    # true reward r(s, a) = s_0 - |a|: 400 oracle-labelled pairs of 5-step segments
    rng = np.random.default_rng(0)

    def segments(q):
        obs = rng.normal(size=(q, 5, 2)).astype(np.float32)
        act = rng.uniform(-1, 1, size=(q, 5, 1)).astype(np.float32)
        return obs, act, obs[..., 0] - np.abs(act[..., 0])

    learner = RewardLearner(2, 1, RewardModelConfig(members=2, epochs=30), seed=1)
    o0, a0, r0 = segments(400)
    o1, a1, r1 = segments(400)
    learner.data.add(o0, a0, o1, a1, Teacher(TeacherConfig("oracle")).label(r0, r1))
    stats = learner.fit()
    assert stats["reward_accuracy"] > 0.9
    # held-out pairs
    o0, a0, r0 = segments(500)
    o1, a1, r1 = segments(500)
    with torch.no_grad():
        pred = learner.model.reward(torch.tensor(o0), torch.tensor(a0)).sum(-1) - (
            learner.model.reward(torch.tensor(o1), torch.tensor(a1)).sum(-1)
        )
    agree = np.mean((pred.numpy() > 0) == (r0.sum(1) > r1.sum(1)))
    assert agree > 0.85
    # state round trip
    copy = RewardLearner(2, 1, RewardModelConfig(members=2, epochs=30), seed=5)
    copy.load_state_dict(learner.state_dict())
    assert len(copy.data) == 400
    for a, b in zip(copy.model.parameters(), learner.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_seed_picks_the_initialisation_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a = RewardLearner(2, 1, RewardModelConfig(), seed=1)
    b = RewardLearner(2, 1, RewardModelConfig(), seed=2)
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(next(a.model.parameters()), next(b.model.parameters()))


@pytest.mark.parametrize("epochs", [1, 6])
def test_the_t2_term_enters_one_upper_step_per_fit(epochs):
    """T2 is linear in the rewards and never converges: it takes one step per fit (on
    every label), not one per minibatch and epoch."""
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(200, 3, 2)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(200, 3, 1)).astype(np.float32)
    cfg = RewardModelConfig(members=2, epochs=epochs, batch_size=32)
    learner = RewardLearner(2, 1, cfg, seed=0)
    learner.data.add(obs[:100], act[:100], obs[100:], act[100:], np.ones(100, np.float32))
    seen = []

    def extra_loss(model):
        out = model.reward(torch.as_tensor(obs), torch.as_tensor(act)).mean()
        seen.append(out.detach())
        return -out

    before = [p.detach().clone() for p in learner.model.parameters()]
    learner.fit(extra_loss)
    assert len(seen) == 1
    after = list(learner.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_pessimism_subtracts_the_members_standard_deviation():
    """reward = mean - pessimism * std over members; 0 (the default) is the plain mean, and
    the fit (Bradley-Terry per member) does not depend on it."""
    torch.manual_seed(0)
    plain = RewardEnsemble(3, 1, members=4, hidden_sizes=(8,))
    careful = RewardEnsemble(3, 1, members=4, hidden_sizes=(8,), pessimism=2.0)
    careful.load_state_dict(plain.state_dict())
    obs, actions = torch.randn(7, 3), torch.randn(7, 1)
    per_member = plain(obs, actions)
    assert torch.allclose(plain.reward(obs, actions), per_member.mean(0))
    expected = per_member.mean(0) - 2.0 * per_member.std(0)
    assert torch.allclose(careful.reward(obs, actions), expected)
    assert (careful.reward(obs, actions) < plain.reward(obs, actions)).all()
    assert torch.equal(careful(obs, actions), per_member)
