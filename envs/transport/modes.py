"""The eight travel modes and the alternative-specific constants (ASCs) of the mode choice.

``MODES`` fixes the order used by every array in the simulator (the last axis of the
per-mode tables, the ``mode`` code of an agent's plan). An ASC file is a flat YAML map
``mode -> number`` (utility units, dollars); a missing mode means 0 and ``car`` is the
reference whose ASC is always 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from envs.yaml_io import parse_yaml

MODES: tuple[str, ...] = (
    "walk",
    "bike",
    "car",
    "ride_hail",
    "ride_hail_pooled",
    "walk_transit",
    "drive_transit",
    "ride_hail_transit",
)
"""The eight modes, in the order of every per-mode array."""

WALK, BIKE, CAR, RIDE_HAIL, POOLED, WALK_TRANSIT, DRIVE_TRANSIT, RIDE_HAIL_TRANSIT = range(8)
N_MODES = len(MODES)
REFERENCE_MODE = "car"


def asc_vector(asc: Mapping[str, float] | np.ndarray | None) -> np.ndarray:
    """ASCs as a float64 array in ``MODES`` order.

    ``asc`` is a mapping mode -> value (missing modes are 0), an array of length 8, or
    None (all zeros). Raises ValueError for an unknown mode, a non-finite value or a
    non-zero car ASC.
    """
    if asc is None:
        return np.zeros(N_MODES)
    if isinstance(asc, Mapping):
        vec = np.zeros(N_MODES)
        for name, value in asc.items():
            if name not in MODES:
                raise ValueError(f"unknown mode {name!r} in ASCs (valid: {', '.join(MODES)})")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"ASC of {name!r} must be a number, got {value!r}")
            try:
                vec[MODES.index(name)] = float(value)
            except OverflowError:  # an integer beyond float range
                raise ValueError(f"ASC of {name!r} is beyond float range") from None
    else:
        vec = np.asarray(asc, dtype=np.float64).reshape(-1).copy()
        if vec.shape != (N_MODES,):
            raise ValueError(
                f"ASC array must have {N_MODES} entries (one per mode), got {vec.size}"
            )
    if not np.all(np.isfinite(vec)):
        raise ValueError("ASCs must be finite numbers")
    if vec[CAR] != 0.0:
        raise ValueError(f"the car ASC is the reference and must be 0 (or absent), got {vec[CAR]}")
    return vec


def read_asc(path: str | Path) -> np.ndarray:
    """Read an ASC YAML file (flat map mode -> number) into a ``MODES``-ordered array."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"ASC file not found: {path}")
    data = parse_yaml(path.read_text(), f"ASC file {path}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"ASC file {path}: expected a map mode -> number")
    try:
        return asc_vector(data)
    except ValueError as exc:
        raise ValueError(f"ASC file {path}: {exc}") from None
