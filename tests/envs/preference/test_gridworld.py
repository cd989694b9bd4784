"""The tabular PARL task: a valid model, and a gymnasium env that follows it."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.preference import GridWorld, GridWorldEnv


def test_model_is_a_distribution_with_goal_and_traps():
    mdp = GridWorld(4, slip=0.2)
    np.testing.assert_allclose(mdp.P.sum(-1), 1.0)
    assert (mdp.P >= 0).all() and mdp.mu0.sum() == 1
    assert mdp.R[15].tolist() == [1.0] * 4  # goal, bottom right
    assert {float(r) for r in mdp.R[8:12, 0]} == {-0.05, -1.0}  # the trap row has a gap
    # no slip: moves are deterministic, walls keep the agent in place
    det = GridWorld(3, slip=0.0)
    assert det.P[0, 0, 0] == 1.0 and det.P[0, 3, 1] == 1.0 and det.P[4, 1, 7] == 1.0


def test_env_passes_check_env_and_samples_the_model():
    env = GridWorldEnv(3, slip=0.3, horizon=20)
    check_env(env, skip_render_check=True)
    counts = np.zeros(9)
    rng = np.random.default_rng(0)
    for _ in range(4000):
        s, _ = env.model.step(4, 3, rng)
        counts[s] += 1
    np.testing.assert_allclose(counts / 4000, env.model.P[4, 3], atol=0.03)
    obs, _ = env.reset(seed=1)
    assert obs == 0
    for _ in range(20):
        obs, reward, terminated, truncated, _ = env.step(1)
    assert truncated and not terminated


@pytest.mark.parametrize("kwargs", [{"size": 1}, {"slip": 1.5}, {"traps": ((0, 0),)}])
def test_bad_gridworld_is_an_error(kwargs):
    with pytest.raises(ValueError, match="gridworld"):
        GridWorld(**{"size": 3, **kwargs})
