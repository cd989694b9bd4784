"""CommFormerPolicy: shapes, the acting = learning graph rule, seeds, flags, decoder order.

Three tests guard against the defects of the public reference code: training on the raw
continuous logits while acting on top-k graphs; ``--seed`` not changing the model's
initialisation; a flag whose meaning was inverted.
"""

import numpy as np
import pytest
import torch

from rlsys.commformer.model import CommFormerPolicy


def _obs(n=5, b=6, dim=29, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.random((n, dim)).astype(np.float32) for _ in range(b)]


def _tensors(extras):
    return {k: torch.as_tensor(v) for k, v in extras.items()}


def _policy(**kw):
    kw = {"n_agents": 5, "obs_dim": 29, "n_actions": 5, **kw}
    return CommFormerPolicy(**kw)


@pytest.mark.parametrize("gating", [False, True])
def test_act_shapes_and_evaluate_reproduces_the_acting_policy(gating):
    """Defect 1: the policy that learns is the policy that acted. ``evaluate`` on the
    stored graphs (and gates) gives back the exact log-probabilities and values of
    ``act``, including with non-uniform logits, where the continuous relaxation differs."""
    policy = _policy(gating=gating)
    with torch.no_grad():
        policy.edge_logits.copy_(torch.randn(5, 5, generator=torch.Generator().manual_seed(4)))
    obs = _obs()
    actions, logp, values, extras = policy.act(obs, generator=torch.Generator().manual_seed(0))
    assert actions.shape == logp.shape == values.shape == (6, 5)
    assert extras["graph"].shape == (6, 5, 5) and extras["graph"].dtype == np.uint8
    assert ("gate" in extras) == gating
    new_logp, entropy, new_values = policy.evaluate(obs, torch.as_tensor(actions), _tensors(extras))
    np.testing.assert_allclose(new_logp.detach().numpy(), logp, atol=1e-5)
    np.testing.assert_allclose(new_values.detach().numpy(), values, atol=1e-5)
    assert entropy.shape == (6, 5) and (entropy > 0).all()
    # and the stored graph matters: another graph scores the same actions differently
    other = dict(_tensors(extras))
    other["graph"] = torch.ones_like(other["graph"])
    changed, _, changed_v = policy.evaluate(obs, torch.as_tensor(actions), other)
    assert not torch.allclose(changed_v, new_values, atol=1e-4)


def test_learning_pass_uses_the_stored_hard_graph_not_the_relaxation():
    """The forward pass of evaluate equals a pass with the hard graph as a constant (no
    softmax weights leak into the forward values), while gradients reach the logits."""
    policy = _policy()
    obs = _obs()
    actions, _, _, extras = policy.act(obs, generator=torch.Generator().manual_seed(1))
    ex = _tensors(extras)
    logp, _, values = policy.evaluate(obs, torch.as_tensor(actions), ex)
    policy.config.graph = "random"  # evaluate then takes the stored graph as a constant
    const_logp, _, const_values = policy.evaluate(obs, torch.as_tensor(actions), ex)
    policy.config.graph = "learned"
    assert torch.allclose(logp, const_logp, atol=1e-6)
    assert torch.allclose(values, const_values, atol=1e-6)
    (-logp.sum() + values.sum()).backward()
    assert policy.edge_logits.grad.abs().sum() > 0


def test_seed_changes_the_initialisation_and_the_same_seed_repeats_it():
    """Defect 2: the model seed decides the initial weights (and the random graph)."""
    a, b, c = _policy(seed=0), _policy(seed=0), _policy(seed=1)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    differs = [
        n
        for (n, pa), pc in zip(a.state_dict().items(), c.state_dict().values(), strict=True)
        if not torch.equal(pa, pc)
    ]
    assert "obs_embed.0.weight" in differs and "actor_head.weight" in differs
    # and building a policy does not consume or depend on the global torch RNG
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    _policy(seed=5)
    assert torch.equal(torch.rand(1), before)


