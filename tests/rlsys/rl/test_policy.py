import numpy as np
import torch

from rlsys.rl.policy import ActorCritic, MLPPolicy


def test_mlp_policy_follows_the_protocol_with_shapes():
    policy = MLPPolicy(obs_dim=3, n_actions=5)
    assert isinstance(policy, ActorCritic)
    obs = [np.random.default_rng(i).normal(size=3).astype(np.float32) for i in range(7)]
    actions, logp, values, extras = policy.act(obs, generator=torch.Generator().manual_seed(0))
    assert extras == {}
    assert actions.shape == logp.shape == values.shape == (7,)
    assert actions.dtype == np.int64 and logp.dtype == values.dtype == np.float32
    new_logp, entropy, new_values = policy.evaluate(obs, torch.as_tensor(actions))
    assert new_logp.shape == entropy.shape == new_values.shape == (7,)
    assert new_logp.requires_grad
    np.testing.assert_allclose(new_logp.detach().numpy(), logp, rtol=1e-5)
    np.testing.assert_allclose(new_values.detach().numpy(), values, rtol=1e-5)


def test_masks_inside_observations_are_applied():
    policy = MLPPolicy(obs_dim=2, n_actions=4)
    mask = np.array([0, 0, 1, 0], dtype=np.int8)
    obs = [{"obs": np.ones(2, np.float32), "action_mask": mask}] * 200
    actions, *_ = policy.act(obs, generator=torch.Generator().manual_seed(1))
    assert (actions == 2).all()
    greedy, logp, *_ = policy.act(obs[:1], deterministic=True)
    assert greedy[0] == 2 and logp[0] == 0.0


def test_sampling_draws_only_from_the_generator():
    policy = MLPPolicy(obs_dim=2, n_actions=6)
    obs = [np.zeros(2, np.float32)] * 64
    a1, *_ = policy.act(obs, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global RNG must not matter
    a2, *_ = policy.act(obs, generator=torch.Generator().manual_seed(3))
    assert np.array_equal(a1, a2)
