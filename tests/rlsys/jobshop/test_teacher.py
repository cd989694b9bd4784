"""The planning teacher: its labels follow their definition, the imitation loss is the
cross-entropy it claims, and a short kickstarted run moves the policy towards the teacher."""

import numpy as np
import pytest
import torch

from envs.jobshop.env import ISBJSSPEnv
from envs.jobshop.instance import random_instance
from rlsys.config import from_dict
from rlsys.jobshop.policies import PRETRAINED_NONDELAY, GNNDispatcher, make_policy
from rlsys.jobshop.policy import JobShopGNNPolicy
from rlsys.jobshop.teacher import TARGET_KEY, TeacherConfig, TeacherLabels, imitation_loss
from rlsys.jobshop.train import JobshopTrainConfig, load_initial_weights

# the non-delay policy: the teacher acts in the training env's (non-delay) decision model
TEACHER = str(PRETRAINED_NONDELAY)


def _episode_targets(env, seed: int) -> list[np.ndarray]:
    """Every observation's teacher target, the episode driven by the first legal job."""
    obs, _ = env.reset(seed=seed)
    targets, done = [obs[TARGET_KEY]], False
    while not done:
        obs, _, done, _, _ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
        targets.append(obs[TARGET_KEY])
    return targets


def _greedy_completion(sim, job: int, dispatcher) -> int:
    copy = sim.fork()
    copy.step(job)
    while not copy.done:
        copy.step(dispatcher(copy, copy.candidates))
    return copy.makespan


def test_labels_at_p0_are_the_candidates_with_the_shortest_greedy_completion():
    inst = random_instance(8, 4, seed=5)
    env = TeacherLabels(ISBJSSPEnv(inst), TeacherConfig(policy=TEACHER), seed=3)
    dispatcher = make_policy(TEACHER)
    obs, _ = env.reset(seed=0)
    labelled, done = 0, False
    while not done:
        sim, target = env.unwrapped.sim, obs[TARGET_KEY]
        candidates = sim.candidates
        assert target.shape == (inst.n_jobs,) and target.dtype == np.float32
        if len(candidates) > 1:
            spans = {j: _greedy_completion(sim, j, dispatcher) for j in candidates}
            best = min(spans.values())
            winners = sorted(j for j, s in spans.items() if s == best)
            assert np.flatnonzero(target).tolist() == winners
            assert target[winners] == pytest.approx(1.0 / len(winners))
            labelled += 1
        else:
            assert not target.any()
        obs, _, done, _, _ = env.step(int(np.flatnonzero(obs["action_mask"])[-1]))
    assert labelled >= 3
    assert not obs[TARGET_KEY].any()  # the terminal observation has no decision


def test_labels_under_shutdowns_are_reproducible_legal_and_a_fraction_labels_fewer():
    inst = random_instance(8, 4, seed=6)

    def targets(fraction: float, seed: int) -> list[np.ndarray]:
        cfg = TeacherConfig(policy=TEACHER, rollouts=2, label_fraction=fraction)
        return _episode_targets(TeacherLabels(ISBJSSPEnv(inst, 0.05), cfg, seed=seed), 4)

    full = targets(1.0, 7)
    assert all(np.array_equal(a, b) for a, b in zip(full, targets(1.0, 7), strict=True))
    labelled = [t for t in full if t.any()]
    assert len(labelled) >= 3
    for t in labelled:
        assert t.sum() == pytest.approx(1.0)
    half = sum(t.any() for t in targets(0.5, 7))
    assert 0 < half < len(labelled)


def test_imitation_loss_is_the_cross_entropy_over_labelled_rows():
    logits = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 5.0], [3.0, 1.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, True, True], [True, False, True]])
    obs = [
        {TARGET_KEY: np.array([0.5, 0.5], dtype=np.float32)},  # a 2-job instance, padded
        {TARGET_KEY: np.zeros(3, dtype=np.float32)},  # unlabelled
        {TARGET_KEY: np.array([0.0, 0.0, 1.0], dtype=np.float32)},
    ]
    loss = imitation_loss(logits, mask, obs)
    row0 = -0.5 * (
        np.log(np.exp(1) / (np.exp(1) + np.exp(2))) + np.log(np.exp(2) / (np.exp(1) + np.exp(2)))
    )
    row2 = -np.log(1 / (np.exp(3) + 1))
    assert float(loss) == pytest.approx((row0 + row2) / 2, rel=1e-6)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert not logits.grad[1].any()  # the unlabelled row gets no gradient
    assert imitation_loss(logits, mask, [obs[1]] * 3) is None


