import torch

from rlsys.jobshop.nn import TypedGINConv


def _manual(conv, x, edge_index, edge_type):
    N, F = x.shape
    T = conv.num_edge_types
    parts = [(1 + conv.eps) * x]
    for t in range(T):
        agg = torch.zeros(N, F)
        for i in range(N):
            src = edge_index[0][(edge_index[1] == i) & (edge_type == t)]
            if len(src):
                agg[i] = x[src].mean(0)
        parts.append(agg)
    return conv.mlp(torch.cat(parts, dim=-1))


def test_shapes_and_manual_equivalence():
    torch.manual_seed(0)
    x = torch.randn(5, 4)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 1, 0], [1, 2, 3, 4, 0, 0, 2]])
    edge_type = torch.tensor([0, 0, 1, 1, 2, 2, 2])
    conv = TypedGINConv(4, 8, num_edge_types=3)
    with torch.no_grad():
        conv.eps.fill_(0.25)
    out = conv(x, edge_index, edge_type)
    assert out.shape == (5, 8)
    assert torch.allclose(out, _manual(conv, x, edge_index, edge_type), atol=1e-6)


def test_edge_types_are_kept_apart():
    """Swapping the type of an edge changes the output (plain GIN would not notice)."""
    torch.manual_seed(1)
    x = torch.randn(3, 2)
    edge_index = torch.tensor([[0, 1], [2, 2]])
    conv = TypedGINConv(2, 3, num_edge_types=2)
    a = conv(x, edge_index, torch.tensor([0, 1]))
    b = conv(x, edge_index, torch.tensor([1, 0]))
    assert torch.allclose(a[:2], b[:2]) and not torch.allclose(a[2], b[2])


def test_isolated_nodes_and_gradients():
    x = torch.randn(4, 3, requires_grad=True)
    conv = TypedGINConv(3, 3, num_edge_types=2)
    out = conv(x, torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long))
    assert out.shape == (4, 3)
    out.sum().backward()
    assert x.grad is not None and conv.eps.grad is not None


def test_size_agnostic_mean():
    """A node with many same-typed neighbours of equal features gets the same message as one
    with a single such neighbour."""
    conv = TypedGINConv(2, 2, num_edge_types=1)
    x = torch.ones(6, 2)
    one = conv(x, torch.tensor([[1], [0]]), torch.tensor([0]))
    many = conv(
        x, torch.tensor([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]), torch.zeros(5, dtype=torch.long)
    )
    assert torch.allclose(one[0], many[0])


def test_single_neighbour_gather_equals_the_scatter_mean_bit_for_bit():
    """Job chains (one predecessor, one successor per node, chain ends without one): the
    gather path gives exactly the propagate path's output and gradients."""
    torch.manual_seed(2)
    chain = torch.tensor([[0, 1, 2, 4, 5], [1, 2, 3, 5, 6]])  # jobs 0-1-2-3 and 4-5-6
    edge_index = torch.cat([chain, chain.flip(0)], dim=1)
    edge_type = torch.cat([torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.long)])
    neighbours = TypedGINConv.single_neighbours(edge_index, edge_type, 7, 2)
    assert neighbours.tolist() == [[7, 1], [0, 2], [1, 3], [2, 7], [7, 5], [4, 6], [5, 7]]
    conv = TypedGINConv(4, 8, num_edge_types=2)
    with torch.no_grad():
        conv.eps.fill_(0.3)
    x = torch.randn(7, 4, requires_grad=True)
    a = conv(x, edge_index, edge_type)
    b = conv(x, edge_index, edge_type, neighbours)
    assert torch.equal(a, b)
    (grad_a,) = torch.autograd.grad(a.square().sum(), x)
    (grad_b,) = torch.autograd.grad(b.square().sum(), x)
    assert torch.allclose(grad_a, grad_b, atol=1e-6)


