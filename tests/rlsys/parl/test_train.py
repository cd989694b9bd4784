"""PARL / PEBBLE / oracle on the shared trainer: budgets, feedback rounds, resume, CLI."""

import dataclasses
import json
import sys

import numpy as np
import pytest
import ray.cloudpickle
import torch

from rlsys.cli import main
from rlsys.config import ConfigError
from rlsys.parl.reward_model import RewardModelConfig
from rlsys.parl.train import PARLConfig, PARLTrainConfig, check_budget, env_spec, train
from rlsys.rl.sac import SACConfig
from rlsys.rl.trainer import RolloutConfig

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _cfg(method="parl", updates=4, **kwargs):
    return PARLConfig(
        method=method,
        queries=30,
        queries_per_feedback=10,
        feedback_every=1,
        segment_length=10,
        hidden_sizes=[32, 32],
        reward=RewardModelConfig(members=2, hidden_sizes=[16], epochs=2, candidates=3),
        eval_episodes=1,
        train=PARLTrainConfig(
            seed=4,
            total_updates=updates,
            checkpoint_every=2,
            eval_every=0,
            algorithm="sac",
            sac=SACConfig(
                learning_starts=200, batch_size=32, hidden_sizes=[32, 32], updates_per_step=0.1
            ),
            rollout=RolloutConfig(
                num_workers=1, envs_per_worker=1, episodes_per_request=1, worker_num_cpus=0.5
            ),
        ),  # fmt: skip
        **kwargs,
    )


def test_config_and_budget_errors_name_the_value():
    with pytest.raises(ConfigError, match="train.algorithm must be 'sac'"):
        PARLConfig(train=PARLTrainConfig(algorithm="ppo"))
    with pytest.raises(ConfigError, match="method must be one of"):
        PARLConfig(method="rlhf")
    spec = env_spec("pendulum")
    assert spec["episode_steps"] == 200 and spec["act_dim"] == 1
    with pytest.raises(ValueError, match="300 queries is more than the sample budget of 200 "):
        check_budget(dataclasses.replace(_cfg(updates=1), queries=300), spec)
    with pytest.raises(ValueError, match="segment length 500"):
        check_budget(dataclasses.replace(_cfg(), segment_length=500), spec)
    with pytest.raises(ValueError, match="unknown PARL task 'hopper'"):
        env_spec("hopper")


@pytest.mark.parametrize("method", ["parl", "pebble"])
def test_feedback_rounds_spend_the_budget_and_relabel_the_buffer(ray_local, tmp_path, method):
    summary = train(_cfg(method), tmp_path, progress=False)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["losses/queries"] for r in rows] == [10, 20, 30, 30]
    assert summary["env_steps"] == 800
    if method == "parl":  # the T2 term was computed and scaled into its trust region
        assert 0 < rows[0]["losses/t2_scale"] <= 1
    else:
        assert "losses/t2_scale" not in rows[0]
    assert (tmp_path / "final.pt").exists()


def test_unsupervised_pretraining_then_feedback(ray_local, tmp_path):
    # 200-step episodes: updates 0 and 1 stay within 400 pre-training steps
    train(_cfg("pebble", unsupervised_steps=400), tmp_path, progress=False)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["losses/pretraining"] for r in rows] == [1, 1, 0, 0]
    assert [r["losses/queries"] for r in rows] == [0, 0, 10, 20]
    with pytest.raises(ValueError, match="pre-training of 800 env steps leaves none"):
        check_budget(_cfg("pebble", unsupervised_steps=800), env_spec("pendulum"))


