import math

import pytest
import torch

from rlsys.rl.distributions import MaskedCategorical

LOGITS = torch.tensor([[0.3, 2.0, -1.0, 0.5], [1.0, 1.0, 1.0, 5.0]])
MASK = torch.tensor([[True, False, True, True], [False, True, True, False]])


def test_masked_actions_are_never_sampled():
    n = 10_000
    dist = MaskedCategorical(LOGITS.repeat(n, 1), MASK.repeat(n, 1))
    draws = dist.sample(torch.Generator().manual_seed(0)).view(n, 2)
    assert not MASK[0, draws[:, 0]].logical_not().any()
    assert not MASK[1, draws[:, 1]].logical_not().any()
    # The legal ones are drawn with their renormalised probabilities.
    legal = torch.softmax(torch.tensor([0.3, -1.0, 0.5]), 0)
    freq = torch.bincount(draws[:, 0], minlength=4)[[0, 2, 3]] / n
    assert torch.allclose(freq, legal, atol=0.02)
    assert set(draws[:, 1].tolist()) == {1, 2}


def test_entropy_is_over_legal_actions_only():
    dist = MaskedCategorical(LOGITS, MASK)
    p = torch.softmax(torch.tensor([0.3, -1.0, 0.5]), 0)
    assert dist.entropy()[0].item() == pytest.approx(-(p * p.log()).sum().item())
    assert dist.entropy()[1].item() == pytest.approx(math.log(2))
    assert dist.probs[MASK.logical_not()].eq(0).all()


def test_log_prob_legal_and_illegal():
    dist = MaskedCategorical(LOGITS, MASK)
    lp = dist.log_prob(torch.tensor([3, 1]))
    p = torch.softmax(torch.tensor([0.3, -1.0, 0.5]), 0)
    assert lp[0].item() == pytest.approx(p[2].log().item())
    assert lp[1].item() == pytest.approx(math.log(0.5))
    assert dist.log_prob(torch.tensor([1, 3])).eq(float("-inf")).all()


def test_gradients_are_finite_with_masks():
    logits = LOGITS.clone().requires_grad_()
    dist = MaskedCategorical(logits, MASK)
    (dist.log_prob(torch.tensor([0, 2])).sum() + dist.entropy().sum()).backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad[MASK.logical_not()].eq(0).all()


def test_mode_unbatched_and_all_illegal_row():
    assert MaskedCategorical(LOGITS[0], MASK[0]).mode().item() == 3
    with pytest.raises(ValueError):
        MaskedCategorical(LOGITS, torch.zeros_like(MASK))
