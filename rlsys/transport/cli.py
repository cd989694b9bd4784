"""`rlsys transport ...` commands."""

from __future__ import annotations

import argparse


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `rlsys transport` (filled in by the transport workload)."""
    return None
