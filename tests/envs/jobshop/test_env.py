import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from torch_geometric.data import Data
from torch_geometric.utils import subgraph

import envs.jobshop  # noqa: F401  (registers the env)
from envs.jobshop.env import MACHINE_FEATURES, OP_FEATURES, GraphTopology, ISBJSSPEnv, observe
from envs.jobshop.instance import Instance, load_instance
from envs.jobshop.sim import BLOCKED, OP_PROCESSING, OP_READY, OP_WAITING, PROCESSING, Simulator
from rlsys.jobshop.rules import make_rule, run_rule


@pytest.mark.parametrize("decisions", ["non_delay", "reserve"])
@pytest.mark.parametrize("p", [0.0, 0.1])
def test_check_env(p, decisions):
    env = gym.make(
        "rlsys/ISBJSSP-v0", instance="ft06", shutdown_prob=p, seed=0, decisions=decisions
    )
    check_env(env.unwrapped, skip_render_check=True)


def test_reserve_env_offers_jobs_on_their_way_and_marks_kept_machines():
    env = ISBJSSPEnv("la01", decisions="reserve")
    obs, _ = env.reset(seed=0)
    sim, seen = env.sim, 0
    while not sim.done:
        cands = np.flatnonzero(obs["action_mask"])
        on_way = [int(j) for j in cands if sim.job_state[j] == PROCESSING]
        if not on_way:
            obs, *_ = env.step(int(cands[0]))
            continue
        job = on_way[0]
        node = obs["job_op"][job]
        assert obs["op_features"][node, OP_FEATURES.index("candidate")] == 1
        assert obs["op_features"][node, OP_FEATURES.index("waiting")] == 1  # not ready yet
        target = int(env.instance.machines[job, sim.next_op[job]])
        occupied = MACHINE_FEATURES.index("occupied")
        assert obs["machine_features"][target, occupied] == 0
        obs, *_ = env.step(job)
        if not sim.done and sim.reserved[target] == job:  # still on its way
            seen += 1
            assert obs["machine_features"][target, occupied] == 1  # kept: taken
            assert not any(obs["action_mask"][j] for j in sim.waiting[target])
    assert seen > 0


def _rollout(env, seed, rng):
    obs, info = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    while not done:
        assert obs["action_mask"].astype(bool).tolist() == info["action_mask"].tolist()
        assert obs in env.observation_space
        legal = np.flatnonzero(info["action_mask"])
        assert len(legal) >= 2
        obs, r, done, trunc, info = env.step(int(rng.choice(legal)))
        assert not info["illegal_action"] and not trunc
        total += r
        steps += 1
    return total, steps, info


def test_return_is_minus_makespan_and_mask_is_legal():
    env = gym.make("rlsys/ISBJSSP-v0", instance="la01", shutdown_prob=0.05, seed=0).unwrapped
    rng = np.random.default_rng(0)
    for seed in range(3):
        total, steps, info = _rollout(env, seed, rng)
        assert total == -info["makespan"] and steps == env.sim.n_decisions


def test_reset_seed_matches_simulator_seed():
    """reset(seed=s) sees the same disruptions as Simulator(seed=s) (and the CLI's --seed)."""
    inst = load_instance("la02")
    env = gym.make("rlsys/ISBJSSP-v0", instance=inst, shutdown_prob=0.1).unwrapped
    obs, info = env.reset(seed=7)
    rule = make_rule("SPT")
    while not env.sim.done:
        obs, _, _, _, info = env.step(rule(env.sim, env.sim.candidates))
    ref = run_rule(Simulator(inst, 0.1, seed=7), make_rule("SPT"))
    assert env.sim.schedule() == ref.schedule()


def test_illegal_action_first_or_raise():
    env = gym.make("rlsys/ISBJSSP-v0", instance="la01", seed=0).unwrapped
    strict = gym.make("rlsys/ISBJSSP-v0", instance="la01", seed=0, illegal_action="raise").unwrapped
    _, info = env.reset(seed=0)
    strict.reset(seed=0)
    while info["action_mask"].all():
        first = int(np.flatnonzero(info["action_mask"])[0])
        _, _, _, _, info = env.step(first)
        strict.step(first)
    bad = int(np.flatnonzero(~info["action_mask"])[0])
    expected = int(np.flatnonzero(info["action_mask"])[0])
    with pytest.raises(ValueError, match="cannot move now"):
        strict.step(bad)
    t_before = env.sim.t
    _, _, _, _, info2 = env.step(bad)
    assert info2["illegal_action"]
    # the fallback moved the first legal job
    assert env.sim.start[expected].max() >= t_before


def test_observation_is_the_dynamic_graph():
    env = gym.make("rlsys/ISBJSSP-v0", instance="ft06", shutdown_prob=0.1, seed=0).unwrapped
    obs, info = env.reset(seed=3)
    n, K, m = 6, 6, 6
    assert obs["op_features"].shape == (n * K, len(OP_FEATURES))
    assert obs["machine_features"].shape == (m, len(MACHINE_FEATURES))
    onehot = obs["op_features"][:, :5]
    assert np.all(onehot.sum(1) == 1)
    # candidates are exactly the ready next operations of masked jobs
    cand_nodes = np.flatnonzero(obs["op_features"][:, OP_FEATURES.index("candidate")])
    assert sorted(cand_nodes.tolist()) == sorted(obs["job_op"][info["action_mask"]].tolist())
    rng = np.random.default_rng(1)
    alive_counts = []
    while True:
        alive_counts.append(int(obs["alive"].sum()))
        legal = np.flatnonzero(info["action_mask"])
        obs, _, done, _, info = env.step(int(rng.choice(legal)))
        if done:
            break
    assert alive_counts == sorted(alive_counts, reverse=True) and alive_counts[0] > alive_counts[-1]
    assert obs["alive"].sum() == 0


