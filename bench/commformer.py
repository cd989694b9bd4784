"""CommFormer costs, side by side (medians of repeats; one torch thread per process).

1. Action generation vs N: our decoder (keys/values cached per generated action, O(N)
   work per agent) against the reference's scheme (the whole decoder re-run over all
   agents for every agent, O(N^2) per agent), same weights, same batch.
2. One PPO update (10 epochs, 2 minibatches) vs N for the sparse learned graph (S = 0.4)
   against dense full attention (S = 1, graph 'full'): wall time and peak RSS, each in a
   fresh process.
3. Rollout throughput of predator-prey 10x10/5 with 1 and 2 Ray rollout actors.

    python bench/commformer.py [--quick]

Writes bench/results/commformer/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from rlsys.stats import median_seconds

OUT = Path(__file__).parent / "results" / "commformer"


def _policy(n: int, graph: str = "learned", sparsity: float = 0.4):
    from rlsys.commformer.model import CommFormerPolicy

    return CommFormerPolicy(n_agents=n, obs_dim=29, n_actions=5, graph=graph, sparsity=sparsity)


@torch.no_grad()
def reference_style_actions(policy, obs: list) -> torch.Tensor:
    """The reference's generation: for agent i, decode all N agents from the actions
    chosen so far and keep agent i's logits (O(N) decoder passes of O(N) queries)."""
    x = policy.collate(obs)
    b, n = x.shape[0], policy.config.n_agents
    graph = policy.execution_graph().expand(b, -1, -1)
    h, _ = policy._encode(x, graph, None)
    actions = torch.zeros(b, n, dtype=torch.long)
    for i in range(n):
        logits = policy._decode_all(h, actions, graph)[:, i]
        actions[:, i] = logits.argmax(-1)
    return actions


def bench_actions(sizes: list[int], batch: int, repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        policy = _policy(n)
        policy.eval()
        obs = [np.random.default_rng(i).random((n, 29)).astype(np.float32) for i in range(batch)]
        # same argmax actions from both (checks the cached decoder against the reference's)
        ours = torch.as_tensor(policy.act(obs, deterministic=True)[0])
        assert torch.equal(ours, reference_style_actions(policy, obs)), n
        t_ours = median_seconds(
            lambda p=policy, o=obs: p.act(o, deterministic=True), repeats, warm_up=True
        )
        t_ref = median_seconds(
            lambda p=policy, o=obs: reference_style_actions(p, o), repeats, warm_up=True
        )
        rows.append({"N": n, "ours_ms": 1e3 * t_ours, "reference_ms": 1e3 * t_ref})
    return rows


def _update_child(n: int, graph: str, sparsity: float, steps: int) -> None:
    """Child process: time one PPO update; print JSON with time and peak RSS."""
    import resource
    from types import SimpleNamespace

    from rlsys.commformer.learner import BilevelConfig, BilevelLearner
    from rlsys.rl.ppo import PPOConfig

    torch.set_num_threads(1)
    policy = _policy(n, graph, sparsity)
    rng = np.random.default_rng(0)
    obs = [rng.random((n, 29)).astype(np.float32) for _ in range(steps)]
    actions, logp, values, extras = policy.act(obs, generator=torch.Generator().manual_seed(0))
    adv = rng.standard_normal(actions.shape).astype(np.float32)
    batch = SimpleNamespace(
        obs=obs, actions=actions, logp=logp, values=values, rewards=adv,
        terminated=np.zeros(steps, dtype=bool), episode_lengths=np.array([steps]),
        bootstrap_values=np.zeros((1, n), dtype=np.float32), policy_extras=extras,
    )  # fmt: skip
    cfg = PPOConfig(update_epochs=10, minibatch_size=steps // 2, vloss_type="huber")
    learner = BilevelLearner(policy, cfg, BilevelConfig(warmup_updates=0), 100)
    # memory of the update itself: the peak above the process with policy and batch built
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    learner.update(batch)  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        learner.update(batch)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"s": statistics.median(times), "peak_mb": peak / 1024,
                      "growth_mb": (peak - before) / 1024}))  # fmt: skip