def test_every_graph_flag_means_what_its_name_says():
    """Defect 3: 'none' = no messages, 'full' = all, 'random' = fixed at density S,
    'learned' = top-k of the logits; k follows --sparsity; gating adds gates."""
    n = 5
    eye = torch.eye(n)
    obs = _obs()
    for graph, k_expected in (("none", 0), ("full", n - 1), ("random", 2), ("learned", 2)):
        policy = _policy(graph=graph)
        g = policy.execution_graph()
        assert torch.equal(torch.diagonal(g), torch.ones(n)), graph
        assert torch.equal(g.sum(-1), torch.full((n,), k_expected + 1.0)), graph
        _, _, _, extras = policy.act(obs, generator=torch.Generator().manual_seed(0))
        sent = policy.messages_per_step(torch.as_tensor(extras["graph"]).float())
        assert torch.equal(sent, torch.full((6,), float(n * k_expected))), graph
        if graph == "none":
            assert torch.equal(torch.as_tensor(extras["graph"]).float()[0], eye)
    # random: fixed across calls, drawn from the seed
    r = _policy(graph="random", seed=3)
    assert torch.equal(r.execution_graph(), _policy(graph="random", seed=3).execution_graph())
    assert not torch.equal(r.execution_graph(), _policy(graph="random", seed=4).execution_graph())
    assert _policy(sparsity=1.0).k == 4 and _policy(sparsity=0.2).k == 1
    # warm-up means full communication, and sampling off means the deterministic graph
    p = _policy()
    p.warmup.fill_(True)
    assert torch.equal(p.execution_graph(), torch.ones(n, n))
    p.warmup.fill_(False)
    p.sampling.fill_(False)
    _, _, _, extras = p.act(obs, generator=torch.Generator().manual_seed(0))
    assert (torch.as_tensor(extras["graph"]).float() == p.execution_graph()).all()


def test_gates_close_rows_and_the_penalty_is_the_gate_rate():
    p = _policy(gating=True, gate_coef=0.5)
    obs = _obs()
    actions, _, _, extras = p.act(obs, generator=torch.Generator().manual_seed(0))
    gates = torch.as_tensor(extras["gate"]).float()
    graphs = torch.as_tensor(extras["graph"]).float()
    assert set(gates.unique().tolist()) <= {0.0, 1.0}
    full = p.messages_per_step(graphs)
    gated = p.messages_per_step(graphs, gates)
    assert torch.equal(gated, (gates * 2).sum(-1)) and (gated <= full).all()
    p.evaluate(obs, torch.as_tensor(actions), _tensors(extras))
    x = p.collate(obs)
    expected = 0.5 * torch.sigmoid(p.gate(p.obs_embed(x))).mean()
    assert torch.allclose(p.auxiliary_loss(), expected)
    closed = dict(_tensors(extras), gate=torch.zeros(6, 5, dtype=torch.uint8))
    a, _, va = p.evaluate(obs, torch.as_tensor(actions), closed)
    p.config.graph = "none"
    b, _, vb = p.evaluate(obs, torch.as_tensor(actions), closed)
    assert torch.allclose(va, vb, atol=1e-6)  # all gates closed = no communication


