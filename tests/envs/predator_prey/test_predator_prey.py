"""Predator-prey and predator-capture-prey: PettingZoo API, rules, rewards, observations."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test
from PIL import Image

from envs.predator_prey import (
    DOWN,
    INFO_STEPS,
    INFO_SUCCESS,
    LEFT,
    POS_PREY_REWARD,
    RIGHT,
    STAY,
    TIMESTEP_PENALTY,
    UP,
    capture_env,
    parallel_env,
)
from envs.predator_prey.render import save_episode


def reference_obs(env) -> dict[str, np.ndarray]:
    """Observations built cell by cell from the documented layout (slow, obvious)."""
    dim, v = env.dim, env.vision
    w = 2 * v + 1
    positions = env.agent_positions
    prey = env.prey_position
    typed = len(env.obs_planes) == 4
    kinds = ["capture" if a.startswith("capture") else "other" for a in env.possible_agents]
    out = {}
    for i, agent in enumerate(env.possible_agents):
        r, c = positions[i]
        planes = np.zeros((len(env.obs_planes), w, w), dtype=np.float32)
        if kinds[i] != "capture" or not typed:
            for a in range(w):
                for b in range(w):
                    rr, cc = r + a - v, c + b - v
                    if not (0 <= rr < dim and 0 <= cc < dim):
                        planes[0, a, b] = 1
                        continue
                    for j, (r2, c2) in enumerate(positions):
                        if j != i and (r2, c2) == (rr, cc):
                            plane = 1 + (typed and kinds[j] == "capture")
                            planes[plane, a, b] = 1
                    if (rr, cc) == prey:
                        planes[-1, a, b] = 1
        tail = [r / (dim - 1), c / (dim - 1)] + ([float(kinds[i] == "capture")] if typed else [])
        out[agent] = np.concatenate([planes.ravel(), np.array(tail, np.float32)])
    return out


def act(env, **by_agent: int) -> dict[str, int]:
    """Actions for every live agent: STAY unless given by name."""
    return {a: by_agent.get(a, STAY) for a in env.agents}


# ------------------------------------------------------------------ PettingZoo API
@pytest.mark.parametrize(
    "make",
    [
        lambda: parallel_env(dim=5, n_agents=3, vision=0),
        lambda: parallel_env(),
        lambda: parallel_env(dim=3, n_agents=8, vision=2, mode="mixed"),
        lambda: capture_env(dim=5, n_capture=1, n_perception=2, mode="competitive"),
        lambda: capture_env(),
        lambda: capture_env(dim=2, n_capture=3, n_perception=0),
    ],
)
def test_parallel_api_and_seed(make):
    parallel_api_test(make(), num_cycles=200)
    parallel_seed_test(make)


def test_spaces_cached_identical_and_contain_observations():
    for env in (parallel_env(), capture_env()):
        obs, infos = env.reset(seed=3)
        first = env.possible_agents[0]
        assert {a: infos[a] for a in env.agents} == {a: {} for a in env.agents}
        for agent in env.possible_agents:
            assert env.observation_space(agent) is env.observation_space(agent)
            assert env.action_space(agent) is env.action_space(agent)
            assert env.observation_space(agent) == env.observation_space(first)
            assert env.action_space(agent).n == 5
            assert obs[agent].dtype == np.float32
            assert env.observation_space(agent).contains(obs[agent])


def test_obs_dim_formula():
    for v in range(4):
        k = (2 * v + 1) ** 2
        assert parallel_env(vision=v).obs_dim == 3 * k + 2
        assert capture_env(vision=v).obs_dim == 4 * k + 3
    assert parallel_env(vision=1).obs_dim == 29
    assert parallel_env(dim=5, n_agents=3, vision=0).obs_dim == 5
    assert capture_env(vision=1).obs_dim == 39
    assert parallel_env().obs_planes == ("outside", "predator", "prey")
    assert capture_env().obs_planes == ("outside", "perception", "capture", "prey")


def test_agent_names():
    assert parallel_env(n_agents=3).possible_agents == ["predator_0", "predator_1", "predator_2"]
    assert capture_env(n_capture=2, n_perception=1).possible_agents == [
        "perception_0",
        "capture_0",
        "capture_1",
    ]


# ------------------------------------------------------------------ seeding
def rollout(env, seed: int, steps: int = 30) -> list:
    """Positions, observations and rewards of random play, episodes chained."""
    rng = np.random.default_rng(123)
    obs, _ = env.reset(seed=seed)
    trace = [(env.agent_positions.tolist(), env.prey_position, obs)]
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
        acts = {a: int(rng.integers(5)) for a in env.agents}
        obs, rew, *_ = env.step(acts)
        trace.append((env.agent_positions.tolist(), env.prey_position, obs, rew))
    return trace


def assert_same_trace(t1, t2):
    assert len(t1) == len(t2)
    for a, b in zip(t1, t2, strict=True):
        assert a[0] == b[0] and a[1] == b[1]
        assert all(np.array_equal(a[2][k], b[2][k]) for k in a[2])
        if len(a) > 3:
            assert a[3] == b[3]


@pytest.mark.parametrize("make", [parallel_env, capture_env])
def test_same_seed_same_episodes(make):
    assert_same_trace(rollout(make(), 7), rollout(make(), 7))
    env = make()
    first = rollout(env, 7)
    assert_same_trace(first, rollout(env, 7))  # reseeding the same env replays it
    positions = set()
    for seed in range(20):
        env.reset(seed=seed)
        positions.add((tuple(map(tuple, env.agent_positions.tolist())), env.prey_position))
    assert len(positions) == 20


def test_start_cells_distinct_and_cover_grid():
    env = parallel_env(dim=4, n_agents=3)
    seen = np.zeros((4, 4), dtype=int)
    env.reset(seed=0)
    for _ in range(400):
        env.reset()
        cells = [tuple(p) for p in env.agent_positions.tolist()] + [env.prey_position]
        assert len(set(cells)) == 4
        for r, c in cells:
            seen[r, c] += 1
    assert seen.min() > 50  # uniform: 100 expected per cell
    # dense case: the permutation path (n^2 > cells)
    dense = parallel_env(dim=3, n_agents=8)
    dense.reset(seed=1)
    cells = [tuple(p) for p in dense.agent_positions.tolist()] + [dense.prey_position]
    assert len(set(cells)) == 9


# ------------------------------------------------------------------ moves
@pytest.mark.parametrize(
    ("start", "action", "end"),
    [
        ((0, 0), UP, (0, 0)),
        ((0, 0), LEFT, (0, 0)),
        ((0, 0), DOWN, (1, 0)),
        ((0, 0), RIGHT, (0, 1)),
        ((4, 4), DOWN, (4, 4)),
        ((4, 4), RIGHT, (4, 4)),
        ((4, 4), UP, (3, 4)),
        ((4, 4), LEFT, (4, 3)),
        ((2, 2), STAY, (2, 2)),
        ((0, 3), UP, (0, 3)),
        ((3, 0), LEFT, (3, 0)),
    ],
)
def test_moves_clip_at_walls(start, action, end):
    env = parallel_env(dim=5, n_agents=2, vision=1)
    env.set_positions([start, (2, 0)], prey=(4, 0))
    env.step(act(env, predator_0=action))
    assert tuple(env.agent_positions[0]) == end
    assert tuple(env.agent_positions[1]) == (2, 0)


def test_bad_actions_raise_and_leave_state():
    env = parallel_env(dim=5, n_agents=2)
    env.set_positions([(1, 1), (3, 3)], prey=(0, 4))
    for bad in (5, -1, 2.5, "up", np.array([1, 2])):
        with pytest.raises(ValueError, match="actions must be integers"):
            env.step({"predator_0": bad, "predator_1": 0})
    with pytest.raises(ValueError, match="predator_1"):
        env.step({"predator_0": 0})
    assert env.agent_positions.tolist() == [[1, 1], [3, 3]]
    env.step({"predator_0": np.int64(RIGHT), "predator_1": np.array(UP)})
    assert env.agent_positions.tolist() == [[1, 2], [2, 3]]


# ------------------------------------------------------------------ rewards and ends
def test_rewards_and_predators_held_on_prey_mixed():
    env = parallel_env(dim=5, n_agents=3, mode="mixed", max_steps=10)
    env.set_positions([(2, 1), (0, 0), (4, 4)], prey=(2, 2))
    _, rew, term, trunc, infos = env.step(act(env, predator_0=RIGHT))
    assert rew == {
        "predator_0": 0.0,
        "predator_1": TIMESTEP_PENALTY,
        "predator_2": TIMESTEP_PENALTY,
    }
    assert not any(term.values()) and not any(trunc.values())
    assert infos == {a: {} for a in env.possible_agents}
    for action in (UP, RIGHT, DOWN, LEFT):  # a predator on the prey stays there
        _, rew, *_ = env.step(act(env, predator_0=action))
        assert tuple(env.agent_positions[0]) == (2, 2)
        assert rew["predator_0"] == 0.0 and rew["predator_1"] == TIMESTEP_PENALTY
    assert env.agents == env.possible_agents  # nobody leaves early


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cooperative", [POS_PREY_REWARD * 1, POS_PREY_REWARD * 2]),
        ("competitive", [POS_PREY_REWARD / 1, POS_PREY_REWARD / 2]),
        ("mixed", [0.0, 0.0]),
    ],
)
def test_on_prey_reward_by_mode(mode, expected):
    env = parallel_env(dim=5, n_agents=3, mode=mode)
    env.set_positions([(2, 1), (2, 3), (0, 0)], prey=(2, 2))
    _, rew, *_ = env.step(act(env, predator_0=RIGHT))
    assert rew["predator_0"] == pytest.approx(expected[0])
    assert rew["predator_1"] == rew["predator_2"] == TIMESTEP_PENALTY
    _, rew, *_ = env.step(act(env, predator_1=LEFT))
    assert rew["predator_0"] == rew["predator_1"] == pytest.approx(expected[1])
    assert rew["predator_2"] == TIMESTEP_PENALTY


def test_success_terminates_all_agents_together():
    env = parallel_env(dim=5, n_agents=2, max_steps=20)
    env.set_positions([(2, 1), (1, 2)], prey=(2, 2))
    env.step(act(env, predator_0=RIGHT))
    env.step(act(env))
    obs, rew, term, trunc, infos = env.step(act(env, predator_1=DOWN))
    assert term == {"predator_0": True, "predator_1": True}
    assert trunc == {"predator_0": False, "predator_1": False}
    assert infos == {a: {INFO_SUCCESS: 1.0, INFO_STEPS: 3} for a in env.possible_agents}
    assert rew == pytest.approx({"predator_0": 0.1, "predator_1": 0.1})  # cooperative, k = 2
    assert set(obs) == set(env.possible_agents)
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_truncation_at_max_steps():
    env = parallel_env(dim=5, n_agents=2, max_steps=4)
    env.set_positions([(0, 0), (4, 0)], prey=(4, 4))
    for _ in range(4):
        assert env.agents == env.possible_agents
        _, rew, term, trunc, infos = env.step(act(env))
        assert rew == {a: TIMESTEP_PENALTY for a in env.possible_agents}
    assert trunc == {a: True for a in env.possible_agents}
    assert term == {a: False for a in env.possible_agents}
    assert infos == {a: {INFO_SUCCESS: 0.0, INFO_STEPS: 4} for a in env.possible_agents}
    assert env.agents == []


def test_random_play_episode_ends_and_infos():
    env = parallel_env(dim=5, n_agents=3, max_steps=20)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    successes, steps = [], []
    for _ in range(300):
        while env.agents:
            _, rew, term, trunc, infos = env.step({a: int(rng.integers(5)) for a in env.agents})
            assert all(-0.05 <= r <= 0.15 + 1e-9 for r in rew.values())
        assert all(term.values()) or all(trunc.values())
        assert len({tuple(sorted(i.items())) for i in infos.values()}) == 1
        info = infos["predator_0"]
        successes.append(info[INFO_SUCCESS])
        steps.append(info[INFO_STEPS])
        assert (info[INFO_SUCCESS] == 1.0) == all(term.values())
        assert info[INFO_STEPS] == 20 or info[INFO_SUCCESS] == 1.0
        env.reset()
    assert 0 < sum(successes) < 300
    assert max(steps) == 20 and min(steps) >= 1


# ------------------------------------------------------------------ observations
def test_obs_hand_placed_window():
    """5x5, vision 1: predator_0 in the corner, predator_1 below-right of it, prey right."""
    env = parallel_env(dim=5, n_agents=3, vision=1)
    obs = env.set_positions([(0, 0), (1, 1), (4, 4)], prey=(0, 1))
    outside, predator, prey = obs["predator_0"][:27].reshape(3, 3, 3)
    np.testing.assert_array_equal(outside, [[1, 1, 1], [1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(predator, [[0, 0, 0], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(prey, [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(obs["predator_0"][27:], [0.0, 0.0])

    outside, predator, prey = obs["predator_1"][:27].reshape(3, 3, 3)
    np.testing.assert_array_equal(outside, np.zeros((3, 3)))
    np.testing.assert_array_equal(predator, [[1, 0, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(prey, [[0, 1, 0], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(obs["predator_1"][27:], [0.25, 0.25])

    outside, predator, prey = obs["predator_2"][:27].reshape(3, 3, 3)
    np.testing.assert_array_equal(outside, [[0, 0, 1], [0, 0, 1], [1, 1, 1]])
    assert predator.sum() == prey.sum() == 0
    np.testing.assert_array_equal(obs["predator_2"][27:], [1.0, 1.0])

    # predator_1 joins predator_0's cell: each sees the other on its own (centre) cell.
    obs, *_ = env.step(act(env, predator_1=LEFT, predator_2=UP))
    obs, *_ = env.step(act(env, predator_1=UP))
    for agent in ("predator_0", "predator_1"):
        predator = obs[agent][9:18].reshape(3, 3)
        np.testing.assert_array_equal(predator, [[0, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert obs["predator_2"][9:18].sum() == 0


def test_obs_vision_zero_is_own_cell():
    env = parallel_env(dim=5, n_agents=3, vision=0)
    obs = env.set_positions([(1, 1), (1, 1), (2, 2)], prey=(2, 2))
    np.testing.assert_array_equal(obs["predator_0"], [0, 1, 0, 0.25, 0.25])
    np.testing.assert_array_equal(obs["predator_2"], [0, 0, 1, 0.5, 0.5])


def test_capture_obs_blind_capture_agents_and_type_planes():
    env = capture_env(dim=5, n_capture=2, n_perception=1, vision=1)
    obs = env.set_positions([(2, 2), (1, 2), (3, 3)], prey=(2, 1))
    outside, perception, capture, prey = obs["perception_0"][:36].reshape(4, 3, 3)
    assert outside.sum() == perception.sum() == 0
    np.testing.assert_array_equal(capture, [[0, 1, 0], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(prey, [[0, 0, 0], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(obs["perception_0"][36:], [0.5, 0.5, 0.0])
    for agent, tail in (("capture_0", [0.25, 0.5, 1.0]), ("capture_1", [0.75, 0.75, 1.0])):
        assert obs[agent][:36].sum() == 0  # blind
        np.testing.assert_array_equal(obs[agent][36:], tail)


@pytest.mark.parametrize(
    "make",
    [
        lambda: parallel_env(dim=6, n_agents=8, vision=1),
        lambda: parallel_env(dim=4, n_agents=5, vision=2),
        lambda: parallel_env(dim=5, n_agents=3, vision=0),
        lambda: capture_env(dim=5, n_capture=3, n_perception=3, vision=1),
        lambda: capture_env(dim=4, n_capture=2, n_perception=4, vision=2),
    ],
)
def test_obs_match_reference_in_random_play(make):
    env = make()
    rng = np.random.default_rng(5)
    obs, _ = env.reset(seed=5)
    for _ in range(150):
        ref = reference_obs(env)
        for agent in env.possible_agents:
            np.testing.assert_array_equal(obs[agent], ref[agent], err_msg=agent)
        if not env.agents:
            obs, _ = env.reset()
            continue
        obs, *_ = env.step({a: int(rng.integers(5)) for a in env.agents})


def test_observations_not_mutated_by_later_steps():
    env = parallel_env(dim=5, n_agents=3)
    obs0, _ = env.reset(seed=1)
    kept = [obs0]
    copies = [{a: o.copy() for a, o in obs0.items()}]
    rng = np.random.default_rng(1)
    for _ in range(60):
        if not env.agents:
            obs, _ = env.reset()
        else:
            obs, *_ = env.step({a: int(rng.integers(5)) for a in env.agents})
        kept.append(obs)
        copies.append({a: o.copy() for a, o in obs.items()})
    for got, want in zip(kept, copies, strict=True):
        for agent in want:
            np.testing.assert_array_equal(got[agent], want[agent])


# ------------------------------------------------------------------ capture env rules
def test_capture_env_rules():
    env = capture_env(dim=5, n_capture=2, n_perception=1, mode="mixed", max_steps=9)
    env.set_positions([(2, 1), (1, 2), (3, 1)], prey=(2, 2))
    _, rew, term, *_ = env.step(act(env, perception_0=RIGHT, capture_0=DOWN))
    assert tuple(env.agent_positions[0]) == (2, 2)
    assert rew == {"perception_0": TIMESTEP_PENALTY, "capture_0": 0.0, "capture_1": -0.05}
    assert not any(term.values())
    # the perception agent is not held by the prey, the capture agent is
    env.step(act(env, perception_0=UP, capture_0=UP))
    assert env.agent_positions.tolist()[:2] == [[1, 2], [2, 2]]
    env.step(act(env, capture_1=UP))
    _, rew, term, trunc, infos = env.step(act(env, capture_1=RIGHT))
    assert rew == {"perception_0": TIMESTEP_PENALTY, "capture_0": 0.0, "capture_1": 0.0}
    assert all(term.values()) and not any(trunc.values())
    assert infos["perception_0"] == {INFO_SUCCESS: 1.0, INFO_STEPS: 4}
    assert env.agents == []


def test_capture_env_cooperative_counts_capture_agents_only():
    env = capture_env(dim=5, n_capture=2, n_perception=1, mode="cooperative")
    env.set_positions([(2, 2), (2, 1), (0, 0)], prey=(2, 2))
    _, rew, *_ = env.step(act(env, capture_0=RIGHT))
    assert rew["capture_0"] == pytest.approx(POS_PREY_REWARD)
    assert rew["perception_0"] == rew["capture_1"] == TIMESTEP_PENALTY


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: parallel_env(dim=0), "dim.*got 0"),
        (lambda: parallel_env(dim=2.5), "dim.*got 2.5"),
        (lambda: parallel_env(n_agents=0), "n_agents.*got 0"),
        (lambda: parallel_env(vision=-1), "vision.*got -1"),
        (lambda: parallel_env(dim=2, n_agents=4), "n_agents=4.*5 cells.*2x2.*4"),
        (lambda: parallel_env(dim=1, n_agents=1), "n_agents=1.*2 cells"),
        (lambda: parallel_env(max_steps=0), "max_steps.*got 0"),
        (lambda: parallel_env(mode="friendly"), "mode.*'friendly'"),
        (lambda: parallel_env(render_mode="human"), "render_mode.*'human'"),
        (lambda: capture_env(n_capture=0), "n_capture.*got 0"),
        (lambda: capture_env(n_perception=-1), "n_perception.*got -1"),
        (lambda: capture_env(dim=2, n_capture=2, n_perception=2), "n_capture=2 \\+ n_perc"),
        (lambda: capture_env(vision=-2), "vision.*got -2"),
        (lambda: capture_env(max_steps=-3), "max_steps.*got -3"),
        (lambda: capture_env(mode=""), "mode.*''"),
    ],
)
def test_bad_arguments_name_the_value(make, named):
    with pytest.raises(ValueError, match=named) as err:
        make()
    assert "\n" not in str(err.value)


def test_set_positions_checks_range():
    env = parallel_env(dim=5, n_agents=2)
    with pytest.raises(ValueError, match="0..4"):
        env.set_positions([(0, 0), (5, 0)], prey=(1, 1))


# ------------------------------------------------------------------ rendering
def test_render_rgb_array_and_save_episode(tmp_path):
    for env in (
        parallel_env(dim=5, n_agents=3, render_mode="rgb_array"),
        capture_env(render_mode="rgb_array"),
    ):
        env.reset(seed=0)
        frames = [env.render()]
        rng = np.random.default_rng(0)
        while env.agents:
            env.step({a: int(rng.integers(5)) for a in env.agents})
            frames.append(env.render())
        side = frames[0].shape[0]
        assert frames[0].shape == (side, side, 3) and frames[0].dtype == np.uint8
        assert side >= 5 * env.dim
        assert len({f.tobytes() for f in frames}) > 1
        gif = save_episode(frames, tmp_path / f"{env.metadata['name']}.gif")
        assert gif.stat().st_size > 0
        with Image.open(gif) as im:
            assert im.n_frames > 1
        png = save_episode(frames, tmp_path / "strip.png")
        with Image.open(png) as im:
            assert im.size[0] > side and im.mode == "RGB"


def test_render_draws_prey_and_predators():
    env = parallel_env(dim=5, n_agents=2, render_mode="rgb_array")
    env.set_positions([(0, 0), (4, 4)], prey=(2, 2))
    img = env.render()
    s = (img.shape[0] - 1) // 5
    prey_cell = img[2 * s : 3 * s, 2 * s : 3 * s].reshape(-1, 3)
    assert (prey_cell == (214, 39, 40)).all(axis=1).any()
    corner = img[:s, :s].reshape(-1, 3)
    assert (corner == (31, 119, 180)).all(axis=1).any()
    with pytest.warns(UserWarning, match="render_mode"):
        assert parallel_env().render() is None


def test_save_episode_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        save_episode([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="x.mp4"):
        save_episode([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.mp4")


# ------------------------------------------------------------------ third-party env
def test_mpe2_simple_spread_passes_parallel_api_test():
    simple_spread_v3 = pytest.importorskip("mpe2.simple_spread_v3")
    parallel_api_test(simple_spread_v3.parallel_env(N=3), num_cycles=50)
