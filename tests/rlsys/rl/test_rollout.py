import functools

import numpy as np
import pytest
import torch

from rlsys.rl.policy import MaskedActorCritic, MLPPolicy
from rlsys.rl.ppo import batch_advantages, compute_gae
from rlsys.rl.rollout import GymEnvFn, RolloutBatch, RolloutWorker

CARTPOLE = GymEnvFn("CartPole-v1")
MLP = functools.partial(MLPPolicy, obs_dim=4, n_actions=2)


def _weights(seed=0):
    torch.manual_seed(seed)
    return MLP().state_dict()


def test_same_request_same_batch_even_on_a_new_worker():
    w = RolloutWorker(CARTPOLE, MLP, worker_index=1, root_seed=7, envs_per_worker=3)
    a = w.sample(_weights(), version=0, request_index=5, episodes=5)
    again = w.sample(_weights(), version=0, request_index=5, episodes=5)
    restarted = RolloutWorker(CARTPOLE, MLP, worker_index=1, root_seed=7, envs_per_worker=3)
    b = restarted.sample(_weights(), version=0, request_index=5, episodes=5)
    assert restarted.instance != w.instance
    for other in (again, b):
        assert other.episode_seeds == a.episode_seeds
        for key in ("actions", "logp", "rewards", "terminated", "bootstrap_values"):
            np.testing.assert_array_equal(getattr(other, key), getattr(a, key))
    c = w.sample(_weights(), version=0, request_index=6, episodes=5)
    d = RolloutWorker(CARTPOLE, MLP, 2, 7, 3).sample(_weights(), 0, 5, 5)
    seeds = a.episode_seeds + c.episode_seeds + d.episode_seeds
    assert len(set(seeds)) == 15


def test_batch_layout_and_loaded_weights():
    w = RolloutWorker(CARTPOLE, MLP, 0, 0, envs_per_worker=4)
    batch = w.sample(_weights(1), version=3, request_index=0, episodes=6)
    assert len(batch.episode_returns) == len(batch.episode_infos) == 6
    assert batch.env_steps == batch.episode_lengths.sum() == len(batch.obs) == len(batch.actions)
    assert batch.version == 3 and batch.worker_index == 0
    np.testing.assert_array_equal(batch.episode_returns, batch.episode_lengths)  # CartPole: +1/step
    for name, p in w.policy.state_dict().items():
        assert torch.equal(p, _weights(1)[name])
    both = RolloutBatch.concat([batch, batch])
    assert both.env_steps == 2 * batch.env_steps and len(both.obs) == 2 * len(batch.obs)


class _CountingEnv:
    """obs = [t, 0]; reward 1; terminates after 3 steps when the seed is even, else is
    truncated after 4 (time limit)."""

    calls: list[int] = []

    def __init__(self, seed):
        self.seed = seed

    def reset(self, seed=None):
        assert seed == self.seed
        self.t = 0
        return np.array([0.0, 0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, 0.0], np.float32)
        terminated = self.seed % 2 == 0 and self.t == 3
        truncated = self.seed % 2 == 1 and self.t == 4
        return obs, 1.0, terminated, truncated, {"makespan": 10 * self.t}


def _counting_env_fn(seed):
    _CountingEnv.calls.append(seed)
    return _CountingEnv(seed)