@pytest.mark.parametrize("rewarded", [1, 0])
def test_the_gate_is_part_of_the_action_and_policy_gradient_trains_it(rewarded):
    """A gate is an action: its Bernoulli log-probability is in the agent's log-probability,
    so policy-gradient steps with a positive advantage on the samples whose gate was open
    (closed) open (close) the gates, with no penalty (``gate_coef`` 0) and only the gate's
    weights trained."""
    p = _policy(gating=True, gate_coef=0.0)
    obs = _obs(b=64)
    actions, _, _, extras = p.act(obs, generator=torch.Generator().manual_seed(3))
    ex = _tensors(extras)
    gates = ex["gate"].float()
    assert 0 < gates.mean() < 1  # both outcomes sampled
    x = p.collate(obs)
    p_before = torch.sigmoid(p.gate(p.obs_embed(x))).mean().item()
    advantage = (gates == rewarded).float()
    opt = torch.optim.SGD(p.gate.parameters(), lr=0.5)
    for _ in range(10):
        logp, _, _ = p.evaluate(obs, torch.as_tensor(actions), ex)
        opt.zero_grad()
        (-(logp * advantage).mean()).backward()
        opt.step()
    p_after = torch.sigmoid(p.gate(p.obs_embed(x))).mean().item()
    if rewarded:
        assert p_after > p_before + 0.05
    else:
        assert p_after < p_before - 0.05


def test_gate_open_init_sets_the_initial_open_probability():
    """``gate_open_init`` = p: every gate starts open with probability p whatever the
    observation (about that share of sampled gates is open); None keeps the default init."""
    obs = _obs(b=256)
    p = _policy(gating=True, gate_open_init=0.9)
    prob = torch.sigmoid(p.gate(p.obs_embed(p.collate(obs))))
    assert torch.allclose(prob, torch.full_like(prob, 0.9), atol=1e-6)
    _, _, _, extras = p.act(obs, generator=torch.Generator().manual_seed(0))
    assert 0.85 < _tensors(extras)["gate"].float().mean() < 0.95
    default = _policy(gating=True)
    spread = torch.sigmoid(default.gate(default.obs_embed(default.collate(obs))))
    assert spread.std() > 1e-3  # the default gate depends on the observation


def test_gate_entropy_flag_adds_or_drops_the_gates_bernoulli_entropy():
    obs = _obs(b=32)
    with_bonus = _policy(gating=True)
    without = _policy(gating=True, gate_entropy=False)
    without.load_state_dict(with_bonus.state_dict())
    actions, _, _, extras = with_bonus.act(obs, generator=torch.Generator().manual_seed(1))
    ex, acts = _tensors(extras), torch.as_tensor(actions)
    logp_a, ent_a, _ = with_bonus.evaluate(obs, acts, ex)
    logp_b, ent_b, _ = without.evaluate(obs, acts, ex)
    q = torch.sigmoid(with_bonus.gate(with_bonus.obs_embed(with_bonus.collate(obs)))).squeeze(-1)
    bernoulli = -(q * q.log() + (1 - q) * (1 - q).log())
    assert torch.allclose(ent_a - ent_b, bernoulli, atol=1e-5)
    assert torch.equal(logp_a, logp_b)  # the gate stays part of the action


def test_separate_gate_ratio_keeps_move_and_gate_log_probs_apart():
    """``gate_ratio='separate'``: act and evaluate give [B, N, 2] (move, gate) whose sum
    is the joint policy's log-probability, so only PPO's clipping differs."""
    obs = _obs(b=16)
    joint = _policy(gating=True)
    separate = _policy(gating=True, gate_ratio="separate")
    separate.load_state_dict(joint.state_dict())
    actions, logp_act, _, extras = separate.act(obs, generator=torch.Generator().manual_seed(2))
    assert logp_act.shape == (16, 5, 2)
    acts, ex = torch.as_tensor(actions), _tensors(extras)
    logp_sep, ent_sep, _ = separate.evaluate(obs, acts, ex)
    logp_joint, ent_joint, _ = joint.evaluate(obs, acts, ex)
    assert logp_sep.shape == (16, 5, 2) and ent_sep.shape == (16, 5)
    np.testing.assert_allclose(logp_sep.detach().numpy(), logp_act, atol=1e-5)
    assert torch.allclose(logp_sep.sum(-1), logp_joint, atol=1e-6)
    assert torch.equal(ent_sep, ent_joint)


