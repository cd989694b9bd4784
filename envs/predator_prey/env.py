"""Predator-prey and predator-capture-prey (IC3Net, MAGIC, HetNet) as PettingZoo ParallelEnvs.

Rules (IC3Net's ``ic3net_envs/predator_prey_env.py``, unchanged in MAGIC and in CommFormer's
copy): a ``dim`` x ``dim`` grid, predators and one stationary prey placed on distinct random
cells, actions ``Discrete(5)`` = 0 up, 1 right, 2 down, 3 left, 4 stay (a move into a wall
leaves the agent where it is). A predator that reaches the prey's cell stays there: its
later actions are ignored. Rewards per agent and step, IC3Net's constants:

- ``TIMESTEP_PENALTY = -0.05`` for every predator not on the prey;
- a predator on the prey gets, with k = number of predators on the prey after the move,
  ``mode="mixed"``: ``PREY_REWARD = 0``; ``mode="cooperative"``: ``POS_PREY_REWARD * k``
  = +0.05 k; ``mode="competitive"``: ``POS_PREY_REWARD / k`` = +0.05 / k.

IC3Net's README commands, MAGIC's ``train_pp_*.sh`` and CommFormer's ``train_pp.sh`` never
pass ``--mode``, so their experiments ran in its argparse default, ``mixed``. Our default
is ``cooperative`` (as the project asked); pass ``mode="mixed"`` for the papers' reward.

The episode *terminates* when every predator sits on the prey (success) and is
*truncated* after ``max_steps`` steps. IC3Net ends the episode early only in mixed mode
and otherwise runs to ``max_steps``; here every mode ends at success. The state is
absorbing then, so only the return changes: IC3Net's cooperative and competitive modes
would go on paying the on-prey reward until ``max_steps``.

All agents end together: on the last step every agent's termination (or truncation) is
True and ``env.agents`` becomes empty, and every agent's ``infos[agent]`` holds
``INFO_SUCCESS`` (1.0 or 0.0) and ``INFO_STEPS`` (steps taken, ``max_steps`` when the prey
was not captured). Earlier infos are empty dicts.

Observation of one agent, float32 of length ``obs_dim``, for K = (2 * vision + 1) ** 2::

    obs[: n_planes * K].reshape(n_planes, 2 * vision + 1, 2 * vision + 1)
        binary planes over the agent's window (row-major, the agent at the centre):
        plane 0 "outside": the cell lies outside the grid,
        planes 1.. one per agent type: another agent of that type is on the cell
            (the agent itself is not counted; on its own cell it flags a stacked agent),
        last plane "prey": the prey is on the cell;
    obs[n_planes * K]      own row / (dim - 1), in [0, 1]
    obs[n_planes * K + 1]  own col / (dim - 1), in [0, 1]
    (capture env only) obs[n_planes * K + 2] = 1.0 for a capture agent, 0.0 for perception

- predator-prey: planes ("outside", "predator", "prey"), ``obs_dim = 3 K + 2``
  (29 at vision 1, 5 at vision 0);
- predator-capture-prey: planes ("outside", "perception", "capture", "prey"),
  ``obs_dim = 4 K + 3`` (39 at vision 1).

``env.obs_planes`` names the planes and ``env.obs_dim`` gives the length. IC3Net instead
one-hot encodes every window cell over dim^2 cell ids + 4 classes (its position signal);
we replace the cell ids by the two normalised coordinates, and use binary "another agent"
planes where IC3Net counts every predator on the cell, itself included.

Predator-capture-prey (HetNet, Seraj et al. 2022, in MAGIC's lab and CommFormer's
``predator_capture_env.py``): ``n_perception`` perception agents see their window but
cannot capture; ``n_capture`` capture agents are blind (all window planes zero, only their
own position and the type flag) and the episode succeeds when all capture agents sit on
the prey. A capture agent follows the predator rules above (stays on the prey, rewards by
mode with k = capture agents on the prey); a perception agent is never held by the prey
and gets ``TIMESTEP_PENALTY`` every step, so its only incentive is a fast capture. HetNet
differs in three ways we do not copy: a sixth "capture" action the capture agent must take
on the prey, success only when every agent (perception too) is on the prey, and perception
agents also rewarded and held on the prey.

Speed: positions are padded flat indices (see ``grid.Grid``). Moves, the prey check and the
rewards run on Python lists (for a handful of agents a list lookup is far cheaper than a
numpy call); the observation is one lookup in a per-episode table of the static part of
every cell's observation (outside plane, prey plane, coordinates, type flag) plus a
bincount of agent positions gathered through per-cell window indices, seven small numpy
calls in all.
Observations are rows of one new [N, obs_dim] array per step, so earlier observations
are never changed by later steps.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.predator_prey.grid import N_ACTIONS, Grid
from envs.predator_prey.render import render_frame

TIMESTEP_PENALTY = -0.05
"""Reward of an agent not on the prey, per step (IC3Net ``TIMESTEP_PENALTY``)."""
PREY_REWARD = 0.0
"""Reward of a predator on the prey in mixed mode (IC3Net ``PREY_REWARD``)."""
POS_PREY_REWARD = 0.05
"""Cooperative: k * this; competitive: this / k, for k predators on the prey (IC3Net)."""
MODES = ("cooperative", "competitive", "mixed")
RENDER_MODES = ("rgb_array",)

INFO_SUCCESS = "success"
"""Final-step info key: 1.0 when every (capture) predator sits on the prey, else 0.0."""
INFO_STEPS = "steps"
"""Final-step info key: steps taken in the episode (``max_steps`` when not captured)."""


def _check_int(name: str, value: Any, low: int) -> None:
    """Raise ValueError unless ``value`` is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _validate(
    dim: int,
    counts: list[tuple[str, Any, int]],
    vision: int,
    max_steps: int,
    mode: str,
    render_mode: str | None,
) -> None:
    """Check the constructor arguments; each failure is one ValueError naming the value."""
    _check_int("dim", dim, 1)
    for name, value, low in counts:
        _check_int(name, value, low)
    _check_int("vision", vision, 0)
    n_agents = sum(value for _, value, _ in counts)
    if n_agents + 1 > dim * dim:
        names = " + ".join(f"{name}={value}" for name, value, _ in counts)
        raise ValueError(
            f"{names} agents + 1 prey need {n_agents + 1} cells, a {dim}x{dim} grid has {dim * dim}"
        )
    _check_int("max_steps", max_steps, 1)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")


