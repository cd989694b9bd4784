"""PARL's costs on this machine: SAC updates/s by network size, env steps/s of the Ray
trainer against a plain single-process loop, and the time of one hypergradient (T1
only vs T1 + T2 with CG) against the actor's size. Medians of --repeats.

    python bench/parl.py --repeats 5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import torch

from rlsys.stats import median_seconds

OUT = Path(__file__).parent / "results" / "parl" / "bench.md"


def sac_updates_per_s(hidden: list[int], repeats: int, steps: int = 50) -> float:
    from rlsys.rl.rollout import GymEnvFn, RolloutWorker
    from rlsys.rl.sac import SACConfig, SACLearner, SquashedGaussianActor

    def actor_fn():
        return SquashedGaussianActor(3, 1, [-2.0], [2.0], hidden)

    actor = actor_fn()
    learner = SACLearner(actor, SACConfig(learning_starts=0, hidden_sizes=hidden))
    batch = RolloutWorker(GymEnvFn("Pendulum-v1"), actor_fn, 0, 0, 1).sample(
        actor.state_dict(), 0, 0, 2
    )
    learner.buffer.add(batch)

    def run():
        for _ in range(steps):
            learner.gradient_step()

    return steps / median_seconds(run, repeats)


def plain_sac_updates_per_s(hidden: list[int], repeats: int, steps: int = 50) -> float:
    """CleanRL-style SAC written out in one function (twin Q, targets, learned temperature,
    batch 256 from an in-memory buffer of 400 Pendulum-shaped transitions): the floor that
    ``SACLearner.gradient_step`` is measured against."""
    import copy

    from torch import nn

    def mlp(n_in: int, n_out: int) -> nn.Sequential:
        layers, width = [], n_in
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        return nn.Sequential(*layers, nn.Linear(width, n_out))

    gen = torch.Generator().manual_seed(0)
    obs, next_obs = torch.randn(400, 3, generator=gen), torch.randn(400, 3, generator=gen)
    actions = torch.rand(400, 1, generator=gen) * 4 - 2
    rewards, done = torch.randn(400, generator=gen), torch.zeros(400)
    actor, q1, q2 = mlp(3, 2), mlp(4, 1), mlp(4, 1)
    q1_t, q2_t = copy.deepcopy(q1), copy.deepcopy(q2)
    log_alpha = torch.zeros(1, requires_grad=True)
    q_opt = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=3e-4)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    a_opt = torch.optim.Adam([log_alpha], lr=3e-4)

    def sample(x):
        mean, log_std = actor(x).chunk(2, dim=-1)
        log_std = -5 + 3.5 * (torch.tanh(log_std) + 1)
        u = mean + log_std.exp() * torch.randn(mean.shape, generator=gen)
        y = torch.tanh(u)
        logp = torch.distributions.Normal(mean, log_std.exp()).log_prob(u)
        logp = (logp - torch.log(2 * (1 - y.pow(2)) + 1e-6)).sum(-1)
        return 2 * y, logp

    def q(net, x, a):
        return net(torch.cat([x, a], dim=-1)).squeeze(-1)

    def run():
        for _ in range(steps):
            idx = torch.randint(0, 400, (256,), generator=gen)
            o, a, r, o2, d = obs[idx], actions[idx], rewards[idx], next_obs[idx], done[idx]
            alpha = log_alpha.exp().item()
            with torch.no_grad():
                a2, logp2 = sample(o2)
                target = r + 0.99 * (1 - d) * (torch.min(q(q1_t, o2, a2), q(q2_t, o2, a2))
                                               - alpha * logp2)  # fmt: skip
            q_loss = ((q(q1, o, a) - target) ** 2).mean() + ((q(q2, o, a) - target) ** 2).mean()
            q_opt.zero_grad()
            q_loss.backward()
            q_opt.step()
            pi, logp = sample(o)
            pi_loss = (alpha * logp - torch.min(q(q1, o, pi), q(q2, o, pi))).mean()
            pi_opt.zero_grad()
            pi_loss.backward()
            pi_opt.step()
            a_loss = -(log_alpha.exp() * (logp.detach() - 1.0)).mean()
            a_opt.zero_grad()
            a_loss.backward()
            a_opt.step()
            with torch.no_grad():
                for net, tgt in ((q1, q1_t), (q2, q2_t)):
                    for w, tw in zip(net.parameters(), tgt.parameters(), strict=True):
                        tw.mul_(0.995).add_(w, alpha=0.005)

    return steps / median_seconds(run, repeats)


def plain_env_steps_per_s(repeats: int, steps: int = 2000) -> float:
    """CleanRL-style: one process, env.step + actor.act, no Ray."""
    from rlsys.rl.sac import SquashedGaussianActor

    actor = SquashedGaussianActor(3, 1, [-2.0], [2.0], (128, 128))
    env = gym.make("Pendulum-v1")
    gen = torch.Generator().manual_seed(0)

    def run():
        obs, _ = env.reset(seed=0)
        for _ in range(steps):
            action, *_ = actor.act([obs], generator=gen)
            obs, _, term, trunc, _ = env.step(action[0])
            if term or trunc:
                obs, _ = env.reset()

    return steps / median_seconds(run, repeats)


def ray_env_steps_per_s(workers: int, repeats: int) -> float:
    """The shared trainer's collection: workers x 2 episodes per request, no learning."""
    import ray

    from rlsys.rl.rollout import GymEnvFn, RolloutWorker
    from rlsys.rl.sac import SquashedGaussianActor

    def actor_fn():
        return SquashedGaussianActor(3, 1, [-2.0], [2.0], (128, 128))

    weights = ray.put(actor_fn().state_dict())
    actor = ray.remote(RolloutWorker).options(num_cpus=1)
    pool = [actor.remote(GymEnvFn("Pendulum-v1"), actor_fn, i, 0, 1) for i in range(workers)]
    ray.get([w.sample.remote(weights, 0, 0, 1) for w in pool])  # warm up
    counter = iter(range(1, 10**6))

    def run():
        k = next(counter)
        ray.get([w.sample.remote(weights, 0, k, 5) for w in pool])

    t = median_seconds(run, repeats)
    for w in pool:
        ray.kill(w)
    return workers * 5 * 200 / t