def test_decoder_is_autoregressive_over_in_neighbours_only():
    """Agent i's action distribution depends on the actions of its in-neighbours j < i
    and on nothing else of the other agents' actions."""
    p = _policy(graph="full")
    obs = _obs(b=1)
    base = torch.zeros(1, 5, dtype=torch.long)
    logp0, _, _ = p.evaluate(obs, base)
    for j in range(5):
        changed = base.clone()
        changed[0, j] = 3
        logp, _, _ = p.evaluate(obs, changed)
        # agents before j and j itself: only agent j's own term changes
        before = logp0[0, :j]
        assert torch.allclose(logp[0, :j], before, atol=1e-6)
        if j < 4:
            assert not torch.allclose(logp[0, j + 1 :], logp0[0, j + 1 :], atol=1e-6)
    sparse = _policy(graph="none")
    logp0, _, _ = sparse.evaluate(obs, base)
    changed = base.clone()
    changed[0, 0] = 3
    logp, _, _ = sparse.evaluate(obs, changed)
    assert torch.allclose(logp[0, 1:], logp0[0, 1:], atol=1e-6)  # no edges: independent


def test_save_and_load_round_trip(tmp_path):
    p = _policy(gating=True, seed=7)
    path = p.save(tmp_path / "cf.pt", {"env": {"name": "predator_prey"}})
    q = CommFormerPolicy.load(path)
    assert q.config == p.config
    for (name, a), b in zip(p.state_dict().items(), q.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a checkpoint"):
        CommFormerPolicy.load(tmp_path / "junk.pt")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agents": 1}, "n_agents must be >= 2, got 1"),
        ({"sparsity": 0.0}, "sparsity must be > 0"),
        ({"sparsity": 1.5}, "sparsity must be <= 1, got 1.5"),
        ({"graph": "dense"}, "graph must be one of"),
        ({"width": 63, "heads": 2}, "not divisible"),
        ({"n_agents": 20, "graph_gradient": "policy_gradient"}, "needs k <= 6 in-edges"),
        ({"graph_gradient": "score"}, "graph_gradient must be one of"),
    ],
)
def test_bad_configs_are_one_line_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _policy(**kwargs)


