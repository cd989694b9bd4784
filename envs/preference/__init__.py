"""Tasks for preference-based RL (PARL): a tabular gridworld with a known model.

from envs.preference import GridWorld, GridWorldEnv
"""

from envs.preference.gridworld import MOVES, GridWorld, GridWorldEnv

__all__ = ["MOVES", "GridWorld", "GridWorldEnv"]