def bench_updates(sizes: list[int], steps: int) -> list[dict]:
    rows = []
    for n in sizes:
        row: dict = {"N": n}
        for name, graph, s in (("sparse", "learned", 0.4), ("dense", "full", 1.0)):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(n), graph, str(s), str(steps)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            res = json.loads(out.stdout.strip().splitlines()[-1])
            row[f"{name}_s"], row[f"{name}_mb"] = res["s"], res["peak_mb"]
            row[f"{name}_growth"] = res["growth_mb"]
        rows.append(row)
    return rows


def bench_rollouts(episodes: int) -> list[dict]:
    import ray

    from rlsys.commformer.train import EnvConfig, TeamEnvFn
    from rlsys.rl.rollout import RolloutWorker
    from rlsys.runtime import init_ray

    init_ray(num_cpus=2)
    policy = _policy(5)
    weights = ray.put(policy.state_dict())
    env_fn = TeamEnvFn(EnvConfig(dim=10, agents=5))

    def make(i):
        actor = ray.remote(num_cpus=1)(RolloutWorker)
        return actor.remote(env_fn, lambda: _policy(5), i, 0, 8)

    rows = []
    for n_actors in (1, 2):
        actors = [make(i) for i in range(n_actors)]
        ray.get([a.sample.remote(weights, 0, 0, 8) for a in actors])  # warm-up
        rates = []
        for r in range(3):
            t0 = time.perf_counter()
            batches = ray.get([a.sample.remote(weights, 0, r + 1, episodes) for a in actors])
            rates.append(sum(b.env_steps for b in batches) / (time.perf_counter() - t0))
        rows.append({"actors": n_actors, "steps_per_s": statistics.median(rates)})
        for a in actors:
            ray.kill(a)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, graph, s, steps = args.child
        _update_child(int(n), graph, float(s), int(steps))
        return
    torch.set_num_threads(1)
    sizes = [3, 5, 10] if args.quick else [3, 5, 10, 20]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=OUT
    ).stdout.strip()
    lines = [
        "# CommFormer bench",
        "",
        f"`python bench/commformer.py{' --quick' * args.quick}` at commit {commit or '?'}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start.",
        "",
    ]

    acts = bench_actions(sizes, batch=16, repeats=5 if args.quick else 20)
    lines += [
        "## Action generation, batch of 16 joint observations (median ms)",
        "",
        "| N | ours (cached) | reference scheme (decoder re-run per agent) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for r in acts:
        lines.append(f"| {r['N']} | {r['ours_ms']:.2f} | {r['reference_ms']:.2f} | "
                     f"{r['reference_ms'] / r['ours_ms']:.2f}x |")  # fmt: skip

    ups = bench_updates(sizes, steps=320)
    lines += [
        "",
        "## One PPO update: 320 samples, 10 epochs x 2 minibatches (median of 3, fresh process)",
        "",
        "Peak MB: the process's peak RSS (mostly torch itself); update MB: how far the "
        "updates raised it above the process with the policy and the batch built.",
        "",
        "| N | sparse S=0.4 s | dense S=1 s | sparse peak MB | dense peak MB "
        "| sparse update MB | dense update MB |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ups:
        lines.append(f"| {r['N']} | {r['sparse_s']:.3f} | {r['dense_s']:.3f} | "
                     f"{r['sparse_mb']:.0f} | {r['dense_mb']:.0f} | "
                     f"{r['sparse_growth']:.1f} | {r['dense_growth']:.1f} |")  # fmt: skip

    rolls = bench_rollouts(episodes=16 if args.quick else 48)
    base = rolls[0]["steps_per_s"]
    lines += [
        "",
        "## Rollouts, predator-prey 10x10/5, 8 envs per actor (median of 3 requests)",
        "",
        "| actors | env steps/s | speed-up |",
        "|---:|---:|---:|",
    ]
    for r in rolls:
        lines.append(f"| {r['actors']} | {r['steps_per_s']:.0f} | {r['steps_per_s'] / base:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench.md").write_text(text)


if __name__ == "__main__":
    main()