def test_tampered_checkpoints_are_one_line_errors_before_any_allocation(tmp_path):
    good = _policy().save(tmp_path / "good.pt")
    blob = torch.load(good, weights_only=True)
    cases = {
        "huge": {
            **blob,
            "meta": {"policy_kwargs": {**blob["meta"]["policy_kwargs"], "width": 10**9}},
        },
        "unknown": {
            **blob,
            "meta": {"policy_kwargs": {**blob["meta"]["policy_kwargs"], "colour": 1}},
        },
        "misshapen": {**blob, "model": {**blob["model"], "start": torch.zeros(3)}},
        "nan": {**blob, "model": {**blob["model"], "start": torch.full((64,), float("nan"))}},
        "not_tensor": {**blob, "model": {**blob["model"], "start": [1, 2]}},
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(content, path)
        with pytest.raises(ValueError) as info:
            CommFormerPolicy.load(path)
        message = str(info.value)
        assert "\n" not in message and str(path) in message, name


def test_policy_gradient_graph_rows_are_part_of_the_action():
    """``graph_gradient='policy_gradient'``: evaluate gives back act's log-probabilities
    (move + sampled graph row), the forward pass is the stored graph's, and a positive
    advantage on the samples where receiver 0 listened to agent 1 raises that logit."""
    p = _policy(graph_gradient="policy_gradient")
    obs = _obs(b=64)
    actions, logp, _, extras = p.act(obs, generator=torch.Generator().manual_seed(5))
    ex = _tensors(extras)
    new_logp, _, _ = p.evaluate(obs, torch.as_tensor(actions), ex)
    np.testing.assert_allclose(new_logp.detach().numpy(), logp, atol=1e-5)
    straight = _policy(graph_gradient="straight_through")
    straight.load_state_dict(p.state_dict())
    move_logp, _, _ = straight.evaluate(obs, torch.as_tensor(actions), ex)
    assert (new_logp < move_logp - 1e-3).all()  # a row's probability is below 1 (k = 2 of 4)
    listened = ex["graph"][:, 0, 1].float()
    assert 0 < listened.mean() < 1
    before = p.edge_logits[0, 1].item()
    opt = torch.optim.SGD([p.edge_logits], lr=0.5)
    for _ in range(5):
        logp_now, _, _ = p.evaluate(obs, torch.as_tensor(actions), ex)
        opt.zero_grad()
        (-(logp_now[:, 0] * listened).mean()).backward()
        opt.step()
    assert p.edge_logits[0, 1].item() > before + 0.05
    # acting deterministically (execution: the top-k graph) adds no graph log-probability
    straight.load_state_dict(p.state_dict())
    _, det_logp, _, _ = p.act(obs, deterministic=True)
    _, det_move_logp, _, _ = straight.act(obs, deterministic=True)
    np.testing.assert_allclose(det_logp, det_move_logp, atol=1e-6)


def test_episode_graph_draws_once_per_episode_and_the_step_mode_draws_nothing_more():
    """``graph_draw='episode'``: ``begin_episode`` draws a k-hot graph that ``act`` then
    uses for its samples; in the step mode (and once the graph is frozen) it draws
    nothing and leaves the generator's stream as it was."""
    stepwise = _policy()
    gen = torch.Generator().manual_seed(3)
    assert stepwise.begin_episode(gen) is None
    assert torch.equal(gen.get_state(), torch.Generator().manual_seed(3).get_state())

    p = _policy(graph_draw="episode")
    draws = [p.begin_episode(torch.Generator().manual_seed(s)) for s in range(6)]
    for g in draws:  # k = 2 in-edges per receiver plus the self-loop
        assert g.shape == (5, 5) and torch.equal(g.sum(-1), torch.full((5,), 3.0))
        assert torch.equal(torch.diagonal(g), torch.ones(5))
    assert len({tuple(g.flatten().tolist()) for g in draws}) > 1
    obs = _obs()
    actions, logp, _, extras = p.act(obs, generator=torch.Generator().manual_seed(0), episode=draws)
    np.testing.assert_array_equal(extras["graph"], torch.stack(draws).numpy())
    new_logp, _, _ = p.evaluate(obs, torch.as_tensor(actions), _tensors(extras))
    np.testing.assert_allclose(new_logp.detach().numpy(), logp, atol=1e-5)
    p.sampling.fill_(False)  # frozen: the execution graph, no draws
    assert p.begin_episode(torch.Generator().manual_seed(0)) is None


def test_full_critic_values_ignore_the_graph_and_send_it_no_gradient():
    """``critic='full'``: the values are those of a full-graph pass whatever graph the
    samples acted on, and the value loss sends no gradient to the graph logits (the
    policy's log-probabilities still do)."""
    p = _policy(critic="full")
    obs = _obs()
    actions, _, values, extras = p.act(obs, generator=torch.Generator().manual_seed(2))
    ex = _tensors(extras)
    logp, _, new_values = p.evaluate(obs, torch.as_tensor(actions), ex)
    np.testing.assert_allclose(new_values.detach().numpy(), values, atol=1e-5)
    sparse = dict(ex, graph=torch.eye(5, dtype=torch.uint8).expand(6, 5, 5))
    changed_logp, _, same_values = p.evaluate(obs, torch.as_tensor(actions), sparse)
    assert torch.allclose(same_values, new_values, atol=1e-6)
    assert not torch.allclose(changed_logp, logp, atol=1e-4)
    (grad,) = torch.autograd.grad(new_values.sum(), p.edge_logits, allow_unused=True)
    assert grad is None or grad.abs().max() == 0
    (grad,) = torch.autograd.grad(logp.sum(), p.edge_logits)
    assert grad.abs().sum() > 0
