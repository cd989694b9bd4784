"""Fixtures of the calibration tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from envs.transport import MODES, TransportSim, load_scenario
from rlsys.calibration.objective import HIDDEN_ASC


@pytest.fixture(scope="session")
def hidden_targets(tmp_path_factory) -> Path:
    """Shares the `small` simulation gives for hidden ASCs (seed 1, mean of the last 5 of
    18 iterations): targets with a known answer."""
    out, _ = TransportSim(load_scenario("small")).run(HIDDEN_ASC, 18, seed=1)
    shares = {m: float(np.mean([o["mode_shares"][m] for o in out[-5:]])) for m in MODES}
    path = tmp_path_factory.mktemp("targets") / "hidden.yaml"
    path.write_text(yaml.safe_dump(shares))
    return path
