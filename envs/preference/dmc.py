"""DeepMind Control Suite tasks as gymnasium envs (PARL's walker task).

    import gymnasium as gym
    env = gym.make("envs.preference.dmc:rlsys/dmc-walker-walk-v0")

The ``dm_control`` suite env is wrapped as it is: its observation dict is flattened in
the suite's key order (walker: orientations 14, height 1, velocity 9 = 24 float32s), its
action spec becomes a ``Box``, its per-step reward (in [0, 1]) is the reward, and its
1,000-step time limit is gymnasium's ``max_episode_steps`` (``truncated``; the suite's
tasks never terminate). ``reset(seed=s)`` reseeds the task's own ``RandomState`` (the
initial pose is drawn from it), so a seed gives the same episode as
``suite.load(domain, task, task_kwargs={"random": s})`` would (tested).

Nothing is rendered: ``MUJOCO_GL`` defaults to ``disable`` here, so importing the suite
on a machine without a display neither warns nor opens an OpenGL context.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import register, registry

os.environ.setdefault("MUJOCO_GL", "disable")

EPISODE_STEPS = 1000
"""the suite's default time limit (20 s of control at 0.025 s per step)"""
TASKS = {"rlsys/dmc-walker-walk-v0": ("walker", "walk")}
"""gymnasium id -> (domain, task) in ``dm_control.suite``"""


class DMControlEnv(gym.Env):
    """One ``dm_control.suite`` task behind the gymnasium API (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, domain: str, task: str) -> None:
        from dm_control import suite  # imported here: it loads MuJoCo and the suite's XML

        self._env = suite.load(domain, task, task_kwargs={"random": 0})
        sizes = [int(np.prod(v.shape)) for v in self._env.observation_spec().values()]
        self.observation_space = spaces.Box(-np.inf, np.inf, (sum(sizes),), np.float32)
        spec = self._env.action_spec()
        self.action_space = spaces.Box(
            spec.minimum.astype(np.float32), spec.maximum.astype(np.float32), dtype=np.float32
        )

    @staticmethod
    def _flatten(observation: dict[str, np.ndarray]) -> np.ndarray:
        return np.concatenate([np.ravel(v) for v in observation.values()]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            # the task draws the initial pose from its own RandomState
            self._env.task.random.seed(seed)
        step = self._env.reset()
        return self._flatten(step.observation), {}

    def step(self, action: Any):
        action = np.clip(
            np.asarray(action, dtype=np.float64), self.action_space.low, self.action_space.high
        )
        step = self._env.step(action)
        # the suite ends an episode only by its time limit: that is a truncation
        # (gymnasium's TimeLimit sets it), never a terminal state
        return self._flatten(step.observation), float(step.reward), False, False, {}

    def close(self) -> None:
        self._env.close()


for _id, (_domain, _task) in TASKS.items():
    if _id not in registry:
        register(
            id=_id,
            entry_point="envs.preference.dmc:DMControlEnv",
            kwargs={"domain": _domain, "task": _task},
            max_episode_steps=EPISODE_STEPS,
        )
