import numpy as np
import pytest
import torch

from envs.jobshop.env import ISBJSSPEnv
from envs.jobshop.instance import Instance, random_instance
from envs.jobshop.schedule import violations
from envs.jobshop.sim import Simulator
from rlsys.jobshop.evaluate import run_episode
from rlsys.jobshop.policies import PRETRAINED_NONDELAY as NONDELAY
from rlsys.jobshop.policies import GNNDispatcher, make_policy
from rlsys.jobshop.policy import IN_FEATURES, JobShopGNNPolicy, collate, obs_to_data
from rlsys.jobshop.rules import run_rule


def _observations():
    """Decision points from instances of different sizes and shutdown probabilities."""
    out = []
    for i, (n, m, p) in enumerate([(6, 4, 0.0), (10, 5, 0.05), (8, 8, 0.1)]):
        env = ISBJSSPEnv(random_instance(n, m, seed=i), shutdown_prob=p)
        obs, info = env.reset(seed=i)
        rng = np.random.default_rng(i)
        for _ in range(3):
            out.append(obs)
            obs, _, done, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            if done:
                break
    return out


def test_obs_to_data_keeps_alive_subgraph():
    obs = _observations()[2]
    data = obs_to_data(obs)
    assert data.num_nodes == int(obs["alive"].sum())
    assert data.edge_index.max() < data.num_nodes
    assert set(data.edge_type.tolist()) <= {0, 1}
    assert data.op_machine.shape == (data.num_nodes,)
    legal = obs["action_mask"].astype(bool)
    # every legal job's candidate node is alive and marked as a candidate in the features
    assert (data.x[data.cand_index[torch.from_numpy(legal)], 10] == 1).all()


def test_batched_sizes_masking_and_evaluate_consistency():
    torch.manual_seed(0)
    policy = JobShopGNNPolicy(hidden=16, layers=2)
    obs = _observations()
    batch = collate(obs)
    logits, mask, values = policy(batch)
    assert logits.shape == (len(obs), 10) and values.shape == (len(obs),)
    for i, o in enumerate(obs):  # padding beyond a graph's jobs is illegal
        n = len(o["action_mask"])
        assert mask[i, :n].tolist() == o["action_mask"].astype(bool).tolist()
        assert not mask[i, n:].any()
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):  # masking never picks an illegal job
        actions, logp, v, extras = policy.act(obs, generator=gen)
        assert extras == {}
        assert all(o["action_mask"][a] for o, a in zip(obs, actions, strict=False))
    new_logp, entropy, new_v = policy.evaluate(obs, torch.as_tensor(actions))
    assert np.allclose(new_logp.detach().numpy(), logp, atol=1e-5)
    assert np.allclose(new_v.detach().numpy(), v, atol=1e-5)
    assert (entropy >= 0).all()
    # gradients reach every parameter through evaluate
    (new_logp.sum() + new_v.sum() + entropy.sum()).backward()
    assert all(p.grad is not None for p in policy.parameters())


def test_the_job_chain_fast_path_gives_the_scatter_outputs(monkeypatch):
    """The forward pass reads job predecessors and successors by a gather of the first
    layer's block products (``TypedGINConv.forward_grouped``); with the generic scatter mean
    over the concatenated input instead, a batch of graphs of several sizes gives the same
    outputs up to float rounding."""
    from rlsys.jobshop.nn import TypedGINConv

    torch.manual_seed(0)
    policy = JobShopGNNPolicy(hidden=16, layers=3)
    batch = collate(_observations())
    chain = TypedGINConv.single_neighbours(batch.edge_index, batch.edge_type, batch.num_nodes, 2)
    assert chain is not None  # job chains: one source per node and type
    gathered = policy(batch)
    monkeypatch.setattr(TypedGINConv, "single_neighbours", staticmethod(lambda *args: None))
    scattered = policy(batch)
    logits, mask, values = gathered
    assert torch.equal(mask, scattered[1])
    assert torch.allclose(logits[mask], scattered[0][mask], atol=1e-5)
    assert torch.allclose(values, scattered[2], atol=1e-5)


