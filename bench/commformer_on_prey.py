"""How CommFormer policies end their predator-prey episodes: predators on the prey at the
last step, and the mean return per agent, on fixed evaluation episodes.

    python bench/commformer_on_prey.py rlsys/commformer/pretrained/commformer_pp10x10_5.pt \
        bench/results/commformer/<study>/runs/*/final.pt [--episodes 100] [--mode cooperative]

A run that ends many episodes with all but one predator on the prey and still earns a
high return has found the cooperative reward's equilibrium (the README's 10x10/5 gating
section): predators on the prey keep earning until the step limit, a capture stops that.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from rlsys.commformer.model import CommFormerPolicy
from rlsys.commformer.train import EnvConfig, make_team_env


def on_prey_at_the_end(policy: CommFormerPolicy, env_cfg: EnvConfig, episodes: int) -> tuple:
    """(Counter: predators on the prey at the last step -> episodes, mean return per agent)
    of deterministic play on episode seeds 10,000.."""
    env = make_team_env(env_cfg)
    ends: Counter = Counter()
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        total = 0.0
        while env.agents:
            agents = env.agents
            actions, _, _, _ = policy.act([np.stack([obs[a] for a in agents])], deterministic=True)
            obs, rewards, _, _, _ = env.step({a: int(actions[0][i]) for i, a in enumerate(agents)})
            total += float(np.mean(list(rewards.values())))
        ends[env._cells.count(env._prey)] += 1
        returns.append(total)
    return ends, float(np.mean(returns))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("checkpoints", nargs="+", help="CommFormer final.pt files")
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--max-steps", type=int, default=40)
    p.add_argument("--mode", default="cooperative", help="reward mode of the evaluation env")
    args = p.parse_args()
    torch.set_num_threads(1)
    for path in args.checkpoints:
        policy = CommFormerPolicy.load(path)
        env_cfg = EnvConfig(
            dim=args.dim, agents=policy.config.n_agents, vision=1, max_steps=args.max_steps,
            mode=args.mode,
        )  # fmt: skip
        ends, mean_return = on_prey_at_the_end(policy, env_cfg, args.episodes)
        name = Path(path).parent.name
        print(
            f"{name}: predators on the prey at the end {dict(sorted(ends.items()))}, "
            f"mean return per agent {mean_return:.3f}"
        )


if __name__ == "__main__":
    main()
