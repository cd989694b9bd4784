"""SAC in the shared core: replay buffer, squashed Gaussian actor, learning, resume."""

import functools
import math
import sys

import gymnasium as gym
import numpy as np
import pytest
import ray.cloudpickle
import torch

from rlsys.rl.rollout import GymEnvFn, RolloutWorker
from rlsys.rl.sac import (
    ReplayBuffer,
    SACConfig,
    SACLearner,
    SquashedGaussianActor,
    state_entropy_reward,
)
from rlsys.rl.trainer import RolloutConfig, TrainConfig, Trainer

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

PENDULUM = GymEnvFn("Pendulum-v1")
ACTOR = functools.partial(SquashedGaussianActor, 3, 1, [-2.0], [2.0], (64, 64))


def _batch(episodes=2, seed=0, request=0):
    actor = ACTOR()
    worker = RolloutWorker(PENDULUM, ACTOR, 0, seed, envs_per_worker=1)
    return worker.sample(actor.state_dict(), 0, request, episodes)


def test_pendulum_batch_is_continuous_transitions():
    batch = _batch()
    assert batch.actions.dtype == np.float32 and batch.actions.shape == (400, 1)
    assert np.all(np.abs(batch.actions) <= 2.0)
    assert batch.truncated.sum() == 2 and not batch.terminated.any()  # time limit 200
    nxt = batch.next_observations()
    np.testing.assert_array_equal(nxt[0], batch.obs[1])
    np.testing.assert_array_equal(nxt[199], batch.final_obs[0])


def test_replay_buffer_wraps_keeps_env_reward_and_round_trips():
    batch = _batch()  # 400 transitions into a 300-slot ring
    buf = ReplayBuffer(300, 3, 1)
    buf.add(batch, rewards=np.full(400, 7.0))
    assert buf.size == 300 and buf.added == 400 and buf.position == 100
    # the newest 100 overwrote slots 0..99
    np.testing.assert_allclose(buf.obs[:100].numpy(), np.stack(batch.obs[300:]), rtol=1e-6)
    np.testing.assert_allclose(buf.env_rewards[:100].numpy(), batch.rewards[300:], rtol=1e-6)
    assert torch.all(buf.rewards == 7.0)
    buf.relabel(lambda obs, act: obs[:, 0] + act[:, 0])
    torch.testing.assert_close(buf.rewards, buf.obs[:, 0] + buf.actions[:, 0])
    copy = ReplayBuffer(300, 3, 1)
    copy.load_state_dict(buf.state_dict())
    for name in ReplayBuffer.FIELDS:
        torch.testing.assert_close(getattr(copy, name), getattr(buf, name))
    assert (copy.size, copy.position, copy.added) == (300, 100, 400)


def test_actor_log_prob_is_the_squashed_density():
    # 1-D: p(a) = N(u; mean, std) / |da/du| with a = 2 tanh(u); integrate over a grid
    torch.manual_seed(0)
    actor = ACTOR()
    x = torch.randn(1, 3)
    with torch.no_grad():
        mean, log_std = actor(x)
    a = torch.linspace(-1.999, 1.999, 20001)
    u = torch.atanh(a / 2)
    std = log_std.exp()
    density = torch.exp(-0.5 * ((u - mean[0, 0]) / std[0, 0]) ** 2) / (
        std[0, 0] * math.sqrt(2 * math.pi) * 2 * (1 - (a / 2) ** 2)
    )
    assert float(torch.trapezoid(density, a)) == pytest.approx(1.0, abs=1e-2)
    action, logp, _ = actor.sample(x.expand(4, 3), torch.Generator().manual_seed(1))
    y = action[:, 0] / 2
    u = torch.atanh(y)
    expected = (
        -0.5 * ((u - mean[0, 0]) / std[0, 0]) ** 2
        - log_std[0, 0]
        - 0.5 * math.log(2 * math.pi)
        - torch.log(2 * (1 - y**2))
    )
    torch.testing.assert_close(logp, expected, rtol=1e-3, atol=1e-3)


def test_explore_is_uniform_until_learning_starts():
    actor = ACTOR()
    learner = SACLearner(actor, SACConfig(learning_starts=500, batch_size=32, hidden_sizes=[32]))
    assert bool(actor.explore)
    stats = learner.update(_batch(episodes=2))  # 400 < 500: no gradient step yet
    assert stats["gradient_steps"] == 0 and bool(actor.explore)
    stats = learner.update(_batch(episodes=1, request=1))  # 600 >= 500
    assert stats["gradient_steps"] == 200 and not bool(actor.explore)
    for key in ("q_loss", "actor_loss", "alpha", "entropy"):
        assert math.isfinite(stats[key])


