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
