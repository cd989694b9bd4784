"""Property: `rlsys jobshop validate SCHEDULE.json` on any generated file answers valid
(exit 0), INVALID with one line (exit 1) or a one-line error (exit 2), and agrees with
``violations``; the file is left as it was."""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import pytest
from fuzzing import (
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    mutated,
    run_cli,
    snapshot,
    texts,
    values,
    write_input,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.jobshop.instance import load_instance
from envs.jobshop.schedule import violations

pytestmark = pytest.mark.fuzz


@functools.cache
def valid_schedule() -> dict:
    """ft06 under MWKR with shutdowns: operations and downtime intervals."""
    from rlsys.jobshop.evaluate import run_policy

    sim = run_policy(load_instance("ft06"), "MWKR", 0.05, 3)
    schedule = sim.schedule()
    assert schedule["downtime"] and violations(schedule, load_instance("ft06")) == []
    return schedule


@st.composite
def schedule_files(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "values", "text", "bytes"]))
    if kind == "mutated":
        data = draw(mutated(valid_schedule(), rounds=2))
        return json.dumps(data, allow_nan=True)
    if kind == "values":
        return json.dumps(draw(values), allow_nan=True)
    if kind == "text":
        return draw(texts)
    return draw(st.binary(max_size=200))


@fuzz_settings(250)
@given(content=schedule_files(), name_instance=st.booleans())
def test_validate_command_on_generated_schedule_files(content, name_instance):
    TRIED["schedule JSON"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / "schedule.json", content)
        before = snapshot(folder)
        extra = ["--instance", "ft06"] if name_instance else []
        code, out, err = run_cli(["jobshop", "validate", str(path), *extra], limit_s=30)
        assert_untouched(before, folder)
        assert code in (0, 1, 2), code
        if code == 2:
            assert_one_line_error(code, err)
            return
        schedule = json.loads(path.read_text())
        found = violations(
            schedule, load_instance("ft06" if name_instance else schedule["instance"])
        )
        if code == 0:
            assert found == [] and "valid, makespan" in out
        else:
            lines = err.strip().splitlines()
            assert found and len(lines) == 1 and f"INVALID: {found[0]}" in lines[0]
