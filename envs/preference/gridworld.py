"""A small stochastic gridworld with a known model: PARL's tabular task.

The agent starts in the top-left cell of a ``size`` x ``size`` grid and moves up, down,
left or right; with probability ``slip`` it moves in a uniformly random direction
instead (moves into a wall stay put). The true reward of (s, a) is +1 in the goal cell
(bottom-right), -1 in the trap cells, and ``step_cost`` (<= 0) elsewhere; it is paid on
leaving s, whatever a is, so a policy that gets to the goal and stays there earns about
1 per step. There is no terminal state: episodes are cut at ``horizon`` steps, and the
policy's quality is its discounted return.

``GridWorld`` exposes the model as numpy arrays (what the exact lower level uses):
``P`` [S, A, S] transition probabilities, ``R`` [S, A] true rewards, ``mu0`` [S] start
distribution. ``GridWorldEnv`` is the same MDP as a gymnasium env (Discrete obs and
actions), passing ``gymnasium.utils.env_checker.check_env``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # up, down, left, right


class GridWorld:
    """The model: P [S, A, S], R [S, A], mu0 [S] (states row-major, s = row * size + col)."""

    def __init__(
        self,
        size: int = 4,
        slip: float = 0.1,
        traps: tuple[tuple[int, int], ...] | None = None,
        step_cost: float = -0.05,
    ) -> None:
        if size < 2:
            raise ValueError(f"gridworld size must be >= 2, got {size}")
        if not 0 <= slip <= 1:
            raise ValueError(f"gridworld slip must be in [0, 1], got {slip}")
        self.size = size
        self.n_states, self.n_actions = size * size, len(MOVES)
        if traps is None:  # a wall of traps across the middle with a gap on the left
            traps = tuple((size // 2, c) for c in range(1, size))
        self.goal = (size - 1, size - 1)
        if self.goal in traps or (0, 0) in traps:
            raise ValueError("gridworld traps must not cover the start or the goal")
        self.traps = traps
        S, A = self.n_states, self.n_actions
        self.P = np.zeros((S, A, S))
        for s in range(S):
            r, c = divmod(s, size)
            for a in range(A):
                for m, (dr, dc) in enumerate(MOVES):
                    p = (1 - slip) * (m == a) + slip / len(MOVES)
                    nr = min(max(r + dr, 0), size - 1)
                    nc = min(max(c + dc, 0), size - 1)
                    self.P[s, a, nr * size + nc] += p
        cell = np.full(S, step_cost)
        for tr, tc in traps:
            cell[tr * size + tc] = -1.0
        cell[self.goal[0] * size + self.goal[1]] = 1.0
        self.R = np.repeat(cell[:, None], A, axis=1)
        self.mu0 = np.zeros(S)
        self.mu0[0] = 1.0

    def step(self, state: int, action: int, rng: np.random.Generator) -> tuple[int, float]:
        """Sample (next state, true reward) of taking ``action`` in ``state``."""
        return int(rng.choice(self.n_states, p=self.P[state, action])), float(self.R[state, action])


class GridWorldEnv(gym.Env):
    """``GridWorld`` as a gymnasium env: Discrete(S) observations, Discrete(4) actions."""

    metadata = {"render_modes": []}

    def __init__(self, size: int = 4, slip: float = 0.1, horizon: int = 50) -> None:
        self.model = GridWorld(size, slip)
        self.horizon = horizon
        self.observation_space = gym.spaces.Discrete(self.model.n_states)
        self.action_space = gym.spaces.Discrete(self.model.n_actions)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.state = int(self.np_random.choice(self.model.n_states, p=self.model.mu0))
        self.t = 0
        return self.state, {}

    def step(self, action):
        self.state, reward = self.model.step(self.state, int(action), self.np_random)
        self.t += 1
        return self.state, reward, False, self.t >= self.horizon, {}
