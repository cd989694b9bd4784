"""`rlsys calibrate ...`."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `rlsys calibrate` (filled in by the calibration workload)."""
    return None
