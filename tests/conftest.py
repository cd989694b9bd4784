"""Shared fixtures: one Ray instance per pytest run (starting Ray costs ~10 s here)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """A local 2-CPU Ray cluster through rlsys's one init path, shared by all tests."""
    from rlsys.runtime import init_ray

    ray = init_ray(num_cpus=2)
    yield ray
    ray.shutdown()


def pytest_terminal_summary(terminalreporter):
    """How many generated inputs the property-based tests (tests/fuzzing.py) tried."""
    import sys

    fuzzing = sys.modules.get("fuzzing")
    if fuzzing is None or not fuzzing.TRIED:
        return
    tried = fuzzing.TRIED
    terminalreporter.section("generated inputs tried (fuzz)")
    for kind, n in sorted(tried.items()):
        terminalreporter.write_line(f"{kind:32s} {n:7d}")
    terminalreporter.write_line(f"{'total':32s} {sum(tried.values()):7d}")
