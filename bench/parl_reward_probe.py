"""How well a PARL run's learned reward ranks segments of its own replay buffer.

    python bench/parl_reward_probe.py RUN_DIR/checkpoints/latest.pt [--epochs 20,1000]

Loads a Reacher (or any task's) checkpoint, refits a fresh reward ensemble (the default
reward settings, those of the README's runs) on the run's labelled queries for each
``--epochs`` value, and
reports: the fit's training accuracy; the accuracy of the refitted model on random pairs
of 25-step segments inside the buffer's episodes, against their true returns (what the
policy is trained on, not what was labelled); and how far the buffer's states are from
the labelled ones (per-dimension means). The README's Reacher diagnosis comes from
pebble seed 1 of the oracle-teacher study.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch

from rlsys.parl.reward_model import FIELDS, RewardLearner, RewardModelConfig, segment_returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--epochs", default="20,1000", help="comma list of fit epochs")
    parser.add_argument("--pairs", type=int, default=2000, help="held-out buffer pairs")
    parser.add_argument("--length", type=int, default=25, help="segment length")
    args = parser.parse_args()
    torch.set_num_threads(1)

    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    learner = state["learner"]
    buffer, data = learner["buffer"], learner["rewards"]["data"]
    n = min(int(buffer["added"]), int(buffer["capacity"]))
    obs, actions, rewards = buffer["obs"][:n], buffer["actions"][:n], buffer["env_rewards"][:n]
    episode_steps = int(state["env_steps"]) // int(state["episodes"])

    # segments that stay inside one (fixed-length) episode of the buffer
    generator = torch.Generator().manual_seed(0)
    episodes = n // episode_steps
    offsets = torch.arange(args.length)

    def starts() -> torch.Tensor:
        e = torch.randint(0, episodes, (args.pairs,), generator=generator)
        s = torch.randint(0, episode_steps - args.length + 1, (args.pairs,), generator=generator)
        return (e * episode_steps + s)[:, None] + offsets

    s0, s1 = starts(), starts()
    true_first = rewards[s0].sum(-1) > rewards[s1].sum(-1)

    for epochs in [int(x) for x in args.epochs.split(",")]:
        cfg = dataclasses.replace(RewardModelConfig(), epochs=epochs)
        refit = RewardLearner(obs.shape[1], actions.shape[1], cfg, seed=1)
        refit.data.add(*(data[k].numpy() for k in FIELDS))
        fit = refit.fit()
        with torch.no_grad():  # the ensemble mean's segment returns, as the policy sees them
            returns0 = segment_returns(refit.model, obs[s0], actions[s0]).mean(0)
            returns1 = segment_returns(refit.model, obs[s1], actions[s1]).mean(0)
        model_first = returns0 > returns1
        held_out = (model_first == true_first).float().mean().item()
        print(
            f"epochs {epochs}: training accuracy {fit['reward_accuracy']:.3f}, "
            f"buffer-pair accuracy {held_out:.3f} ({args.pairs} pairs)"
        )
    labelled = torch.cat([data["obs0"], data["obs1"]]).reshape(-1, obs.shape[1])
    np.set_printoptions(precision=2, suppress=True)
    print("mean state, labelled segments:", labelled.mean(0).numpy())
    print("mean state, last 5,000 buffer steps:", obs[-5000:].mean(0).numpy())


if __name__ == "__main__":
    main()
