import math

import numpy as np
import pytest
import torch

from rlsys.rl.policy import MLPPolicy
from rlsys.rl.ppo import PPOConfig, PPOLearner, compute_gae, ppo_loss
from rlsys.rl.rollout import RolloutWorker

REWARDS = [1.0, 2.0, 3.0, 4.0]
VALUES = [0.5, 1.0, 1.5, 2.0]
GAMMA, LAM = 0.9, 0.8


def test_gae_terminal_in_the_middle_and_truncation_bootstrap():
    # Episode ends (terminated) after step 1; steps 2-3 are a new episode cut by a time
    # limit, bootstrapped with last_value = 3.0. By hand (gamma * lam = 0.72):
    # t=3: 4 + 0.9*3.0 - 2.0 = 4.7                 -> A3 = 4.7
    # t=2: 3 + 0.9*2.0 - 1.5 = 3.3 + 0.72*4.7      -> A2 = 6.684
    # t=1: 2 + 0 - 1.0 (terminal: no bootstrap)    -> A1 = 1.0
    # t=0: 1 + 0.9*1.0 - 0.5 = 1.4 + 0.72*1.0      -> A0 = 2.12
    adv, ret = compute_gae(REWARDS, VALUES, [0, 1, 0, 0], 3.0, GAMMA, LAM)
    np.testing.assert_allclose(adv, [2.12, 1.0, 6.684, 4.7])
    np.testing.assert_allclose(ret, [2.62, 2.0, 8.184, 6.7])


def test_gae_terminal_end_ignores_last_value():
    # t=3: 4 - 2 = 2; t=2: 3.3 + 0.72*2 = 4.74; t=1: 2 + 1.35 - 1 = 2.35 + 0.72*4.74
    adv, _ = compute_gae(REWARDS, VALUES, [0, 0, 0, 1], 99.0, GAMMA, LAM)
    a1 = 2.35 + 0.72 * 4.74
    a0 = 1 + 0.9 - 0.5 + 0.72 * a1
    np.testing.assert_allclose(adv, [a0, a1, 4.74, 2.0])


def test_gae_batched_and_torch_match_single_trajectories():
    rng = np.random.default_rng(0)
    r, v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    d = rng.random((5, 3)) < 0.3
    last = rng.normal(size=3)
    adv, ret = compute_gae(r, v, d, last, GAMMA, LAM)
    for n in range(3):
        a_n, r_n = compute_gae(r[:, n], v[:, n], d[:, n], last[n], GAMMA, LAM)
        np.testing.assert_allclose(adv[:, n], a_n)
        np.testing.assert_allclose(ret[:, n], r_n)
    t_adv, t_ret = compute_gae(
        torch.tensor(r), torch.tensor(v), torch.tensor(d), torch.tensor(last), GAMMA, LAM
    )
    assert isinstance(t_adv, torch.Tensor)
    np.testing.assert_allclose(t_adv.numpy(), adv)
    np.testing.assert_allclose(t_ret.numpy(), ret)


def _tiny_batch():
    # ratios 1.5 (adv +1: clipped to 1.2), 1.5 (adv -2: unclipped is the pessimistic
    # one), 0.9 (inside the clip range).
    return dict(
        new_logp=torch.log(torch.tensor([0.75, 0.75, 0.45])).requires_grad_(),
        old_logp=torch.log(torch.tensor([0.5, 0.5, 0.5])),
        advantages=torch.tensor([1.0, -2.0, 0.5]),
        new_values=torch.tensor([1.5, 0.1, 2.0]),
        old_values=torch.tensor([1.0, 0.0, 2.0]),
        returns=torch.tensor([2.0, 1.0, 0.0]),
        entropy=torch.tensor([0.6, 0.7, 0.8]),
    )


