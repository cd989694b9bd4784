"""Geometry of the predator-prey grid: padded cell indices, the move table, window offsets.

Positions are stored as flat indices into the grid padded by ``vision`` cells on every
side (side ``dim + 2 * vision``), so that an agent's (2v+1)^2 window is
``cell + window_offsets`` and never leaves the padded array. Everything here is built
once per environment; nothing is computed per step.
"""

from __future__ import annotations

import numpy as np

N_ACTIONS = 5
"""Actions: 0 up (row - 1), 1 right (col + 1), 2 down (row + 1), 3 left (col - 1), 4 stay."""
UP, RIGHT, DOWN, LEFT, STAY = range(N_ACTIONS)
ACTION_DELTAS = np.array([(-1, 0), (0, 1), (1, 0), (0, -1), (0, 0)], dtype=np.intp)
"""(row, col) change of each action, before clipping at the walls."""


class Grid:
    """Index tables of one ``dim`` x ``dim`` grid seen through a window of radius ``vision``.

    Attributes:
        side: side of the padded grid, ``dim + 2 * vision``.
        n_padded: ``side ** 2``, the number of padded flat indices.
        window: side of an agent's window, ``2 * vision + 1``.
        n_window: cells in a window, ``window ** 2``; offsets run row-major, top-left first.
        center: index of the agent's own cell in its window, ``n_window // 2``.
        padded_of_cell: [dim * dim] padded flat index of each cell ``row * dim + col``.
        window_offsets: [n_window] padded-index offsets of the window cells.
        next_cell: [n_padded, N_ACTIONS] padded index after each action (moves clip at the
            walls); rows of padding cells map to themselves and are never used.
        outside: [n_padded] True on padding cells (outside the grid).
    """

    def __init__(self, dim: int, vision: int) -> None:
        self.dim = dim
        self.vision = vision
        self.side = dim + 2 * vision
        self.n_padded = self.side * self.side
        self.window = 2 * vision + 1
        self.n_window = self.window * self.window
        self.center = self.n_window // 2

        rows, cols = np.divmod(np.arange(dim * dim, dtype=np.intp), dim)
        self.padded_of_cell = self.pad(rows, cols)
        d = np.arange(-vision, vision + 1, dtype=np.intp)
        self.window_offsets = (d[:, None] * self.side + d[None, :]).ravel()

        new_rows = np.clip(rows[:, None] + ACTION_DELTAS[:, 0], 0, dim - 1)
        new_cols = np.clip(cols[:, None] + ACTION_DELTAS[:, 1], 0, dim - 1)
        self.next_cell = np.repeat(np.arange(self.n_padded, dtype=np.intp)[:, None], 5, axis=1)
        self.next_cell[self.padded_of_cell] = self.pad(new_rows, new_cols)

        self.outside = np.ones(self.n_padded, dtype=bool)
        self.outside[self.padded_of_cell] = False

    def pad(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Padded flat indices of grid cells (rows, cols)."""
        return (np.asarray(rows) + self.vision) * self.side + np.asarray(cols) + self.vision

    def rowcol(self, padded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Grid (rows, cols) of padded flat indices."""
        rows, cols = np.divmod(np.asarray(padded), self.side)
        return rows - self.vision, cols - self.vision
