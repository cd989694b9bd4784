"""Trainer on the shared 2-CPU Ray instance: learning, worker death, resume, logs."""

import functools
import json
import sys
import threading
import time

import gymnasium as gym
import numpy as np
import pytest
import ray
import ray.cloudpickle
import torch

from rlsys.rl.policy import MLPPolicy
from rlsys.rl.ppo import PPOConfig
from rlsys.rl.rollout import GymEnvFn
from rlsys.rl.trainer import RolloutConfig, TrainConfig, Trainer, load_policy

# The workers import nothing from tests/: ship this module's helpers by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

POLICY_KWARGS = {"obs_dim": 4, "n_actions": 2}
MLP = functools.partial(MLPPolicy, **POLICY_KWARGS)


def _cfg(total_updates, **rollout):
    rollout = {
        "num_workers": 2,
        "envs_per_worker": 4,
        "episodes_per_request": 8,
        "worker_num_cpus": 0.5,
        "request_timeout_s": 120.0,
        **rollout,
    }
    return TrainConfig(
        seed=1,
        total_updates=total_updates,
        checkpoint_every=2,
        ppo=PPOConfig(learning_rate=1e-3, minibatch_size=256, update_epochs=10, ent_coef=0.0),
        rollout=RolloutConfig(**rollout),
    )


def greedy_return(policy, update, episodes=3):
    """evaluate_fn: mean return of the deterministic policy on fixed seeds (driver side)."""
    env = gym.make("CartPole-v1")
    total = 0.0
    for seed in range(episodes):
        obs, _ = env.reset(seed=1000 + seed)
        done = False
        while not done:
            action, *_ = policy.act([obs], deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            total += reward
            done = terminated or truncated
    return {"return": total / episodes}


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_cartpole_learns_and_writes_logs(ray_local, tmp_path):
    trainer = Trainer(
        _cfg(15),
        GymEnvFn("CartPole-v1"),
        MLP,
        tmp_path,
        evaluate_fn=greedy_return,
        policy_kwargs=POLICY_KWARGS,
    )
    trainer.cfg.eval_every = 5
    summary = trainer.train()
    metrics = _metrics(tmp_path)
    returns = [m["charts/episodic_return"] for m in metrics]
    # Update 1's batch is the untrained policy (about 20-30 on CartPole).
    untrained, trained = returns[0], float(np.mean(returns[-3:]))
    print(f"CartPole mean episode return: untrained {untrained:.1f} -> trained {trained:.1f}")
    assert trained > 3 * untrained and trained > untrained + 100

    assert summary["updates"] == 15 and [m["update"] for m in metrics] == list(range(1, 16))
    assert (
        summary["env_steps"]
        == metrics[-1]["env_steps"]
        == sum(m["charts/batch_steps"] for m in metrics)
    )
    for key in ("losses/policy_loss", "losses/value_loss", "losses/approx_kl", "charts/SPS"):
        assert all(np.isfinite(m[key]) for m in metrics), key
    assert [m["update"] for m in metrics if "eval/return" in m] == [5, 10, 15]
    assert summary["eval"]["return"] == metrics[-1]["eval/return"]
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))

    ckpt = torch.load(tmp_path / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["update"] == 15 and ckpt["request_indices"] == [15, 15]
    assert (tmp_path / "checkpoints" / "ckpt_14.pt").exists()
    rebuilt = load_policy(tmp_path / "final.pt", MLPPolicy)
    for name, p in trainer.policy.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], p)


class SlowCartPole(GymEnvFn):
    """CartPole whose steps take a few ms, so that requests are long enough to be killed."""

    def __call__(self, episode_seed):
        env = super().__call__(episode_seed)
        if not hasattr(env, "slow"):
            step = env.step

            def slow_step(action):
                time.sleep(0.003)
                return step(action)

            env.step, env.slow = slow_step, True
        return env


def _params(trainer):
    return {k: v.clone() for k, v in trainer.policy.state_dict().items()}


def test_killed_worker_restarts_and_training_is_unchanged(ray_local, tmp_path):
    cfg = _cfg(6, episodes_per_request=4)
    reference = Trainer(cfg, SlowCartPole("CartPole-v1"), MLP, tmp_path / "ref", progress=False)
    reference.train()

    trainer = Trainer(cfg, SlowCartPole("CartPole-v1"), MLP, tmp_path / "kill", progress=False)
    killed = []

    def kill_mid_training():
        while not (trainer.update >= 2 and trainer.in_flight):
            time.sleep(0.01)
        time.sleep(0.05)  # the request is now running on the worker
        ray_local.kill(trainer.workers[0], no_restart=False)
        killed.append(trainer.update)

    killer = threading.Thread(target=kill_mid_training, daemon=True)
    killer.start()
    summary = trainer.train()
    killer.join(timeout=5)

    assert killed and killed[0] < 6
    assert summary["updates"] == 6
    assert summary["worker_restarts"] >= 1
    assert _metrics(tmp_path / "kill")[-1]["system/worker_restarts"] >= 1
    # Sync mode, same seed: the restarted worker re-ran the same request, so nothing changed.
    for name, p in _params(reference).items():
        assert torch.equal(trainer.policy.state_dict()[name], p), name


