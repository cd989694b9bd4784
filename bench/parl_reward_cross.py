"""How well each run's final reward model ranks segments of each run's replay buffer.

    python bench/parl_reward_cross.py RUN_DIR [RUN_DIR ...] [--length 50] [--pairs 3000]

For every (buffer of run A, reward model of run B): the correlation of B's reward with the
true reward over A's whole buffer, and the share of random pairs of ``--length``-step
segments (from A's last 10,000 steps, and from anywhere in A's buffer) that B's reward
orders as the true return does. Separates "the learned reward is wrong" from "the policy
went somewhere else": the README's HalfCheetah note compares parl's and pebble's seed 1
(``bench/results/parl/cheetah/runs/{parl,pebble,oracle}-seed1``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rlsys.parl.reward_model import RewardLearner
from rlsys.parl.train import PARLConfig
from rlsys.runtime import load_run_config


def ranking_accuracy(
    learned: np.ndarray, true: np.ndarray, lo: int, length: int, pairs: int, rng
) -> float:
    """Share of random segment pairs starting in [lo, len - length) ordered alike."""
    starts = rng.integers(lo, len(true) - length, size=(pairs, 2))
    window = np.arange(length)
    a, b = starts[:, :1] + window, starts[:, 1:] + window
    return float(
        np.mean((learned[a].sum(1) > learned[b].sum(1)) == (true[a].sum(1) > true[b].sum(1)))
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories (checkpoints/latest.pt)")
    p.add_argument("--length", type=int, default=50, help="segment length (50)")
    p.add_argument("--pairs", type=int, default=3000, help="random pairs per cell (3000)")
    args = p.parse_args()
    torch.set_num_threads(1)

    states = {
        run: torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
        for run in args.runs
    }
    models = {}
    for run, state in states.items():
        cfg = load_run_config(PARLConfig, run)
        rewards = state["learner"].get("rewards")
        if cfg.method == "oracle" or rewards is None:
            continue  # learns from the true reward: no model to judge
        buffer = state["learner"]["buffer"]
        learner = RewardLearner(buffer["obs"].shape[-1], buffer["actions"].shape[-1], cfg.reward)
        learner.load_state_dict(rewards)
        models[run] = learner
    rng = np.random.default_rng(0)
    print(
        "| buffer | reward model | correlation | pairs ordered right, last 10k steps | anywhere |"
    )
    print("|---|---|---:|---:|---:|")
    for run, state in states.items():
        buffer = state["learner"]["buffer"]
        n = min(int(buffer["added"]), int(buffer["capacity"]))
        true = buffer["env_rewards"][:n].numpy().ravel()
        for model_run, learner in models.items():
            with torch.no_grad():
                learned = learner.model.reward(buffer["obs"][:n], buffer["actions"][:n])
            learned = learned.numpy().ravel()
            recent = ranking_accuracy(
                learned, true, max(n - 10_000, 0), args.length, args.pairs, rng
            )
            anywhere = ranking_accuracy(learned, true, 0, args.length, args.pairs, rng)
            print(
                f"| {run.name} | {model_run.name} | {np.corrcoef(learned, true)[0, 1]:.3f} | "
                f"{recent:.3f} | {anywhere:.3f} |"
            )


if __name__ == "__main__":
    main()
