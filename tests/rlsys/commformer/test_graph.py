"""Graph rules: k in-edges plus the self-loop; straight-through passes gradients."""

import pytest
import torch

from rlsys.commformer.graph import edges_per_receiver, gumbel_topk, straight_through, topk_graph


@pytest.mark.parametrize(("n", "s", "k"), [(3, 0.4, 1), (5, 0.4, 2), (10, 0.4, 4), (5, 1.0, 4)])
def test_edges_per_receiver(n, s, k):
    assert edges_per_receiver(n, s) == k


@pytest.mark.parametrize("s", [0.0, -0.1, 1.5])
def test_sparsity_outside_the_unit_interval_is_refused(s):
    with pytest.raises(ValueError, match=str(s)):
        edges_per_receiver(5, s)


def test_execution_graph_has_exactly_k_in_edges_plus_the_self_loop():
    logits = torch.randn(7, 7, generator=torch.Generator().manual_seed(0))
    for k in (1, 3, 6):
        g = topk_graph(logits, k)
        assert torch.equal(torch.diagonal(g), torch.ones(7))
        assert torch.equal(g.sum(-1), torch.full((7,), k + 1.0))
        # the chosen senders are the k largest off-diagonal logits of each row
        off = logits.clone().fill_diagonal_(float("-inf"))
        for i in range(7):
            chosen = set(torch.nonzero(g[i]).flatten().tolist()) - {i}
            assert chosen == set(off[i].topk(k).indices.tolist())


def test_gumbel_samples_have_k_in_edges_and_follow_the_logits():
    logits = torch.zeros(4, 4)
    logits[0, 3] = 3.0  # receiver 0 strongly prefers sender 3
    g = gumbel_topk(logits, 1, batch=2000, generator=torch.Generator().manual_seed(1))
    assert g.shape == (2000, 4, 4)
    assert torch.equal(g.sum(-1), torch.full((2000, 4), 2.0))
    assert torch.equal(torch.diagonal(g, dim1=-2, dim2=-1), torch.ones(2000, 4))
    share = g[:, 0, 3].mean().item()  # P = e^3 / (e^3 + 2) = 0.91
    assert 0.88 < share < 0.94
    assert 0.28 < g[:, 1, 2].mean().item() < 0.39  # uniform row: 1/3


def test_same_generator_same_graphs():
    logits = torch.randn(5, 5)
    a = gumbel_topk(logits, 2, 10, generator=torch.Generator().manual_seed(3))
    b = gumbel_topk(logits, 2, 10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_straight_through_forward_is_the_hard_graph_and_gradients_reach_the_logits():
    logits = torch.randn(5, 5, requires_grad=True)
    hard = gumbel_topk(logits, 2, 3, generator=torch.Generator().manual_seed(0))
    st = straight_through(hard, logits)
    assert torch.allclose(st, hard)  # forward values: exactly the sampled 0/1 graph
    weights = torch.randn(3, 5, 5)
    (st * weights).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert torch.all(torch.diagonal(logits.grad) == 0)  # the self-loop is not learned


@pytest.mark.parametrize("n,k", [(4, 1), (5, 2), (6, 3)])
def test_row_log_prob_is_the_exact_law_of_the_gumbel_topk_draw(n, k):
    """Over every k-set of senders the probabilities sum to 1 in each row, and they match
    the frequencies of 40,000 Gumbel top-k draws (so the score function is that of the
    graphs the rollouts act with)."""
    import itertools

    from rlsys.commformer.graph import row_log_prob

    logits = torch.randn(n, n, generator=torch.Generator().manual_seed(n)) * 1.5
    graphs, keys = [], []
    for senders in itertools.combinations(range(n - 1), k):
        g = torch.eye(n)
        for i in range(n):
            others = [j for j in range(n) if j != i]
            g[i, [others[s] for s in senders]] = 1.0
        graphs.append(g)
        keys.append(senders)
    p = row_log_prob(torch.stack(graphs), logits).exp()  # [sets, N]
    torch.testing.assert_close(p.sum(0), torch.ones(n), atol=1e-5, rtol=0)
    draws = gumbel_topk(logits, k, 40_000, generator=torch.Generator().manual_seed(1))
    for row in range(n):
        others = [j for j in range(n) if j != row]
        chosen = draws[:, row, others].bool()  # [D, N-1]
        for c, senders in enumerate(keys):
            target = torch.zeros(n - 1, dtype=torch.bool)
            target[list(senders)] = True
            freq = (chosen == target).all(-1).float().mean()
            assert abs(freq - p[c, row]) < 0.012, (row, senders, float(freq), float(p[c, row]))


def test_row_log_prob_differentiates_the_logits_and_refuses_large_k():
    from rlsys.commformer.graph import row_log_prob

    logits = torch.zeros(5, 5, requires_grad=True)
    g = gumbel_topk(logits, 2, 8, generator=torch.Generator().manual_seed(0))
    row_log_prob(g, logits).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    assert (torch.diagonal(logits.grad) == 0).all()
    with pytest.raises(ValueError, match="k <= 6"):
        row_log_prob(torch.ones(1, 9, 9), torch.zeros(9, 9))
