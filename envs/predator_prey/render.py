"""Pictures of predator-prey episodes: one RGB frame per state, GIF or PNG strip per episode.

Colours: the prey is a red square; predators that see and capture (predator-prey) are
blue discs, perception agents green discs, blind capture agents orange discs; every
seeing agent's vision window is tinted light blue (darker where windows overlap). When
several agents share a cell, small dark dots along the cell's top edge count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

BACKGROUND = (255, 255, 255)
GRID_LINE = (200, 200, 200)
WINDOW_TINT = (120, 170, 230)
WINDOW_ALPHA = 0.22
PREY = (214, 39, 40)
PREDATOR = (31, 119, 180)
PERCEPTION = (44, 160, 44)
BLIND_CAPTURE = (255, 127, 14)
STACK_DOT = (40, 40, 40)


def cell_pixels(dim: int) -> int:
    """Side of one cell in pixels: frames stay near 400 px wide, cells 8..48 px."""
    return int(np.clip(400 // dim, 8, 48))


def render_frame(
    dim: int,
    vision: int,
    rows: np.ndarray,
    cols: np.ndarray,
    prey_row: int,
    prey_col: int,
    sees: np.ndarray,
    captures: np.ndarray,
    cell_px: int | None = None,
) -> np.ndarray:
    """An HxWx3 uint8 image of one state, H = W = dim * cell_px + 1.

    Args:
        dim, vision: grid side and window radius, in cells.
        rows, cols: [N] agent cells.
        prey_row, prey_col: the prey's cell.
        sees: [N] True for agents with a vision window.
        captures: [N] True for agents that capture (counted for success).
        cell_px: cell side in pixels; ``cell_pixels(dim)`` by default.
    """
    s = cell_px or cell_pixels(dim)
    size = dim * s + 1
    coverage = np.zeros((size, size), dtype=np.float32)
    for r, c, see in zip(rows, cols, sees, strict=True):
        if see:
            r0, r1 = max(r - vision, 0) * s, min(r + vision + 1, dim) * s
            c0, c1 = max(c - vision, 0) * s, min(c + vision + 1, dim) * s
            coverage[r0:r1, c0:c1] += 1.0
    keep = (1.0 - WINDOW_ALPHA) ** coverage
    img = np.empty((size, size, 3), dtype=np.float32)
    img[:] = BACKGROUND
    img = img * keep[..., None] + np.asarray(WINDOW_TINT, np.float32) * (1.0 - keep[..., None])
    img = img.astype(np.uint8)
    img[::s, :] = GRID_LINE
    img[:, ::s] = GRID_LINE

    inset = max(s // 8, 1)
    pr, pc = prey_row * s, prey_col * s
    img[pr + inset : pr + s - inset + 1, pc + inset : pc + s - inset + 1] = PREY

    yy, xx = np.mgrid[0:s, 0:s] + 0.5 - s / 2
    disc = yy**2 + xx**2 <= (0.32 * s) ** 2
    stacked: dict[tuple[int, int], int] = {}
    for r, c, see, cap in zip(rows, cols, sees, captures, strict=True):
        colour = PREDATOR if see and cap else PERCEPTION if see else BLIND_CAPTURE
        img[r * s : (r + 1) * s, c * s : (c + 1) * s][disc] = colour
        stacked[int(r), int(c)] = stacked.get((int(r), int(c)), 0) + 1
    dot = max(s // 10, 1)
    for (r, c), count in stacked.items():
        if count > 1:
            for i in range(min(count, (s - 2) // (2 * dot))):
                y, x = r * s + 1, c * s + 1 + 2 * dot * i
                img[y : y + dot, x : x + dot] = STACK_DOT
    return img


def save_episode(frames: Sequence[np.ndarray], path: str | Path, fps: float = 4.0) -> Path:
    """Write frames as an animated GIF, or as a PNG strip (rows of up to 10) for ``.png``.

    Args:
        frames: HxWx3 uint8 images of equal size, e.g. ``env.render()`` after each step.
        path: output file, ``.gif`` or ``.png``; parent folders are created.
        fps: GIF frames per second.
    """
    from PIL import Image

    path = Path(path)
    if not frames:
        raise ValueError("save_episode needs at least one frame, got none")
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise ValueError(f"path must end in .gif or .png, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [np.asarray(f, dtype=np.uint8) for f in frames]
    if suffix == ".png":
        Image.fromarray(strip(arrays)).save(path)
    else:
        images = [Image.fromarray(a) for a in arrays]
        images[0].save(
            path,
            save_all=True,
            append_images=images[1:],
            duration=max(int(1000 / fps), 20),
            loop=0,
        )
    return path


def strip(frames: Sequence[np.ndarray], per_row: int = 10, gap: int = 4) -> np.ndarray:
    """Frames tiled left to right, ``per_row`` per row, on a white background."""
    h, w = frames[0].shape[:2]
    n_cols = min(len(frames), per_row)
    n_rows = -(-len(frames) // per_row)
    out = np.full((n_rows * (h + gap) - gap, n_cols * (w + gap) - gap, 3), 255, np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, per_row)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = frame
    return out