def test_the_auxiliary_loss_hook_exists_only_with_a_teacher():
    assert not hasattr(JobShopGNNPolicy(hidden=8, layers=1), "auxiliary_loss")
    policy = JobShopGNNPolicy(hidden=8, layers=1, imitation_coef=2.5)
    env = TeacherLabels(
        ISBJSSPEnv(random_instance(6, 4, seed=1)), TeacherConfig(policy=TEACHER), seed=0
    )
    obs, _ = env.reset(seed=0)
    actions = torch.tensor([int(np.flatnonzero(obs["action_mask"])[0])])
    policy.evaluate([obs], actions)
    logits, mask, _ = policy(policy.collate([obs]))
    expected = 2.5 * imitation_loss(logits, mask, [obs])
    assert float(policy.auxiliary_loss()) == pytest.approx(float(expected))


def test_init_weights_copy_the_shipped_policy_and_refuse_another_size():
    policy = JobShopGNNPolicy(hidden=32, layers=3)
    load_initial_weights(policy, "pretrained")
    shipped = make_policy("pretrained")
    assert isinstance(shipped, GNNDispatcher)
    for key, value in shipped.policy.state_dict().items():
        assert torch.equal(policy.state_dict()[key], value)
    with pytest.raises(ValueError, match="hidden 32, layers 3; the config's is hidden 64"):
        load_initial_weights(JobShopGNNPolicy(hidden=64, layers=3), "pretrained")
    with pytest.raises(ValueError, match="init_weights must be a learned policy"):
        load_initial_weights(policy, "MWKR")
    with pytest.raises(ValueError, match="teacher.policy must be a learned policy"):
        TeacherLabels(ISBJSSPEnv(random_instance(6, 4, seed=1)), TeacherConfig(policy="MWKR"), 0)
    # a teacher plans in the env's decision model, so it must be a policy of that model
    with pytest.raises(ValueError, match="teacher.policy .* reserve decision model.*non_delay"):
        TeacherLabels(ISBJSSPEnv(random_instance(6, 4, seed=1)), TeacherConfig("pretrained"), 0)


def test_a_ppo_update_with_the_teacher_moves_the_policy_towards_its_labels():
    # the real worker and learner: labels come through the env, the loss through PPO's
    # auxiliary-loss hook
    import functools

    from rlsys.jobshop.train import InstanceDistribution, make_env
    from rlsys.rl.ppo import PPOConfig, PPOLearner
    from rlsys.rl.rollout import RolloutWorker

    dist = InstanceDistribution(jobs=[8, 8], machines=[4, 4], shutdown_probs=[0.0, 0.05])
    teacher = TeacherConfig(policy=TEACHER, rollouts=2, coef=5.0)
    torch.manual_seed(0)
    policy = JobShopGNNPolicy(hidden=16, layers=2, imitation_coef=teacher.coef)
    worker = RolloutWorker(
        functools.partial(make_env, dist, teacher=teacher),
        lambda: JobShopGNNPolicy(hidden=16, layers=2),
        worker_index=0,
        root_seed=0,
        envs_per_worker=2,
    )
    batch = worker.sample(policy.state_dict(), 0, 0, episodes=6)
    labelled = [o for o in batch.obs if o[TARGET_KEY].any()]
    assert len(labelled) >= 10

    def cross_entropy() -> float:
        with torch.no_grad():
            logits, mask, _ = policy(policy.collate(labelled))
            return float(imitation_loss(logits, mask, labelled))

    before = cross_entropy()
    learner = PPOLearner(policy, PPOConfig(learning_rate=1e-2, update_epochs=30, minibatch_size=32))
    stats = learner.update(batch)
    assert stats["aux_loss"] > 0
    assert cross_entropy() < 0.9 * before


def test_a_run_with_a_teacher_starts_from_the_init_weights_and_logs_the_imitation_loss(
    ray_local, tmp_path
):
    from rlsys.jobshop.train import make_trainer

    cfg = from_dict(
        JobshopTrainConfig,
        {
            "instances": {"jobs": [6, 6], "machines": [4, 4], "shutdown_probs": [0.0]},
            "validation": {
                "sizes": [[6, 4]],
                "instances_per_size": 1,
                "shutdown_probs": [0.0],
                "seeds": 1,
            },  # fmt: skip
            "policy": {"hidden": 32, "layers": 3},
            "init_weights": TEACHER,
            "teacher": {"policy": TEACHER},
            "train": {
                "seed": 0,
                "total_updates": 1,
                "checkpoint_every": 1,
                "eval_every": 1,
                "rollout": {"num_workers": 1, "envs_per_worker": 2, "episodes_per_request": 4},
            },
        },
    )
    trainer = make_trainer(cfg, tmp_path, evaluate_fn=None, progress=False)
    start = make_policy(TEACHER).policy.state_dict()
    assert all(torch.equal(trainer.policy.state_dict()[k], v) for k, v in start.items())
    assert trainer.policy.imitation_coef == 1.0
    trainer.train()
    assert '"losses/aux_loss"' in (tmp_path / "metrics.jsonl").read_text()
