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
        f"{os.cpu_count()} CPUs at the start (other jobs running: compare with care).",
        "",
    ]
    lines += ["| SAC network (actor and each Q) | updates/s (batch 256) | ms / update |",
              "|---|---:|---:|"]  # fmt: skip
    for hidden in ([64, 64], [128, 128], [256, 256], [1024, 1024]):
        ups = sac_updates_per_s(hidden, args.repeats, steps=10 if hidden[0] >= 1024 else 50)
        lines.append(f"| {hidden[0]}x{len(hidden)} | {ups:.0f} | {1000 / ups:.1f} |")
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