def test_save_load_and_dispatcher(tmp_path):
    torch.manual_seed(3)
    policy = JobShopGNNPolicy(hidden=8, layers=1)
    path = policy.save(tmp_path / "p.pt", metadata={"note": "test"})
    again = JobShopGNNPolicy.load(path)
    for a, b in zip(policy.state_dict().values(), again.state_dict().values(), strict=False):
        assert torch.equal(a, b)
    inst = random_instance(8, 4, seed=1)
    sched = run_rule(Simulator(inst, 0.05, seed=2), make_policy(str(path))).schedule()
    assert violations(sched, inst) == []
    # greedy: same schedule twice
    again_sched = run_rule(Simulator(inst, 0.05, seed=2), GNNDispatcher(again)).schedule()
    assert sched == again_sched


def test_a_reserve_policy_file_is_run_in_its_decision_model(tmp_path):
    from rlsys.jobshop.evaluate import run_policy

    torch.manual_seed(4)
    policy = JobShopGNNPolicy(hidden=8, layers=1, decisions="reserve")
    path = policy.save(tmp_path / "r.pt")
    again = JobShopGNNPolicy.load(path)
    assert again.config.decisions == "reserve"
    assert make_policy(str(path)).decisions == "reserve"
    assert make_policy(f"{path}@rollout:2").decisions == "reserve"
    inst = random_instance(10, 5, seed=3)
    sim = run_policy(inst, str(path), 0.05, 1)
    sched = sim.schedule()
    assert sched["decisions"] == "reserve" and violations(sched, inst) == []
    # the same weights in the non-delay model make a schedule of their own
    assert run_policy(inst, "MWKR", 0.05, 1).schedule()["decisions"] == "non_delay"
    assert make_policy("pretrained").decisions == "reserve"  # the shipped policy
    assert make_policy(str(NONDELAY)).decisions == "non_delay"  # a file from before the option
    # a reserve run may start from non-delay weights (same network): the shipped one did
    from rlsys.jobshop.train import load_initial_weights

    start = JobShopGNNPolicy(hidden=32, layers=3, decisions="reserve")
    load_initial_weights(start, str(NONDELAY))
    assert start.config.decisions == "reserve"
    assert torch.equal(start.encoder[0].weight, make_policy(str(NONDELAY)).policy.encoder[0].weight)


def test_bad_decision_model_in_a_config_is_one_line():
    from rlsys.config import ConfigError, from_dict
    from rlsys.jobshop.train import JobshopTrainConfig

    with pytest.raises(ConfigError, match="decisions"):
        from_dict(JobshopTrainConfig, {"policy": {"decisions": "delay"}})