def test_resume_gives_the_same_next_batch_and_update(ray_local, tmp_path):
    cfg = _cfg(4, episodes_per_request=4)
    env_fn = GymEnvFn("CartPole-v1")

    straight = Trainer(cfg, env_fn, MLP, tmp_path / "a", progress=False)
    straight.train(stop_after=3)

    # The driver "dies" after update 3, whose checkpoint is lost: resume from update 2.
    interrupted = Trainer(cfg, env_fn, MLP, tmp_path / "b", progress=False)
    interrupted.train(stop_after=3)
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:
        f.write('{"update": 4, "env_st')  # a line torn by the kill
    ckpt = tmp_path / "b" / "checkpoints" / "ckpt_2.pt"
    resumed = Trainer.resume(tmp_path / "b", env_fn, MLP, checkpoint=ckpt, progress=False)
    assert resumed.update == 2 and resumed.request_indices == [2, 2]
    assert [m["update"] for m in _metrics(tmp_path / "b")] == [1, 2]
    before = _metrics(tmp_path / "b")[-1]["time/elapsed_s"]
    summary = resumed.train(stop_after=1)
    # The run's time goes on from the checkpoint's, not from zero (the report states it).
    last = _metrics(tmp_path / "b")[-1]
    part = last["time/rollout_s"] + last["time/update_s"]  # at most the resumed part's time
    assert before + part <= last["time/elapsed_s"] <= summary["wall_time_s"]

    a, b = straight.last_batch, resumed.last_batch
    assert a.episode_seeds == b.episode_seeds
    for key in ("actions", "rewards", "logp", "values", "bootstrap_values"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    for name, p in _params(straight).items():
        torch.testing.assert_close(resumed.policy.state_dict()[name], p, rtol=0, atol=1e-7)
    assert [m["update"] for m in _metrics(tmp_path / "b")] == [1, 2, 3]


def test_async_mode_bounds_policy_lag(ray_local, tmp_path):
    cfg = _cfg(5, mode="async", min_steps_per_update=300, max_policy_lag=1)
    summary = Trainer(cfg, GymEnvFn("CartPole-v1"), MLP, tmp_path, progress=False).train()
    metrics = _metrics(tmp_path)
    assert summary["updates"] == 5
    assert all(m["charts/batch_steps"] >= 300 for m in metrics)
    assert all(m["charts/policy_lag"] <= 1 for m in metrics)
    assert metrics[-1]["env_steps"] == summary["env_steps"]


def test_resume_refuses_a_different_worker_count(ray_local, tmp_path):
    Trainer(_cfg(1), GymEnvFn("CartPole-v1"), MLP, tmp_path, progress=False).train()
    cfg = _cfg(2, num_workers=1)
    with pytest.raises(ValueError, match="workers"):
        Trainer.resume(tmp_path, GymEnvFn("CartPole-v1"), MLP, cfg=cfg)


def test_a_request_lost_with_its_worker_is_reissued(ray_local, tmp_path, monkeypatch):
    # Ray retries a dead actor's task itself (max_task_retries=-1); this is the fallback
    # for when the error surfaces anyway: the same request goes out again.
    real_get, lost = ray.get, []

    def get_losing_the_first_batch(ref, *args, **kwargs):
        if not lost:
            lost.append(ref)
            raise ray.exceptions.RayActorError()
        return real_get(ref, *args, **kwargs)

    monkeypatch.setattr(ray, "get", get_losing_the_first_batch)
    cfg = _cfg(2, episodes_per_request=2)
    trainer = Trainer(cfg, GymEnvFn("CartPole-v1"), MLP, tmp_path, progress=False)
    summary = trainer.train()
    assert lost and summary["failed_requests"] == 1 and summary["updates"] == 2
    assert _metrics(tmp_path)[-1]["system/failed_requests"] == 1
    assert trainer.request_indices == [2, 2]  # re-issued under its old index


def test_the_learner_runs_on_its_configured_threads(tmp_path):
    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            cfg = _cfg(1)
            cfg.learner_threads = threads
            Trainer(cfg, GymEnvFn("CartPole-v1"), MLP, tmp_path / str(threads), progress=False)
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