class _ValueIsTime(MaskedActorCritic):
    """Uniform over 2 actions; value = obs[0] (time step), so bootstraps are known."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, obs):
        x = torch.as_tensor(np.stack(obs))
        return torch.zeros(len(obs), 2) + self.dummy, None, x[:, 0]


def test_env_fn_per_episode_and_truncation_bootstrap():
    _CountingEnv.calls.clear()
    w = RolloutWorker(_counting_env_fn, _ValueIsTime, 0, 0, envs_per_worker=2)
    batch = w.sample(_ValueIsTime().state_dict(), 0, 0, episodes=8)
    advantages, returns = batch_advantages(batch, 0.9, 0.95)
    assert sorted(_CountingEnv.calls) == sorted(batch.episode_seeds)
    assert len(_CountingEnv.calls) == 8
    start = 0
    for seed, length, info in zip(
        batch.episode_seeds, batch.episode_lengths, batch.episode_infos, strict=True
    ):
        sl = slice(start, start + length)
        start += length
        values = np.arange(length, dtype=np.float64)
        np.testing.assert_array_equal(batch.values[sl], values)
        assert info == {"makespan": 10 * length}
        if seed % 2 == 0:  # terminated after 3: no bootstrap
            assert length == 3
            expected, _ = compute_gae(np.ones(3), values, [0, 0, 1], 0.0, 0.9, 0.95)
        else:  # truncated after 4: bootstrapped with V(final obs) = 4
            assert length == 4
            expected, _ = compute_gae(np.ones(4), values, [0, 0, 0, 0], 4.0, 0.9, 0.95)
        np.testing.assert_allclose(advantages[sl], expected, rtol=1e-6)
        np.testing.assert_allclose(returns[sl], expected + values, rtol=1e-6)
        # transitions: next obs within the episode, final obs (t = length) at its end
        next_obs = batch.next_observations()[sl]
        np.testing.assert_array_equal([o[0] for o in next_obs], np.arange(1, length + 1))
        assert batch.terminated[sl].tolist() == [False] * (length - 1) + [seed % 2 == 0]
        assert batch.truncated[sl].tolist() == [False] * (length - 1) + [seed % 2 == 1]
    assert {s % 2 for s in batch.episode_seeds} == {0, 1}


def test_each_env_slot_gets_its_own_env_fn_copy():
    w = RolloutWorker(GymEnvFn("CartPole-v1"), MLP, 0, 0, envs_per_worker=3)
    w.sample(_weights(), 0, 0, episodes=6)
    envs = {id(f._env) for f in w.env_fns}
    assert len(envs) == 3


@pytest.mark.parametrize("episodes", [1, 2])
def test_fewer_episodes_than_env_slots(episodes):
    w = RolloutWorker(CARTPOLE, MLP, 0, 0, envs_per_worker=4)
    assert len(w.sample(_weights(), 0, 0, episodes=episodes).episode_returns) == episodes


# ---------------------------------------------------------------- team (PettingZoo) envs
class _TeamPolicy(MaskedActorCritic):
    """A team policy for N agents: per-agent linear logits and values over joint obs."""

    def __init__(self, obs_dim=29, n_agents=3, n_actions=5):
        super().__init__()
        self.n_agents = n_agents
        self.pi = torch.nn.Linear(obs_dim, n_actions)
        self.v = torch.nn.Linear(obs_dim, 1)

    def forward(self, obs):
        x = torch.as_tensor(np.stack(obs))  # [B, N, obs_dim]
        return self.pi(x), None, self.v(x).squeeze(-1)


def _pp_env_fn(seed, dim=5, n_agents=3):
    from envs.predator_prey import parallel_env

    return parallel_env(dim=dim, n_agents=n_agents, vision=1, max_steps=12)


def test_team_env_batches_are_per_agent_with_gae_per_agent():
    w = RolloutWorker(_pp_env_fn, _TeamPolicy, 0, 3, envs_per_worker=2)
    batch = w.sample(_TeamPolicy().state_dict(), 0, 0, episodes=4)
    advantages, returns = batch_advantages(batch, 0.9, 0.95)
    s = batch.env_steps
    assert len(batch.obs) == s and batch.obs[0].shape == (3, 29)
    for key in ("actions", "logp", "values", "rewards"):
        assert getattr(batch, key).shape == (s, 3), key
    assert advantages.shape == returns.shape == (s, 3)
    assert batch.bootstrap_values.shape == (4, 3)
    start = 0
    for length, info in zip(batch.episode_lengths, batch.episode_infos, strict=True):
        sl = slice(start, start + length)
        start += length
        assert info["steps"] == length and info["success"] in (0.0, 1.0)
        terminated = info["success"] == 1.0
        if not terminated:  # truncated at max_steps: bootstrapped with the value of the
            assert length == 12  # final observation, which is not in the batch
            continue
        for agent in range(3):  # each agent's column is its own trajectory
            dones = np.zeros(length)
            dones[-1] = 1
            adv, _ = compute_gae(
                batch.rewards[sl, agent], batch.values[sl, agent], dones, 0.0, 0.9, 0.95
            )
            np.testing.assert_allclose(advantages[sl, agent], adv, rtol=1e-5, atol=1e-6)
    # the team's episode return is the mean over agents of each agent's sum of rewards
    first = batch.episode_lengths[0]
    assert batch.episode_returns[0] == pytest.approx(batch.rewards[:first].sum(0).mean(), 1e-5)


def test_team_env_request_is_reproducible():
    weights = _TeamPolicy().state_dict()
    a = RolloutWorker(_pp_env_fn, _TeamPolicy, 1, 5, 2).sample(weights, 0, 2, 3)
    b = RolloutWorker(_pp_env_fn, _TeamPolicy, 1, 5, 2).sample(weights, 0, 2, 3)
    np.testing.assert_array_equal(a.actions, b.actions)
    np.testing.assert_array_equal(a.rewards, b.rewards)


def test_team_env_from_a_third_party_package_mpe2():
    mpe2 = pytest.importorskip("mpe2.simple_spread_v3")

    def env_fn(seed):
        return mpe2.parallel_env(N=3, max_cycles=7, continuous_actions=False)

    policy = functools.partial(_TeamPolicy, obs_dim=18, n_agents=3)
    batch = RolloutWorker(env_fn, policy, 0, 0, 2).sample(policy().state_dict(), 0, 0, 2)
    assert batch.actions.shape == (14, 3) and list(batch.episode_lengths) == [7, 7]
    assert np.isfinite(batch_advantages(batch, 0.99, 0.95)[0]).all()


class _EarlyLeaver:
    """A ParallelEnv whose second agent leaves one step before the first."""

    possible_agents = ["a", "b"]

    def reset(self, seed=None):
        self.t = 0
        return {a: np.zeros(2, np.float32) for a in self.possible_agents}, {}

    def step(self, actions):
        self.t += 1
        obs = {a: np.zeros(2, np.float32) for a in self.possible_agents}
        rew = {a: 0.0 for a in self.possible_agents}
        term = {"a": self.t >= 3, "b": self.t >= 2}
        return obs, rew, term, {a: False for a in self.possible_agents}, {}


def test_team_agents_that_end_apart_are_a_clear_error():
    from rlsys.rl.rollout import TeamEnv

    env = TeamEnv(_EarlyLeaver())
    env.reset(seed=0)
    env.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(RuntimeError, match=r"\['b'\] ended before"):
        env.step(np.zeros(2, dtype=np.int64))


class _EpisodeDrawPolicy(_TeamPolicy):
    """A team policy that draws a number per episode and acts with it (the hook's
    contract: ``begin_episode`` at every episode start, its draws back in ``act``)."""

    def begin_episode(self, generator=None):
        return int(torch.randint(1000, (1,), generator=generator))

    def act(self, obs, deterministic=False, generator=None, episode=None):
        actions, logp, values, extras = super().act(obs, deterministic, generator)
        if episode is not None:
            extras = {"draw": np.asarray(episode, dtype=np.int64)}
        return actions, logp, values, extras


def test_per_episode_draws_reach_every_step_of_their_episode_reproducibly():
    weights = _EpisodeDrawPolicy().state_dict()
    worker = RolloutWorker(_pp_env_fn, _EpisodeDrawPolicy, 0, 3, envs_per_worker=2)
    batch = worker.sample(weights, 0, 0, episodes=6)
    draws = batch.policy_extras["draw"]
    start, per_episode = 0, []
    for length in batch.episode_lengths:
        assert len(set(draws[start : start + length].tolist())) == 1  # one draw per episode
        per_episode.append(int(draws[start]))
        start += length
    assert len(set(per_episode)) > 1  # and each episode its own
    again = RolloutWorker(_pp_env_fn, _EpisodeDrawPolicy, 0, 3, envs_per_worker=2)
    np.testing.assert_array_equal(
        again.sample(weights, 0, 0, episodes=6).policy_extras["draw"], draws
    )