def _on_prey_rewards(mode: str, n: int) -> list[float]:
    """Reward of a predator on the prey when k predators are on it, indexed by k = 0..n."""
    if mode == "cooperative":
        return [POS_PREY_REWARD * k for k in range(n + 1)]
    if mode == "competitive":
        return [POS_PREY_REWARD / k if k else 0.0 for k in range(n + 1)]
    return [PREY_REWARD] * (n + 1)


class _PursuitEnv(ParallelEnv):
    """Shared engine: perception agents (see, never held by the prey) come first, then
    capture agents (held by the prey, counted for success, seeing or blind)."""

    metadata = {
        "name": "predator_prey_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        *,
        dim: int,
        vision: int,
        max_steps: int,
        mode: str,
        render_mode: str | None,
        perception_names: list[str],
        capture_names: list[str],
        capture_sees: bool,
        type_names: tuple[str, ...],
    ) -> None:
        self.dim = dim
        self.vision = vision
        self.max_steps = max_steps
        self.mode = mode
        self.render_mode = render_mode
        self.possible_agents = perception_names + capture_names
        self.agents: list[str] = []
        n_perception, n_capture = len(perception_names), len(capture_names)
        n = n_perception + n_capture
        self._n, self._n_perception, self._n_capture = n, n_perception, n_capture

        grid = self._grid = Grid(dim, vision)
        k_win, n_pad = grid.n_window, grid.n_padded
        n_types = len(type_names)
        self.obs_planes = ("outside", *type_names, "prey")
        n_planes = len(self.obs_planes)
        self.obs_dim = n_planes * k_win + 2 + (n_types > 1)

        # Agent types: 0 = perception, 1 = capture in the capture env; all 0 in predator-prey.
        agent_type = np.zeros(n, dtype=np.intp)
        if n_types > 1:
            agent_type[n_perception:] = 1
        type_sees = [True] * n_types if capture_sees else [True] * (n_types - 1) + [False]
        self._agent_sees = np.array([type_sees[t] for t in agent_type])
        self._agent_captures = np.arange(n) >= n_perception
        self._n_seeing = int(self._agent_sees.sum())  # the seeing agents come first
        self._typed = n_types > 1
        self._type_base = agent_type * n_pad  # row block of each agent in the tables
        self._count_len = n_types * n_pad
        type_offsets = (
            np.arange(n_types, dtype=np.intp)[:, None] * n_pad + grid.window_offsets[None, :]
        ).ravel()
        # [n_pad, n_types * K] count indices of every cell's window, one block per type;
        # rows of cells near the padding's outer edge would overflow and are never used.
        self._window_rows = np.clip(
            np.arange(n_pad, dtype=np.intp)[:, None] + type_offsets, 0, self._count_len - 1
        )
        self_col = agent_type[: self._n_seeing] * k_win + grid.center
        self._self_mask = np.zeros((self._n_seeing, n_types * k_win), dtype=np.intp)
        self._self_mask[np.arange(self._n_seeing), self_col] = 1
        self._agent_cols = slice(k_win, (1 + n_types) * k_win)

        # Static part of every (type, cell) observation; the prey plane is set per episode.
        table = np.zeros((n_types * n_pad, self.obs_dim), dtype=np.float32)
        inner = grid.padded_of_cell
        rows, cols = np.divmod(np.arange(dim * dim), dim)
        denominator = max(dim - 1, 1)
        pos = n_planes * k_win
        for t in range(n_types):
            block = inner + t * n_pad
            if type_sees[t]:
                table[block, :k_win] = grid.outside[inner[:, None] + grid.window_offsets]
            table[block, pos] = rows / denominator
            table[block, pos + 1] = cols / denominator
            if n_types > 1:
                table[block, pos + 2] = float(t == 1)
        self._table = table
        seeing_types = np.flatnonzero(type_sees)
        # Flat table entries of the prey plane that see a prey at padded index 0 (add
        # prey * obs_dim): cell prey - offset sees it at window index k, per seeing type.
        prey_rows = (seeing_types[:, None] * n_pad - grid.window_offsets).ravel()
        prey_cols = np.tile(np.arange(k_win) + (n_planes - 1) * k_win, len(seeing_types))
        self._prey_flat = prey_rows * self.obs_dim + prey_cols

        # Moves run on Python lists: for five agents, list lookups beat numpy's per-call
        # overhead. Capture agents use a copy of the move table whose prey row stays put.
        self._free_moves = grid.next_cell.tolist()
        self._held_moves = grid.next_cell.tolist()
        self._agent_moves = [
            self._held_moves if captures else self._free_moves for captures in self._agent_captures
        ]
        self._penalty_head = [TIMESTEP_PENALTY] * n_perception
        self._on_prey_reward = _on_prey_rewards(mode, n_capture)

        self.observation_spaces = {
            a: spaces.Box(0.0, 1.0, shape=(self.obs_dim,), dtype=np.float32)
            for a in self.possible_agents
        }
        self.action_spaces = {a: spaces.Discrete(N_ACTIONS) for a in self.possible_agents}
        self._padded_of_cell = grid.padded_of_cell.tolist()
        self._rng = np.random.default_rng()
        self._cells: list[int] | None = None
        self._prey: int | None = None
        self._t = 0

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> spaces.Box:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Discrete:
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Place the agents and the prey on distinct uniform random cells.

        ``seed`` restarts the environment's generator; without it the generator goes on,
        so a seeded reset followed by unseeded ones replays the same episodes.
        """
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        picks = self._sample_cells(self._n + 1)
        self._set_prey(picks[-1])
        self._cells = cells = picks[:-1]
        self._t = 0
        self.agents = agents = self.possible_agents[:]
        return dict(zip(agents, self._observe(cells), strict=True)), {a: {} for a in agents}

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Move every live agent by its action, then reward, observe, and end if done."""
        agents = self.agents
        if not agents:
            raise RuntimeError("step() on an ended episode (or before reset()): call reset()")
        try:
            acts = [actions[a] for a in agents]
        except KeyError as missing:
            raise ValueError(f"no action for live agent {missing.args[0]!r}") from None
        try:
            if min(acts) < 0:  # a list index would wrap around
                raise IndexError
            moving = zip(self._agent_moves, self._cells, acts, strict=True)
            cells = [moves[c][a] for moves, c, a in moving]
        except (IndexError, TypeError, ValueError):
            raise ValueError(
                f"actions must be integers in 0..{N_ACTIONS - 1}, one per live agent, "
                f"got {actions!r}"
            ) from None
        self._cells = cells
        self._t = t = self._t + 1

        prey, n_perception = self._prey, self._n_perception
        k = cells.count(prey) if not n_perception else cells[n_perception:].count(prey)
        on_reward, penalty = self._on_prey_reward[k], TIMESTEP_PENALTY
        reward_list = self._penalty_head + [
            on_reward if c == prey else penalty for c in cells[n_perception:]
        ]
        rewards = dict(zip(agents, reward_list, strict=True))
        observations = dict(zip(agents, self._observe(cells), strict=True))

        if k == self._n_capture:
            success, terminated = 1.0, True
        elif t >= self.max_steps:
            success, terminated = 0.0, False
        else:
            not_done = dict.fromkeys(agents, False)
            return observations, rewards, not_done, not_done.copy(), {a: {} for a in agents}
        self.agents = []
        infos = {a: {INFO_SUCCESS: success, INFO_STEPS: t} for a in agents}
        terminations = dict.fromkeys(agents, terminated)
        truncations = dict.fromkeys(agents, not terminated)
        return observations, rewards, terminations, truncations, infos

    def render(self) -> np.ndarray | None:
        """An HxWx3 uint8 image of the grid (``render_mode="rgb_array"``), else None."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() without a render_mode; pass render_mode='rgb_array'")
            return None
        if self._cells is None:
            raise RuntimeError("render() before reset()")
        rows, cols = self._grid.rowcol(np.array(self._cells))
        prey_row, prey_col = self._grid.rowcol(self._prey)
        return render_frame(
            self.dim,
            self.vision,
            rows,
            cols,
            int(prey_row),
            int(prey_col),
            sees=self._agent_sees,
            captures=self._agent_captures,
        )

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ state access
    @property
    def agent_positions(self) -> np.ndarray:
        """[N, 2] (row, col) of every agent, in ``possible_agents`` order."""
        rows, cols = self._grid.rowcol(np.array(self._cells))
        return np.stack([rows, cols], axis=1)

    @property
    def prey_position(self) -> tuple[int, int]:
        """(row, col) of the prey."""
        row, col = self._grid.rowcol(self._prey)
        return int(row), int(col)

    def set_positions(self, agents: np.ndarray, prey: tuple[int, int]) -> dict[str, np.ndarray]:
        """Place agents ([N, 2] rows and cols) and the prey by hand; returns observations.

        For tests and scripted start states: the episode clock restarts at 0 and every
        agent is live again. Agents may share cells; one on the prey's cell (a capture
        agent) is held there from the start.
        """
        agents = np.asarray(agents, dtype=np.intp).reshape(self._n, 2)
        cells = np.concatenate([agents, np.asarray(prey, dtype=np.intp).reshape(1, 2)])
        if cells.min() < 0 or cells.max() >= self.dim:
            raise ValueError(f"positions must lie in 0..{self.dim - 1}, got {cells.tolist()}")
        padded = self._grid.pad(cells[:, 0], cells[:, 1]).tolist()
        self._set_prey(padded[-1])
        self._cells = padded[:-1]
        self._t = 0
        self.agents = self.possible_agents[:]
        return dict(zip(self.agents, self._observe(self._cells), strict=True))

    # ------------------------------------------------------------------ internals
    def _sample_cells(self, n: int) -> list[int]:
        """``n`` distinct uniform random cells (padded indices), distributed as
        ``rng.choice(dim * dim, n, replace=False)``: iid uniform draws, redrawn until
        distinct (exact; while n^2 <= dim^2 fewer than ~40 % of draws are redrawn).
        ``floor(u * dim^2)`` of a uniform double ``u`` is 5x cheaper than
        ``rng.integers`` for a handful of numbers and uniform to 1e-13."""
        n_cells = self.dim * self.dim
        if n * n <= n_cells:
            while True:
                picks = [int(u * n_cells) for u in self._rng.random(n).tolist()]
                if len(set(picks)) == n:
                    break
        else:
            picks = self._rng.permutation(n_cells)[:n].tolist()
        padded = self._padded_of_cell
        return [padded[p] for p in picks]

    def _set_prey(self, prey: int) -> None:
        """Move the prey: the held row of the capture agents' moves and the prey plane."""
        if self._prey is not None:
            self._held_moves[self._prey] = self._free_moves[self._prey]
            self._table.put(self._prey_flat + self._prey * self.obs_dim, 0.0)
        self._held_moves[prey] = [prey] * N_ACTIONS
        self._table.put(self._prey_flat + prey * self.obs_dim, 1.0)
        self._prey = prey

    def _observe(self, cells: list[int]) -> np.ndarray:
        """[N, obs_dim] observations of agents at padded ``cells``, a new array."""
        cells_arr = np.array(cells)
        rows = cells_arr + self._type_base if self._typed else cells_arr
        obs = self._table.take(rows, axis=0)
        n_seeing = self._n_seeing
        if n_seeing:
            counts = np.bincount(rows, minlength=self._count_len)
            near = counts.take(self._window_rows.take(cells_arr[:n_seeing], axis=0))
            obs[:n_seeing, self._agent_cols] = near > self._self_mask
        return obs