def hypergradient_times(hidden: list[int], repeats: int) -> tuple[float, float]:
    from rlsys.parl.hypergrad import t2_weights
    from rlsys.parl.reward_model import (
        RewardLearner,
        RewardModelConfig,
        bradley_terry_loss,
        segment_returns,
    )
    from rlsys.rl.sac import SquashedGaussianActor

    actor = SquashedGaussianActor(3, 1, [-2.0], [2.0], hidden)
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(1000, 3, generator=gen)
    with torch.no_grad():
        actions, _, _ = actor.sample(obs, gen)
    seg_obs = torch.randn(20, 2, 25, 3, generator=gen)
    with torch.no_grad():
        seg_act = actor.sample(seg_obs.reshape(-1, 3), gen)[0].reshape(20, 2, 25, 1)
    rl = RewardLearner(3, 1, RewardModelConfig())
    labels = torch.ones(20)

    def t1():
        loss = bradley_terry_loss(
            segment_returns(rl.model, seg_obs[:, 0], seg_act[:, 0]),
            segment_returns(rl.model, seg_obs[:, 1], seg_act[:, 1]),
            labels,
        )
        torch.autograd.grad(loss, list(rl.model.parameters()))

    def t2():
        t1()
        t2_weights(actor, obs, actions, [0, 200, 400, 600, 800], seg_obs, seg_act,
                   torch.randn(20), cg_iterations=10)  # fmt: skip

    return median_seconds(t1, repeats), median_seconds(t2, repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    from rlsys.runtime import init_ray

    init_ray(num_cpus=2)
    import os

    load = os.getloadavg()[0]
    lines = [
        "# PARL costs",
        "",
        f"Medians of {args.repeats} repeats, one torch thread; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs at the start"
        + (" (other jobs running: compare with care)." if load >= 1 else " (a quiet machine)."),
        "",
    ]
    lines += ["| SAC network (actor and each Q) | updates/s (batch 256) | ms / update "
              "| plain loop updates/s | vs plain loop |",
              "|---|---:|---:|---:|---:|"]  # fmt: skip
    for hidden in ([64, 64], [128, 128], [256, 256], [1024, 1024]):
        steps = 10 if hidden[0] >= 1024 else 50
        ups = sac_updates_per_s(hidden, args.repeats, steps=steps)
        plain_ups = plain_sac_updates_per_s(hidden, args.repeats, steps=steps)
        lines.append(
            f"| {hidden[0]}x{len(hidden)} | {ups:.0f} | {1000 / ups:.1f} | {plain_ups:.0f} "
            f"| {ups / plain_ups:.2f}x |"
        )
    plain = plain_env_steps_per_s(args.repeats)
    lines += ["", "| Pendulum collection | env steps/s | vs plain loop |", "|---|---:|---:|"]
    lines.append(f"| plain single-process loop | {plain:.0f} | 1.00x |")
    for w in (1, 2):
        sps = ray_env_steps_per_s(w, args.repeats)
        lines.append(f"| Ray rollout workers: {w} | {sps:.0f} | {sps / plain:.2f}x |")
    lines += ["", "| actor | T1 only (ms) | T1 + T2, CG 10 (ms) | ratio |", "|---|---:|---:|---:|"]
    for hidden in ([64, 64], [128, 128], [256, 256]):
        a, b = hypergradient_times(hidden, args.repeats)
        lines.append(
            f"| {hidden[0]}x{len(hidden)} | {1000 * a:.1f} | {1000 * b:.1f} | {b / a:.0f}x |"
        )
    lines += ["", "T2: 1,000 on-policy steps, 20 queries of 2 x 25 steps.", "",
              f"`python bench/parl.py --repeats {args.repeats}`", ""]  # fmt: skip
    text = "\n".join(lines)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
