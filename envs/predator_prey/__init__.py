"""Predator-prey (IC3Net/MAGIC) and predator-capture-prey as PettingZoo ParallelEnvs.

    from envs.predator_prey import parallel_env, capture_env
    env = parallel_env(dim=10, n_agents=5, vision=1, max_steps=20)
    obs, infos = env.reset(seed=0)

Rules, reward constants and the observation layout are in ``envs.predator_prey.env``.
"""

from envs.predator_prey.env import (
    INFO_STEPS,
    INFO_SUCCESS,
    MODES,
    POS_PREY_REWARD,
    PREY_REWARD,
    TIMESTEP_PENALTY,
    PredatorCaptureEnv,
    PredatorPreyEnv,
    capture_env,
    parallel_env,
)
from envs.predator_prey.grid import ACTION_DELTAS, DOWN, LEFT, N_ACTIONS, RIGHT, STAY, UP

__all__ = [
    "ACTION_DELTAS",
    "DOWN",
    "INFO_STEPS",
    "INFO_SUCCESS",
    "LEFT",
    "MODES",
    "N_ACTIONS",
    "POS_PREY_REWARD",
    "PREY_REWARD",
    "RIGHT",
    "STAY",
    "TIMESTEP_PENALTY",
    "UP",
    "PredatorCaptureEnv",
    "PredatorPreyEnv",
    "capture_env",
    "parallel_env",
]