def test_pretraining_learns_from_the_entropy_reward_and_resets_the_critics():
    from rlsys.parl.train import PreferenceLearner
    from rlsys.rl.rollout import GymEnvFn, RolloutWorker
    from rlsys.rl.sac import SquashedGaussianActor

    cfg = _cfg("pebble", unsupervised_steps=400)
    actor = SquashedGaussianActor(3, 1, [-2.0], [2.0], [32, 32])
    learner = PreferenceLearner(actor, cfg, seed=0)
    assert learner.minibatch_reward == learner.entropy_reward
    worker = RolloutWorker(GymEnvFn("Pendulum-v1"), lambda: actor, 0, 0, envs_per_worker=1)
    for request in range(2):
        learner.update(worker.sample(actor.state_dict(), 0, request, 1))
    mb = learner.buffer.sample(64, torch.Generator().manual_seed(0))
    r = learner.entropy_reward(mb)
    assert r.shape == (64,) and torch.all(r >= 0) and abs(float(r.std()) - 1) < 1e-4
    assert learner.gradient_steps == 40  # 20 per 200-step batch once 200 are in
    stats = learner.update(worker.sample(actor.state_dict(), 0, 2, 1))  # 600 > 400: it ends
    assert learner.pretrained and learner.minibatch_reward is None
    assert learner.queries_asked == 10 and stats["pretraining"] == 0
    # fresh critics and optimiser: Adam has seen only this update's 20 steps, not 60
    q_param = next(learner.q1.parameters())
    assert int(learner.q_optimizer.state[q_param]["step"]) == 20
    state = learner.state_dict()
    fresh = PreferenceLearner(SquashedGaussianActor(3, 1, [-2.0], [2.0], [32, 32]), cfg, 0)
    fresh.load_state_dict(state)
    assert fresh.pretrained and fresh.minibatch_reward is None


def test_parl_queries_come_from_the_on_policy_window():
    from rlsys.parl.train import PreferenceLearner
    from rlsys.rl.sac import SquashedGaussianActor

    cfg = _cfg("parl")
    cfg.hypergradient = dataclasses.replace(cfg.hypergradient, rollout_steps=250)
    actor = SquashedGaussianActor(3, 1, [-2.0], [2.0], [8])
    learner = PreferenceLearner(actor, cfg, seed=0)
    # episode k: 100 steps whose observations all equal k
    episodes = [(np.full((100, 3), k, np.float32), np.zeros((100, 1), np.float32),
                 np.zeros(100)) for k in range(6)]  # fmt: skip
    learner.episodes.extend(episodes)
    window = learner.on_policy_window(episodes[-1:])
    assert [int(e[0][0, 0]) for e in window] == [3, 4, 5]  # 300 >= 250 steps, newest last
    # at least the fresh batch, even when it alone exceeds the window
    assert len(learner.on_policy_window(episodes[-4:])) == 4
    obs, _, _ = learner._segments(window, 200)
    assert set(np.unique(obs[..., 0]).tolist()) <= {3.0, 4.0, 5.0}


@pytest.mark.parametrize("pairs", ["on_policy", "mixed"])
def test_parl_query_pairs_on_policy_or_mixed(pairs):
    """'on_policy': both segments of every labelled pair from the window; 'mixed': the
    first from the window, the second from every stored episode (T2 still runs)."""
    from rlsys.parl.train import PreferenceLearner
    from rlsys.rl.sac import SquashedGaussianActor

    cfg = _cfg("parl")
    cfg.reward = dataclasses.replace(cfg.reward, selection="uniform")
    cfg.hypergradient = dataclasses.replace(cfg.hypergradient, rollout_steps=250, pairs=pairs)
    learner = PreferenceLearner(SquashedGaussianActor(3, 1, [-2.0], [2.0], [8]), cfg, seed=0)
    episodes = [(np.full((100, 3), k, np.float32), np.zeros((100, 1), np.float32),
                 np.full(100, float(k))) for k in range(6)]  # fmt: skip
    learner.episodes.extend(episodes)
    stats = learner.feedback(episodes[-1:])
    obs0, _, obs1, _, labels = learner.rewards.data.tensors()
    assert len(labels) == 10 and "t2_scale" in stats
    assert set(obs0[..., 0].unique().tolist()) <= {3.0, 4.0, 5.0}
    replayed = set(obs1[..., 0].unique().tolist()) - {3.0, 4.0, 5.0}
    assert bool(replayed) == (pairs == "mixed")