class PredatorPreyEnv(_PursuitEnv):
    """IC3Net/MAGIC predator-prey: ``n_agents`` seeing predators, one stationary prey.

    See the module docstring for the rules, the rewards and the observation layout
    (planes "outside", "predator", "prey"; ``obs_dim = 3 * (2 * vision + 1) ** 2 + 2``).
    """

    def __init__(
        self,
        dim: int = 10,
        n_agents: int = 5,
        vision: int = 1,
        max_steps: int = 20,
        mode: str = "cooperative",
        render_mode: str | None = None,
    ) -> None:
        _validate(dim, [("n_agents", n_agents, 1)], vision, max_steps, mode, render_mode)
        super().__init__(
            dim=dim,
            vision=vision,
            max_steps=max_steps,
            mode=mode,
            render_mode=render_mode,
            perception_names=[],
            capture_names=[f"predator_{i}" for i in range(n_agents)],
            capture_sees=True,
            type_names=("predator",),
        )


class PredatorCaptureEnv(_PursuitEnv):
    """Predator-capture-prey: seeing perception agents guide blind capture agents.

    Agents ``perception_0..`` then ``capture_0..``; success when every capture agent sits
    on the prey. Planes "outside", "perception", "capture", "prey" plus a type flag:
    ``obs_dim = 4 * (2 * vision + 1) ** 2 + 3``. See the module docstring.
    """

    metadata = {**_PursuitEnv.metadata, "name": "predator_capture_prey_v0"}

    def __init__(
        self,
        dim: int = 10,
        n_capture: int = 2,
        n_perception: int = 3,
        vision: int = 1,
        max_steps: int = 20,
        mode: str = "cooperative",
        render_mode: str | None = None,
    ) -> None:
        _validate(
            dim,
            [("n_capture", n_capture, 1), ("n_perception", n_perception, 0)],
            vision,
            max_steps,
            mode,
            render_mode,
        )
        super().__init__(
            dim=dim,
            vision=vision,
            max_steps=max_steps,
            mode=mode,
            render_mode=render_mode,
            perception_names=[f"perception_{i}" for i in range(n_perception)],
            capture_names=[f"capture_{i}" for i in range(n_capture)],
            capture_sees=False,
            type_names=("perception", "capture"),
        )


def parallel_env(
    dim: int = 10,
    n_agents: int = 5,
    vision: int = 1,
    max_steps: int = 20,
    mode: str = "cooperative",
    render_mode: str | None = None,
) -> PredatorPreyEnv:
    """Predator-prey ParallelEnv (rules and observation layout: module docstring).

    The papers' sizes (dim, n_agents) are (5, 3), (10, 5) and (20, 10); IC3Net and MAGIC
    train them with vision 0 / 1 / 1 and max_steps 20 / 40 / 80, and the spec evaluates
    on 20-step episodes.
    """
    return PredatorPreyEnv(dim, n_agents, vision, max_steps, mode, render_mode)


def capture_env(
    dim: int = 10,
    n_capture: int = 2,
    n_perception: int = 3,
    vision: int = 1,
    max_steps: int = 20,
    mode: str = "cooperative",
    render_mode: str | None = None,
) -> PredatorCaptureEnv:
    """Predator-capture-prey ParallelEnv; HetNet's sizes are 5x5 2P+1A (CommFormer's
    default), 10x10 3P+2A (our default) and 20x20 6P+4A."""
    return PredatorCaptureEnv(dim, n_capture, n_perception, vision, max_steps, mode, render_mode)