def test_bad_policy_file(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_text("not a torch file")
    with pytest.raises(ValueError, match="not a"):
        JobShopGNNPolicy.load(bad)
    with pytest.raises(ValueError, match="no such policy file"):
        JobShopGNNPolicy.load(tmp_path / "missing.pt")


def test_pretrained_policy_ships_and_schedules_validly():
    from envs.jobshop.instance import load_instance
    from rlsys.jobshop.policies import PRETRAINED

    inst = load_instance("la01")
    makespans = {}
    for p in (0.0, 0.05):
        sim = run_episode(inst, make_policy("pretrained"), p, 1)  # in the policy's own model
        assert sim.decisions == "reserve" and violations(sim.schedule(), inst) == []
        makespans[p] = sim.makespan
    # any spelling is the shipped file's network, acting greedily (the same schedules)
    shipped = torch.load(PRETRAINED, weights_only=True)["model"]
    upper = make_policy("PRETRAINED")
    loaded = upper.policy.state_dict()
    assert loaded.keys() == shipped.keys()
    assert all(torch.equal(loaded[k], shipped[k]) for k in shipped)
    for p, makespan in makespans.items():
        assert run_episode(inst, upper, p, 1).makespan == makespan


@pytest.mark.parametrize("policy", ["pretrained", "pretrained-large"])
@pytest.mark.parametrize("name", ["la01", "la02", "la03", "la04", "la05"])
def test_shipped_policy_beats_mwkr_at_p0(policy, name):
    # a regression guard on the shipped files: held-out benchmarks, deterministic at p = 0
    from envs.jobshop.instance import load_instance
    from rlsys.jobshop.evaluate import run_policy

    inst = load_instance(name)
    shipped = run_policy(inst, policy, 0.0, 0)
    assert shipped.decisions == "reserve"
    assert not violations(shipped.schedule(), inst)
    assert shipped.makespan < run_policy(inst, "MWKR", 0.0, 0).makespan


def test_the_large_shipped_policy_is_the_large_network():
    from rlsys.jobshop.policies import PRETRAINED, PRETRAINED_LARGE

    assert make_policy("Pretrained-Large").policy.config.hidden == 64
    assert make_policy("pretrained-large").policy.config.layers == 5
    assert PRETRAINED_LARGE != PRETRAINED


def test_collate_builds_the_batch_pyg_builds():
    # the numpy collation (greedy schedules, planners, PPO minibatches) must be PyG's
    # Batch, bit for bit: one observation, several of one instance, and a mix of sizes
    from torch_geometric.data import Batch

    from envs.jobshop.instance import load_instance

    policy = make_policy("pretrained").policy
    by_instance = []
    for name in ("la01", "ft06", "la21"):
        env = ISBJSSPEnv(load_instance(name), shutdown_prob=0.05, decisions="reserve")
        obs, _ = env.reset(seed=0)
        seen = []
        for _ in range(5):
            seen.append(obs)
            obs, _, done, _, _ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
            if done:
                break
        by_instance.append(seen)
    mixed = [o for seen in by_instance for o in seen[:2]]
    for group in ([by_instance[0][0]], [by_instance[0][-1]], by_instance[0], by_instance[2], mixed):
        fast = collate(group)
        pyg = Batch.from_data_list([obs_to_data(o) for o in group], follow_batch=["cand_index"])
        assert sorted(fast.keys()) == sorted(pyg.keys()) and fast.num_graphs == pyg.num_graphs
        for key in pyg.keys():
            assert fast[key].dtype == pyg[key].dtype and torch.equal(fast[key], pyg[key]), key
        # and the policy's outputs (the dense [B, n] view for one instance, padding for mixed)
        for a, b in zip(policy(fast), policy(pyg), strict=True):
            assert torch.equal(a, b)


def test_machine_load_features_on_a_hand_made_instance():
    # three jobs on two machines; the largest time, 8, is the features' time unit
    inst = Instance(
        "hand",
        machines=np.array([[0, 1], [1, 0], [0, 1]]),
        times=np.array([[4, 6], [8, 2], [8, 1]]),
    )
    env = ISBJSSPEnv(inst)
    obs, _ = env.reset(seed=0)
    x = obs_to_data(obs, machine_load=True).x
    assert x.shape == (6, IN_FEATURES + 3)
    assert torch.equal(x[:, :IN_FEATURES], obs_to_data(obs).x)
    # before anything starts: machine 0 holds 4 + 2 + 8 = 14, machine 1 6 + 8 + 1 = 15 units
    work = torch.tensor([14.0, 15.0]) / 8 / 3
    ops = torch.tensor([3.0, 3.0]) / 3
    share = torch.tensor([14 / 15, 1.0])
    node_machine = torch.from_numpy(obs["op_machine"])
    expected = torch.stack([work, ops, share], dim=1)[node_machine]
    assert torch.allclose(x[:, IN_FEATURES:], expected)
    # later on, an operation in process counts with its remaining time, a finished one
    # (done, or blocking its machine) not at all
    env = ISBJSSPEnv(random_instance(8, 4, seed=1), shutdown_prob=0.05)
    obs, _ = env.reset(seed=1)
    n_blocking = 0
    while True:
        obs, _, done, _, _ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
        if done:
            break
        x = obs_to_data(obs, machine_load=True).x.numpy()
        mach = obs["op_machine"][obs["alive"].astype(bool)]
        n_blocking += int(x[:, 3].sum())
        for m in np.unique(mach):
            rows = x[mach == m]
            assert np.allclose(rows[:, IN_FEATURES], rows[:, 9].sum() / 8, atol=1e-6)
            assert np.allclose(rows[:, IN_FEATURES + 1], (1 - rows[:, 3]).sum() / 8)
        assert x[:, IN_FEATURES + 2].max() == 1.0
    assert n_blocking > 0  # the case that tells operations left from operations alive


def test_a_machine_load_policy_file_round_trips(tmp_path):
    torch.manual_seed(4)
    policy = JobShopGNNPolicy(hidden=8, layers=2, decisions="reserve", machine_load=True)
    again = JobShopGNNPolicy.load(policy.save(tmp_path / "p.pt"))
    assert again.config == policy.config
    obs = _observations()
    for a, b in zip(policy(policy.collate(obs)), again(again.collate(obs)), strict=True):
        assert torch.equal(a, b)
    inst = random_instance(8, 4, seed=1)
    sched = run_rule(Simulator(inst, 0.05, seed=2), GNNDispatcher(again)).schedule()
    assert violations(sched, inst) == []