def test_forward_grouped_equals_forward_on_the_concatenated_input():
    """The block form (group part multiplied once per group, products gathered) gives
    ``forward``'s outputs and input gradients on ``cat([h, group_x[group]])`` up to rounding."""
    torch.manual_seed(4)
    chain = torch.tensor([[0, 1, 2, 4, 5], [1, 2, 3, 5, 6]])  # jobs 0-1-2-3 and 4-5-6
    edge_index = torch.cat([chain, chain.flip(0)], dim=1)
    edge_type = torch.cat([torch.zeros(5, dtype=torch.long), torch.ones(5, dtype=torch.long)])
    neighbours = TypedGINConv.single_neighbours(edge_index, edge_type, 7, 2)
    conv = TypedGINConv(5, 8, num_edge_types=2, hidden=6)
    with torch.no_grad():
        conv.eps.fill_(-0.2)
    h = torch.randn(7, 3, requires_grad=True)
    group_x = torch.randn(3, 2, requires_grad=True)  # 3 groups, 2 shared features
    group = torch.tensor([0, 2, 1, 0, 1, 1, 2])
    whole = conv(torch.cat([h, group_x[group]], dim=-1), edge_index, edge_type, neighbours)
    blocks = conv.forward_grouped(h, group_x, group, neighbours)
    assert blocks.shape == (7, 8)
    assert torch.allclose(whole, blocks, atol=1e-6)
    grads_whole = torch.autograd.grad(whole.square().sum(), [h, group_x, conv.eps])
    grads_blocks = torch.autograd.grad(blocks.square().sum(), [h, group_x, conv.eps])
    for a, b in zip(grads_whole, grads_blocks, strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    # a node's chain neighbours matter: moving one changes exactly the nodes that read it
    h2 = h.detach().clone()
    h2[3] += 1.0
    moved = conv.forward_grouped(h2, group_x.detach(), group, neighbours)
    changed = (moved - blocks.detach()).abs().sum(-1) > 1e-6
    assert changed.tolist() == [False, False, True, True, False, False, False]


def test_forward_grouped_without_autograd_follows_every_weight_change():
    """The block weights kept between calls without autograd must be rebuilt after an
    optimizer step, ``load_state_dict`` and ``reset_parameters``: each output equals that of
    a fresh copy of the layer, which has nothing kept."""
    import copy

    torch.manual_seed(5)
    chain = torch.tensor([[0, 1, 3], [1, 2, 4]])
    edge_index = torch.cat([chain, chain.flip(0)], dim=1)
    edge_type = torch.cat([torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.long)])
    neighbours = TypedGINConv.single_neighbours(edge_index, edge_type, 5, 2)
    conv = TypedGINConv(6, 4, num_edge_types=2)
    h, group_x, group = torch.randn(5, 4), torch.randn(2, 2), torch.tensor([0, 1, 1, 0, 1])

    def check() -> torch.Tensor:
        with torch.no_grad():
            kept = conv.forward_grouped(h, group_x, group, neighbours)
            fresh = copy.deepcopy(conv)
            fresh.__dict__.pop("_blocks", None)
            assert torch.equal(kept, fresh.forward_grouped(h, group_x, group, neighbours))
        return kept

    first = check()
    opt = torch.optim.SGD(conv.parameters(), lr=0.5)
    conv.forward_grouped(h, group_x, group, neighbours).square().sum().backward()
    opt.step()
    stepped = check()
    assert not torch.equal(first, stepped)
    conv.load_state_dict(TypedGINConv(6, 4, num_edge_types=2).state_dict())
    loaded = check()
    assert not torch.equal(stepped, loaded)
    with torch.no_grad():
        conv.eps.fill_(0.7)
    assert not torch.equal(loaded, check())
    conv.reset_parameters()
    check()


def test_single_neighbours_refuses_two_sources_of_one_type():
    edge_index = torch.tensor([[1, 2], [0, 0]])
    assert TypedGINConv.single_neighbours(edge_index, torch.tensor([0, 0]), 3, 1) is None
    assert TypedGINConv.single_neighbours(edge_index, torch.tensor([0, 1]), 3, 2) is not None
    empty = TypedGINConv.single_neighbours(
        torch.empty(2, 0, dtype=torch.long), torch.empty(0, dtype=torch.long), 2, 2
    )
    assert empty.tolist() == [[2, 2], [2, 2]]
