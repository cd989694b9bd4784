import gymnasium as gym
import numpy as np
import pytest
from dm_control import suite
from gymnasium.utils.env_checker import check_env

from envs.preference.dmc import EPISODE_STEPS, DMControlEnv

WALKER = "envs.preference.dmc:rlsys/dmc-walker-walk-v0"


def suite_observation(timestep) -> np.ndarray:
    """The suite's observation dict flattened in its own key order (the reference)."""
    return np.concatenate([np.ravel(v) for v in timestep.observation.values()])


def test_walker_passes_gymnasium_check_env():
    check_env(DMControlEnv("walker", "walk"), skip_render_check=True)


def test_walker_matches_the_suite_step_for_step():
    """Same seed, same actions: our flattened observations and rewards are the suite's."""
    env = DMControlEnv("walker", "walk")
    ref = suite.load("walker", "walk", task_kwargs={"random": 7})
    obs, _ = env.reset(seed=7)
    ts = ref.reset()
    assert obs.shape == (24,) and env.observation_space.contains(obs)
    np.testing.assert_allclose(obs, suite_observation(ts), rtol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(30):
        action = rng.uniform(-1, 1, 6)
        obs, reward, terminated, truncated, _ = env.step(action)
        ts = ref.step(action)
        assert not terminated and not truncated
        assert reward == pytest.approx(ts.reward)
        np.testing.assert_allclose(obs, suite_observation(ts), rtol=1e-5, atol=1e-6)


def test_reset_seed_sets_the_initial_pose():
    env = DMControlEnv("walker", "walk")
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=4)
    c, _ = env.reset(seed=3)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b)


def test_registered_walker_truncates_at_the_suite_time_limit():
    env = gym.make(WALKER)
    assert env.spec.max_episode_steps == EPISODE_STEPS
    env.reset(seed=0)
    steps, total = 0, 0.0
    truncated = False
    while not truncated:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated and 0.0 <= reward <= 1.0
        steps, total = steps + 1, total + reward
    assert steps == EPISODE_STEPS and total > 0