def reference_features(sim: Simulator) -> tuple[np.ndarray, np.ndarray]:
    """The observation's features from their definitions, one node at a time."""
    inst, t, K = sim.instance, sim.t, sim.n_ops
    scale = float(inst.times.max())
    candidates = set(sim.candidates) if not sim.done else set()
    ops = np.zeros((sim.n_jobs * K, len(OP_FEATURES)))
    for j in range(sim.n_jobs):
        for k in range(K):
            row, status = ops[j * K + k], int(sim.op_status[j * K + k])
            row[status] = 1
            row[5] = inst.times[j, k] / scale
            row[6] = inst.times[j, k:].sum() / (scale * K)
            row[7] = (K - k) / K
            if status == OP_READY:
                row[8] = (t - sim.ready_time[j]) / scale
                row[10] = j in candidates
            if status == OP_PROCESSING:
                row[9] = (sim.end[j, k] - t) / scale
            elif status in (OP_WAITING, OP_READY):
                row[9] = inst.times[j, k] / scale
    machines = np.zeros((sim.n_machines, len(MACHINE_FEATURES)))
    for i, row in enumerate(machines):
        repaired = sim.shutdowns.down_until(i, t)
        row[0] = repaired >= 0
        row[1] = (repaired - t) / scale if repaired >= 0 else 0
        row[2] = sim.holder[i] >= 0
        row[3] = sim.holder[i] >= 0 and sim.job_state[sim.holder[i]] == BLOCKED
        row[4] = len(sim.waiting[i]) / sim.n_jobs
    return ops, machines


@pytest.mark.parametrize("p", [0.0, 0.1])
def test_observation_matches_the_feature_definitions(p):
    inst = load_instance("la01")
    topo = GraphTopology(inst)
    rng = np.random.default_rng(0)
    for seed in range(3):
        sim = Simulator(inst, p, seed)
        while True:
            obs = observe(sim, topo)
            ops, machines = reference_features(sim)
            np.testing.assert_allclose(obs["op_features"], ops, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(obs["machine_features"], machines, rtol=1e-6, atol=1e-7)
            assert obs["alive"].tolist() == [int(s != 4) for s in sim.op_status]
            assert obs["action_mask"].tolist() == [int(j in sim.candidates) for j in range(10)]
            if sim.done:
                break
            sim.step(int(rng.choice(sim.candidates)))


def test_disjunctive_arcs_are_one_clique_per_machine():
    inst = load_instance("ft06")
    src, dst = GraphTopology(inst).disj_edge_index
    machine = inst.machines.reshape(-1)
    pairs = set(zip(src.tolist(), dst.tolist(), strict=True))
    expected = {(a, b) for a in range(36) for b in range(36) if a != b and machine[a] == machine[b]}
    assert pairs == expected and len(src) == len(pairs)


def to_data(obs, topology) -> Data:
    """How a PyG policy builds its graph: tensor ops only, no Python loop over nodes (the
    disjunctive arcs come from the static topology, they are not in the observation)."""
    op = torch.from_numpy(obs["op_features"])
    mach = torch.from_numpy(obs["machine_features"])
    x = torch.cat([op, mach[torch.from_numpy(obs["op_machine"])]], dim=1)
    edge_index = torch.cat(
        [torch.from_numpy(obs["conj_edge_index"]), torch.from_numpy(topology.disj_edge_index)], 1
    ).long()
    alive = torch.from_numpy(obs["alive"]).bool()
    edge_index, _ = subgraph(alive, edge_index, relabel_nodes=True, num_nodes=x.size(0))
    return Data(x=x[alive], edge_index=edge_index)


def test_observation_converts_to_pyg_data():
    env = gym.make("rlsys/ISBJSSP-v0", instance="la01", seed=0).unwrapped
    obs, info = env.reset(seed=0)
    data = to_data(obs, env.topology)
    assert data.num_nodes == 50 and data.x.shape[1] == len(OP_FEATURES) + len(MACHINE_FEATURES)
    assert data.validate(raise_on_error=True)
    # after some steps the finished operations have left the graph
    rng = np.random.default_rng(0)
    for _ in range(4):
        obs, _, done, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
    data = to_data(obs, env.topology)
    assert data.num_nodes == int(obs["alive"].sum()) < 50
    assert int(data.edge_index.max()) < data.num_nodes


def test_bad_arguments():
    with pytest.raises(ValueError, match="shutdown_prob"):
        gym.make("rlsys/ISBJSSP-v0", instance="ft06", shutdown_prob=1.5)
    with pytest.raises(ValueError, match="unknown instance"):
        gym.make("rlsys/ISBJSSP-v0", instance="nosuch")


def test_episode_without_decisions_takes_one_noop_step():
    # every machine only ever has one waiting job: the simulator finishes at reset
    inst = Instance("chain", np.array([[0, 1], [1, 0]]), np.array([[1, 1], [5, 5]]))
    env = ISBJSSPEnv(inst)
    obs, info = env.reset(seed=0)
    assert env.sim.done and info["action_mask"].sum() == 1
    obs, reward, terminated, _, info = env.step(0)
    assert terminated and reward == -info["makespan"] == -env.sim.makespan
