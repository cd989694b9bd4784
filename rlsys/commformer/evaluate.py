"""Score a team policy on fixed evaluation episodes: success, steps, return, messages.

Episodes are seeded ``EVAL_SEED_BASE + i`` (never a training seed: training episodes
draw 32-bit seeds from the run's SeedSequence) and run in lockstep, one batched policy
call per step. The policy acts deterministically (execution graph, argmax actions).

- ``success_rate``: share of episodes that ended in success (predator-prey envs);
- ``steps``: mean episode length (steps to capture; ``max_steps`` when not captured);
- ``return``: mean over episodes of the team's mean per-agent return;
- ``messages_per_step``: messages received per env step, summed over agents (an
  in-edge of an agent whose gate is open; self-loops are not messages).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlsys.rl.rollout import TeamEnv

EVAL_SEED_BASE = 10_000_000


def run_episodes(
    policy: Any,
    make_env: Any,
    episodes: int,
    seed_base: int = EVAL_SEED_BASE,
    deterministic: bool = True,
    lockstep: int = 25,
    record: int = 0,
) -> dict[str, Any]:
    """Play ``episodes`` episodes; returns the metrics above plus per-episode arrays
    (``episode_success``, ``episode_steps``, ``episode_return``) and, when ``record`` >
    0, the rgb frames of the first ``record`` episodes (``frames``, a list per episode;
    ``make_env(render_mode)`` must then accept ``"rgb_array"``)."""
    success, steps, returns, messages, frames = [], [], [], [], []
    generator = torch.Generator().manual_seed(seed_base)
    was_training = policy.training
    policy.eval()
    for start in range(0, episodes, lockstep):
        seeds = list(range(seed_base + start, seed_base + min(start + lockstep, episodes)))
        envs = []
        for i, _ in enumerate(seeds):
            raw = make_env("rgb_array" if start + i < record else None)
            envs.append((raw, TeamEnv(raw)))
        obs = [team.reset(seed=s)[0] for (_, team), s in zip(envs, seeds, strict=True)]
        live = list(range(len(envs)))
        totals = [np.zeros(len(envs[0][1].agents)) for _ in envs]
        episode_frames: list[list[np.ndarray]] = [[] for _ in envs]
        infos: list[dict] = [{} for _ in envs]
        lengths = [0] * len(envs)
        for j in live:
            if start + j < record:
                episode_frames[j].append(envs[j][0].render())
        while live:
            actions, _, _, extras = policy.act(
                [obs[j] for j in live], deterministic=deterministic, generator=generator
            )
            if "graph" in extras:
                graph = torch.as_tensor(extras["graph"]).float()
                gate = torch.as_tensor(extras["gate"]).float() if "gate" in extras else None
                messages.extend(policy.messages_per_step(graph, gate).tolist())
            still = []
            for row, j in enumerate(live):
                raw, team = envs[j]
                next_obs, reward, terminated, truncated, info = team.step(actions[row])
                totals[j] += reward
                lengths[j] += 1
                if start + j < record:
                    episode_frames[j].append(raw.render())
                if terminated or truncated:
                    infos[j] = info
                else:
                    obs[j] = next_obs
                    still.append(j)
            live = still
        for j in range(len(envs)):
            success.append(float(infos[j].get("success", 0.0)))
            steps.append(float(infos[j].get("steps", lengths[j])))
            returns.append(float(totals[j].mean()))
            if start + j < record:
                frames.append(episode_frames[j])
    policy.train(was_training)
    return {
        "success_rate": float(np.mean(success)),
        "steps": float(np.mean(steps)),
        "return": float(np.mean(returns)),
        "messages_per_step": float(np.mean(messages)) if messages else 0.0,
        "episode_success": np.array(success),
        "episode_steps": np.array(steps),
        "episode_return": np.array(returns),
        "frames": frames,
    }


class Evaluator:
    """``evaluate_fn`` of the trainer: deterministic play on fixed evaluation episodes."""

    def __init__(self, env_cfg: Any, episodes: int) -> None:
        self.env_cfg, self.episodes = env_cfg, episodes

    def make_env(self, render_mode: str | None = None) -> Any:
        from rlsys.commformer.train import make_team_env

        return make_team_env(self.env_cfg, render_mode)

    def __call__(self, policy: Any, update: int) -> dict[str, float]:
        result = run_episodes(policy, self.make_env, self.episodes)
        return {k: result[k] for k in ("success_rate", "steps", "return", "messages_per_step")}