def test_ppo_loss_matches_hand_computation():
    cfg = PPOConfig(clip_coef=0.2, vf_coef=0.5, ent_coef=0.01, norm_adv=False, clip_vloss=True)
    loss, stats = ppo_loss(**_tiny_batch(), cfg=cfg)
    # policy: max(-A r, -A clip(r)) = [-1.2, 3.0, -0.45] -> mean 0.45
    assert stats["policy_loss"] == pytest.approx(0.45)
    # value: max((v - R)^2, (clipped v - R)^2) = [0.64 (1.2 vs 2), 0.81, 4] -> 0.5 * mean
    assert stats["value_loss"] == pytest.approx(0.5 * (0.64 + 0.81 + 4.0) / 3)
    assert stats["entropy"] == pytest.approx(0.7)
    kl = [0.5 - math.log(1.5), 0.5 - math.log(1.5), -0.1 - math.log(0.9)]
    assert stats["approx_kl"] == pytest.approx(sum(kl) / 3)
    assert stats["clipfrac"] == pytest.approx(2 / 3)
    assert loss.item() == pytest.approx(0.45 - 0.01 * 0.7 + 0.5 * 0.5 * 5.45 / 3, rel=1e-6)

    unclipped = PPOConfig(norm_adv=False, clip_vloss=False)
    _, stats = ppo_loss(**_tiny_batch(), cfg=unclipped)
    assert stats["value_loss"] == pytest.approx(0.5 * (0.25 + 0.81 + 4.0) / 3)
    huber = PPOConfig(norm_adv=False, clip_vloss=False, vloss_type="huber")
    _, stats = ppo_loss(**_tiny_batch(), cfg=huber)
    # errors 0.5, 0.9, 2.0 -> 0.5 e^2 below 1, |e| - 0.5 above
    assert stats["value_loss"] == pytest.approx((0.125 + 0.405 + 1.5) / 3)


def test_ppo_loss_clipped_sample_gets_no_policy_gradient():
    batch = _tiny_batch()
    loss, _ = ppo_loss(**batch, cfg=PPOConfig(norm_adv=False, vf_coef=0.0, ent_coef=0.0))
    loss.backward()
    # d/dlogp of -A r / 3 is -A r / 3: sample 0 is clipped (0), 1: 2*1.5/3, 2: -0.5*0.9/3
    np.testing.assert_allclose(batch["new_logp"].grad.numpy(), [0.0, 1.0, -0.15], atol=1e-6)


def test_factored_ppo_loss_clips_each_factor_on_its_own():
    """Log-probs [B, F]: at ratio 1 the gradient equals the joint ratio's; a factor whose
    ratio left the clip range loses its gradient without silencing the other factor."""
    cfg = PPOConfig(norm_adv=False, vf_coef=0.0, ent_coef=0.0, clip_coef=0.2)
    adv = torch.tensor([1.0, -2.0, 0.5])
    rest = {
        "new_values": torch.zeros(3), "old_values": torch.zeros(3), "returns": torch.zeros(3),
        "entropy": torch.zeros(3),
    }  # fmt: skip
    old = torch.tensor([[-1.0, -0.3], [-0.5, -0.7], [-2.0, -0.1]])
    factored = old.clone().requires_grad_(True)
    ppo_loss(factored, old, adv, **rest, cfg=cfg)[0].backward()
    joint = old.sum(-1).clone().requires_grad_(True)
    ppo_loss(joint, old.sum(-1), adv, **rest, cfg=cfg)[0].backward()
    np.testing.assert_allclose(factored.grad.numpy(), joint.grad[:, None].expand(3, 2).numpy())

    # sample 0: the second factor's ratio is e^1 (clipped for A > 0), the first is 1
    moved = old.clone()
    moved[0, 1] += 1.0
    factored = moved.clone().requires_grad_(True)
    loss, stats = ppo_loss(factored, old, adv, **rest, cfg=cfg)
    loss.backward()
    assert factored.grad[0, 1] == 0 and factored.grad[0, 0] == pytest.approx(-1.0 / 3)
    assert stats["clipfrac"] == pytest.approx(1 / 6)
    joint = moved.sum(-1).clone().requires_grad_(True)
    ppo_loss(joint, old.sum(-1), adv, **rest, cfg=cfg)[0].backward()
    assert joint.grad[0] == 0  # the joint ratio silences both


