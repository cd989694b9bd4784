"""Property: `rlsys transport simulate --scenario FILE` on any generated scenario YAML
(a shipped or hand-made city with values replaced, keys dropped or added; random text)
simulates or stops with a one-line error, writing nothing, and leaves the file."""

from __future__ import annotations

import functools
import json
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from fuzzing import (
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    mutated,
    run_cli,
    snapshot,
    write_input,
    yaml_texts,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.transport import MODES
from envs.transport.scenario import SCENARIO_DIR

pytestmark = pytest.mark.fuzz


def square_city() -> dict:
    """Four nodes on a 1 km square, two-way streets, zones at opposite corners, one line."""
    links = [
        {"from": u, "to": v, "length_km": 1.0, "free_flow_min": 2.0, "capacity_vph": 600}
        for a, b in [(0, 1), (1, 3), (3, 2), (2, 0)]
        for u, v in [(a, b), (b, a)]
    ]
    line = {"name": "a", "stops": [0, 1, 3], "headway_min": 10, "speed_kmh": 20, "fare": 2.0}
    return {
        "name": "square",
        "time_bins": {"count": 2},
        "network": {"nodes": [[0, 0], [1, 0], [0, 1], [1, 1]], "links": links},
        "zones": {"nodes": [0, 3]},
        "transit": {"lines": [{**line, "vehicle_capacity": 50, "park_and_ride": [1]}]},
        "population": {"agents": 200, "seed": 1},
    }


@functools.cache
def small_city() -> dict:
    data = yaml.safe_load((SCENARIO_DIR / "small.yaml").read_text())
    data["population"]["agents"] = 200  # keeps one simulated iteration cheap
    return data


@st.composite
def scenario_files(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["small", "small", "square", "square", "text", "bytes"]))
    if kind == "text":
        return draw(yaml_texts)
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    base = small_city() if kind == "small" else square_city()
    return yaml.safe_dump(draw(mutated(base, rounds=2)), allow_unicode=True)


@fuzz_settings(150)
@given(content=scenario_files())
def test_simulate_generated_scenario_files(content):
    TRIED["scenario YAML"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / "city.yaml", content)
        before = snapshot(folder)
        out = folder / "out.json"
        args = ["transport", "simulate", "--scenario", str(path), "--iterations", "1"]
        code, _, err = run_cli([*args, "--out", str(out)], limit_s=60)
        assert_untouched(before, folder)
        if code != 0:
            assert_one_line_error(code, err)
            assert not out.exists()
            return
        shares = json.loads(out.read_text())["per_iteration"][0]["mode_shares"]
        assert set(shares) == set(MODES) and all(math.isfinite(v) for v in shares.values())
        assert sum(shares.values()) == pytest.approx(100.0)