def test_state_entropy_reward_is_the_log_kth_neighbour_distance():
    # reference: 0, 1, 2, 3, 10 on a line; queries are members, so k = 1 skips themselves
    reference = torch.tensor([[0.0], [1.0], [2.0], [3.0], [10.0]])
    r = state_entropy_reward(reference, reference, k=1)
    torch.testing.assert_close(r, torch.log1p(torch.tensor([1.0, 1.0, 1.0, 1.0, 7.0])))
    r2 = state_entropy_reward(torch.tensor([[1.5]]), reference, k=2)  # 2nd..3rd: 0.5, 1.5
    torch.testing.assert_close(r2, torch.log1p(torch.tensor([1.5])))
    assert r[-1] > r[:-1].max()  # the isolated state earns the most
    with pytest.raises(ValueError, match="more than k = 5"):
        state_entropy_reward(reference, reference, k=5)


def test_minibatch_reward_replaces_the_stored_reward_and_critics_reset():
    torch.manual_seed(0)
    cfg = SACConfig(learning_starts=0, batch_size=32, hidden_sizes=[16], updates_per_step=0.05)
    learner = SACLearner(ACTOR(), cfg, seed=1)
    seen = []

    def reward(mb):
        seen.append(mb["next_obs"].shape)
        return torch.full((len(mb["next_obs"]),), 100.0)

    learner.minibatch_reward = reward
    stats = learner.update(_batch(episodes=1))
    assert len(seen) == stats["gradient_steps"] == 10 and seen[0] == (32, 3)
    assert stats["q_value"] > 1.0  # learnt from +100 per step (Pendulum's are <= 0)
    before = [p.clone() for p in learner.q1.parameters()]
    learner.reset_critics()
    after = list(learner.q1.parameters())
    assert not torch.equal(before[0], after[0])
    for p, tp in zip(learner.q1.parameters(), learner.q1_target.parameters(), strict=True):
        assert torch.equal(p, tp)
    # deterministic under the learner's own generator, whatever torch's global one holds
    a, b = SACLearner(ACTOR(), cfg, seed=7), SACLearner(ACTOR(), cfg, seed=7)
    torch.manual_seed(1)
    a.reset_critics()
    torch.manual_seed(2)
    b.reset_critics()
    for p, q in zip(a.q1.parameters(), b.q1.parameters(), strict=True):
        assert torch.equal(p, q)


def _sac_cfg(total_updates, **sac):
    return TrainConfig(
        seed=3,
        total_updates=total_updates,
        checkpoint_every=2,
        algorithm="sac",
        sac=SACConfig(
            **{"learning_starts": 400, "batch_size": 64, "hidden_sizes": [64, 64], **sac}
        ),
        rollout=RolloutConfig(
            num_workers=1, envs_per_worker=1, episodes_per_request=1, worker_num_cpus=0.5
        ),
    )


def pendulum_return(policy, update, episodes=3):
    """evaluate_fn: mean return of the deterministic actor on fixed seeds."""
    env = gym.make("Pendulum-v1")
    total = 0.0
    for seed in range(episodes):
        obs, _ = env.reset(seed=500 + seed)
        done = False
        while not done:
            action, *_ = policy.act([obs], deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action[0])
            total += reward
            done = terminated or truncated
    return {"return": total / episodes}


def test_sac_resume_is_bit_identical(ray_local, tmp_path):
    cfg = _sac_cfg(4, updates_per_step=0.25)
    straight = Trainer(cfg, PENDULUM, ACTOR, tmp_path / "a", progress=False)
    straight.train()
    interrupted = Trainer(cfg, PENDULUM, ACTOR, tmp_path / "b", progress=False)
    interrupted.train(stop_after=3)
    resumed = Trainer.resume(
        tmp_path / "b", PENDULUM, ACTOR, checkpoint=tmp_path / "b/checkpoints/ckpt_2.pt",
        progress=False,
    )  # fmt: skip
    assert resumed.learner.buffer.added == 400
    resumed.train()
    for name, p in straight.policy.state_dict().items():
        torch.testing.assert_close(resumed.policy.state_dict()[name], p, rtol=0, atol=0)
    for name in ("q1", "q2_target"):
        a, b = getattr(straight.learner, name), getattr(resumed.learner, name)
        for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
            torch.testing.assert_close(pa, pb, rtol=0, atol=0)


@pytest.mark.slow
def test_sac_improves_pendulum_return_in_a_short_run(ray_local, tmp_path):
    torch.manual_seed(0)
    before = pendulum_return(ACTOR(), 0)["return"]
    trainer = Trainer(
        _sac_cfg(22), PENDULUM, ACTOR, tmp_path, evaluate_fn=pendulum_return, progress=False
    )
    trainer.cfg.eval_every = 22
    summary = trainer.train()
    after = summary["eval"]["return"]
    # untrained: about -1,200 to -1,500; SAC swings the pendulum up within ~4k steps
    assert after > before + 400, (before, after)
    assert after > -700