def test_advantage_normalisation_is_per_minibatch_affine_invariant():
    cfg = PPOConfig(norm_adv=True)
    a, _ = ppo_loss(**_tiny_batch(), cfg=cfg)
    shifted = _tiny_batch()
    shifted["advantages"] = shifted["advantages"] * 10 + 5
    b, _ = ppo_loss(**shifted, cfg=cfg)
    assert a.item() == pytest.approx(b.item(), rel=1e-5)
    c, _ = ppo_loss(**shifted, cfg=PPOConfig(norm_adv=False))
    assert c.item() != pytest.approx(a.item(), rel=1e-3)


class _ToyEnv:
    """obs = [t]; reward 1; 4 steps then terminated (not truncated)."""

    def reset(self, seed=None):
        self.t = 0
        return np.array([0.0, 0.0, 0.0, 0.0], dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, 0.0, 0.0, 0.0], dtype=np.float32)
        return obs, 1.0, self.t == 4, False, {"t": self.t}


def _small_batch():
    policy_fn = lambda: MLPPolicy(obs_dim=4, n_actions=2)  # noqa: E731
    torch.manual_seed(0)
    worker = RolloutWorker(lambda seed: _ToyEnv(), policy_fn, 0, 0, envs_per_worker=2)
    return worker.sample(policy_fn().state_dict(), 0, 0, episodes=4)


def test_learner_anneals_lr_and_changes_parameters():
    torch.manual_seed(0)
    policy = MLPPolicy(obs_dim=4, n_actions=2)
    before = [p.detach().clone() for p in policy.parameters()]
    learner = PPOLearner(policy, PPOConfig(learning_rate=1e-3, minibatch_size=4))
    stats = learner.update(_small_batch(), progress_fraction=0.75)
    assert stats["learning_rate"] == pytest.approx(2.5e-4)
    assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert stats["epochs"] == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, policy.parameters(), strict=True))
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "grad_norm"):
        assert math.isfinite(stats[key])


def test_learner_target_kl_stops_epochs_early():
    torch.manual_seed(0)
    policy = MLPPolicy(obs_dim=4, n_actions=2)
    cfg = PPOConfig(learning_rate=0.5, minibatch_size=4, update_epochs=10, target_kl=1e-6)
    stats = PPOLearner(policy, cfg).update(_small_batch())
    assert stats["epochs"] < 10


def test_parameter_groups_step_on_their_own_schedule_and_round_trip():
    from rlsys.rl.ppo import ParamGroup

    torch.manual_seed(0)
    policy = MLPPolicy(obs_dim=4, n_actions=2)
    actor, critic = list(policy.actor.parameters()), list(policy.critic.parameters())
    groups = [
        ParamGroup("actor", actor, 1e-3, steps_in=lambda update, epoch: epoch % 2 == 0),
        ParamGroup("critic", critic, 1e-2, max_grad_norm=10.0),
    ]
    cfg = PPOConfig(minibatch_size=1000, update_epochs=4, anneal_lr=True)
    learner = PPOLearner(policy, cfg, groups=groups)
    stats = learner.update(_small_batch(), progress_fraction=0.5)
    steps = {
        name: int(learner.optimizers[name].state[params[0]]["step"])
        for name, params in (("actor", actor), ("critic", critic))
    }
    assert steps == {"actor": 2, "critic": 4}  # one minibatch per epoch
    assert learner.optimizers["critic"].param_groups[0]["lr"] == pytest.approx(5e-3)
    assert "grad_norm/actor" in stats and "grad_norm/critic" in stats
    other = PPOLearner(policy, cfg, groups=groups)
    other.load_state_dict(learner.state_dict())
    assert other.updates == 1
    assert torch.equal(other.generator.get_state(), learner.generator.get_state())
    with pytest.raises(ValueError, match="partition"):
        PPOLearner(policy, cfg, groups=groups[:1])