@pytest.mark.parametrize("unsupervised_steps", [0, 400])
def test_resume_is_bit_identical(ray_local, tmp_path, unsupervised_steps):
    # with pre-training, the update-2 checkpoint is inside it and update 2 ends it
    cfg = _cfg("parl", unsupervised_steps=unsupervised_steps)
    straight = train(cfg, tmp_path / "a", progress=False)
    # a run killed after 3 updates, resumed from its update-2 checkpoint
    train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, total_updates=3)),
          tmp_path / "b", progress=False)  # fmt: skip
    for p in (tmp_path / "b" / "checkpoints").glob("ckpt_3.pt"):
        p.unlink()
    (tmp_path / "b" / "checkpoints" / "ckpt_2.pt").replace(
        tmp_path / "b" / "checkpoints" / "latest.pt"
    )
    (tmp_path / "b" / "final.pt").unlink(missing_ok=True)
    resumed = train(cfg, tmp_path / "b", resume=True, progress=False)
    assert resumed["updates"] == straight["updates"] == 4
    a = torch.load(tmp_path / "a" / "final.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "final.pt", weights_only=True)["model"]
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
    la = torch.load(tmp_path / "a/checkpoints/latest.pt", weights_only=True)["learner"]
    lb = torch.load(tmp_path / "b/checkpoints/latest.pt", weights_only=True)["learner"]
    for name in la["rewards"]["model"]:
        torch.testing.assert_close(la["rewards"]["model"][name], lb["rewards"]["model"][name])
    assert la["queries_asked"] == lb["queries_asked"] == (30 if unsupervised_steps == 0 else 20)
    np.testing.assert_array_equal(
        la["rewards"]["data"]["labels"].numpy(), lb["rewards"]["data"]["labels"].numpy()
    )


def test_cli_train_then_eval(ray_local, tmp_path, capsys):
    rc = main(["parl", "train", "--steps", "400", "--queries", "10", "--teacher", "noisy",
               "--beta", "2", "--runs-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    assert rc == 0
    (run,) = (tmp_path / "parl").iterdir()
    assert (run / "report.md").exists() and (run / "learning_curves.png").exists()
    assert "noisy" in (run / "config.yaml").read_text()
    capsys.readouterr()
    assert main(["parl", "eval", "--checkpoint", str(run / "final.pt"), "--episodes", "1"]) == 0
    assert "true return" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--teacher", "psychic"], "kind must be one of"),
        (["--teacher", "noisy", "--beta", "0"], "beta must be > 0"),
        (["--task", "hopper"], "task must be one of"),
        (["--queries", "5000", "--steps", "1000"], "5000 queries is more than"),
        (["--steps", "0"], "--steps must be at least 1"),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, capsys, argv, message):
    assert main(["parl", "train", "--runs-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "task, episode, obs_dim, act_dim", [("reacher", 50, 10, 2), ("cheetah", 1000, 17, 6)]
)
def test_mujoco_task_runs_end_to_end(ray_local, tmp_path, task, episode, obs_dim, act_dim):
    cfg = _cfg("parl", updates=2, task=task)
    cfg.train.sac = dataclasses.replace(cfg.train.sac, learning_starts=episode)
    cfg = dataclasses.replace(cfg, queries=10)
    summary = train(cfg, tmp_path, progress=False)
    assert summary["env_steps"] == 2 * episode  # two whole episodes
    spec = env_spec(task)
    assert (spec["obs_dim"], spec["act_dim"], spec["episode_steps"]) == (obs_dim, act_dim, episode)


def test_dm_control_walker_runs_end_to_end(ray_local, tmp_path):
    """The cluster-size task (configs/parl/walker.yaml) at smoke size: two 1,000-step
    episodes, one feedback round on segments of the rollout actor's walker episodes."""
    cfg = _cfg("parl", updates=2, task="walker")
    cfg.train.sac = dataclasses.replace(cfg.train.sac, learning_starts=500)
    cfg = dataclasses.replace(cfg, queries=10)
    summary = train(cfg, tmp_path, progress=False)
    assert summary["env_steps"] == 2000
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["losses/queries"] == 10
    spec = env_spec("walker")
    assert (spec["obs_dim"], spec["act_dim"], spec["episode_steps"]) == (24, 6, 1000)


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_over(
    ray_local, tmp_path, capsys
):
    argv = ["parl", "train", "--steps", "200", "--queries", "5", "--runs-dir", str(tmp_path),
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    (run,) = (tmp_path / "parl").iterdir()
    for p in (run / "checkpoints").iterdir():  # as if killed during the first update
        p.unlink()
    (run / "final.pt").unlink()
    capsys.readouterr()
    assert main(["parl", "train", "--resume", str(run), "--no-progress"]) == 0
    assert "no checkpoint yet: training starts from update 0" in capsys.readouterr().out
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["update"] for r in rows] == [1]
