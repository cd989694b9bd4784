"""Property: `rlsys transport simulate --asc FILE` on any generated ASC file simulates
with those ASCs or stops with a one-line error, writing nothing, and leaves the file."""

from __future__ import annotations

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
    values,
    write_input,
    yaml_texts,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.transport import MODES

pytestmark = pytest.mark.fuzz

HIDDEN = {"walk": 1.5, "bike": -2.0, "ride_hail": 0.8, "walk_transit": 0.5, "car": 0}


@st.composite
def asc_files(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "values", "text", "bytes"]))
    if kind == "mutated":
        return yaml.safe_dump(draw(mutated(HIDDEN)), allow_unicode=True)
    if kind == "values":
        return yaml.safe_dump(draw(values), allow_unicode=True)
    if kind == "text":
        return draw(yaml_texts)
    return draw(st.binary(max_size=120))


@fuzz_settings(150)
@given(content=asc_files())
def test_simulate_with_generated_asc_files(content):
    TRIED["ASC file"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / "asc.yaml", content)
        before = snapshot(folder)
        out = folder / "out.json"
        args = ["transport", "simulate", "--scenario", "small", "--agents", "20"]
        code, _, err = run_cli([*args, "--iterations", "1", "--asc", str(path), "--out", str(out)])
        assert_untouched(before, folder)
        if code != 0:
            assert_one_line_error(code, err)
            assert not out.exists()
            return
        result = json.loads(out.read_text())
        given_ascs = yaml.safe_load(path.read_text()) or {}
        assert set(result["asc"]) == set(MODES) and result["asc"]["car"] == 0
        for mode, value in given_ascs.items():
            assert math.isfinite(value) and result["asc"][mode] == float(value)
