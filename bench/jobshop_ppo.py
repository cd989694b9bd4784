"""Job-shop GNN-PPO throughput: rollout collection with 1 and 2 Ray workers, and policy
inference speed, next to the MWKR rule on the same instances.

    python bench/jobshop_ppo.py [--policy pretrained|path.pt] [--repeats 3] [--out FILE.md]
                                [--instances ta01,ta41,ta71] [--no-collection]

1. Collection: environment steps (decisions) per second gathered by ``RolloutWorker``s on
   Ray with the training config's instance distribution, 1 vs 2 workers, same requests
   (median of repeats). Near-linear scaling until the cores run out is the goal.
2. Inference: greedy decisions per second and the time of a full schedule with the policy
   on ta01 (15x15), ta41 (30x20) and ta71 (100x20), one core, against MWKR on the same
   simulator, and the process's peak resident memory after them. Goal: a full ta71
   schedule in under 2 s.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from envs.jobshop.instance import load_instance  # noqa: E402
from rlsys.jobshop.evaluate import run_policy  # noqa: E402
from rlsys.jobshop.policies import make_policy  # noqa: E402
from rlsys.jobshop.policy import PolicyConfig  # noqa: E402
from rlsys.jobshop.train import InstanceDistribution  # noqa: E402
from rlsys.jobshop.train import make_env as make_train_env  # noqa: E402
from rlsys.jobshop.train import make_policy as make_gnn  # noqa: E402


def collection_rate(n_workers: int, episodes: int, repeats: int) -> float:
    """Median env steps/s of ``n_workers`` RolloutWorkers each collecting ``episodes``."""
    import ray

    from rlsys.rl.rollout import RolloutWorker

    dist = InstanceDistribution()
    policy = make_gnn(PolicyConfig())
    weights = ray.put(policy.state_dict())
    worker_cls = ray.remote(num_cpus=1)(RolloutWorker)
    workers = [
        worker_cls.remote(
            functools.partial(make_train_env, dist),
            functools.partial(make_gnn, PolicyConfig()),
            i,
            0,
            8,
        )
        for i in range(n_workers)
    ]
    ray.get([w.sample.remote(weights, 0, 0, 2) for w in workers])  # warm up
    rates = []
    for r in range(repeats):
        t0 = time.perf_counter()
        batches = ray.get([w.sample.remote(weights, 0, r + 1, episodes) for w in workers])
        rates.append(sum(b.env_steps for b in batches) / (time.perf_counter() - t0))
    for w in workers:
        ray.kill(w)
    return statistics.median(rates)


def schedule_time(instance: str, policy: str, repeats: int) -> tuple[float, int, int]:
    """Median seconds of one full schedule at p = 0.05 (seed 0), decisions, makespan."""
    inst = load_instance(instance)
    make_policy(policy)  # loads a policy file once, outside the timed runs
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sim = run_policy(inst, policy, 0.05, 0)  # a learned policy in its own decision model
        times.append(time.perf_counter() - t0)
    return statistics.median(times), sim.n_decisions, sim.makespan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="pretrained")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=48, help="per worker per repeat")
    parser.add_argument("--out")
    parser.add_argument("--instances", default="ta01,ta41,ta71")
    parser.add_argument("--no-collection", action="store_true", help="inference only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = ["# Job-shop GNN-PPO throughput", ""]

    if not args.no_collection:
        from rlsys.runtime import init_ray

        init_ray(num_cpus=2)
        one = collection_rate(1, args.episodes, args.repeats)
        two = collection_rate(2, args.episodes, args.repeats)
        lines += [
            "## Rollout collection (env steps = decisions per second, untrained policy)",
            "",
            "| workers | steps/s | speed-up |",
            "|---:|---:|---:|",
            f"| 1 | {one:,.0f} | 1.00x |",
            f"| 2 | {two:,.0f} | {two / one:.2f}x |",
            "",
        ]
    lines += [
        "## Inference: one full schedule at p = 0.05, one core",
        "",
        "| instance | policy | seconds | decisions | decisions/s | makespan |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in args.instances.split(","):
        for pol in (args.policy, "MWKR"):
            sec, dec, mk = schedule_time(name, pol, args.repeats)
            label = "GNN (" + pol + ")" if pol == args.policy else pol
            lines.append(f"| {name} | {label} | {sec:.3f} | {dec} | {dec / sec:,.0f} | {mk} |")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    lines += ["", f"Peak resident memory of this process: {peak:,.0f} MiB."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
