"""Property: `rlsys jobshop schedule --instance FILE` on any generated instance file ends
with a valid schedule or a one-line error, and changes no file it was not asked to write.

Without shutdowns: the reader is under test, and a valid instance with times near 2**31
takes that many simulated time units under shutdowns (slow, not wrong)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from fuzzing import (
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    run_cli,
    snapshot,
    texts,
    write_input,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.jobshop.instance import load_instance
from envs.jobshop.schedule import violations

pytestmark = pytest.mark.fuzz

TOKENS = [
    "-1",
    "x",
    "1.5",
    "1e3",
    "0",
    "\u0663",
    "",
    "nan",
    "#",
    "2**8",
    "9" * 30,
    str(2**31),
    str(2**31 - 1),
]


@st.composite
def instance_texts(draw: st.DrawFn) -> tuple[str, str]:
    """(format, text): a small valid instance in either format, then 0..3 corruptions."""
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    orders = [draw(st.permutations(range(m))) for _ in range(n)]
    times = [[draw(st.integers(0, 20)) for _ in range(m)] for _ in range(n)]
    fmt = draw(st.sampled_from(["standard", "taillard"]))
    if fmt == "standard":
        lines = [f"{n} {m}"] + [
            " ".join(f"{orders[j][k]} {times[j][k]}" for k in range(m)) for j in range(n)
        ]
    else:
        lines = [f"{n} {m}", "Times"] + [" ".join(map(str, row)) for row in times]
        lines += ["Machines"] + [" ".join(str(x + 1) for x in row) for row in orders]
    actions = ["token", "token", "token", "drop", "dup", "garbage", "header"]
    for action in draw(st.lists(st.sampled_from(actions), max_size=3)):
        i = draw(st.integers(0, len(lines) - 1))
        if action == "token":
            tokens = lines[i].split() or [""]
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(st.sampled_from(TOKENS))
            lines[i] = " ".join(tokens)
        elif action == "drop" and len(lines) > 1:
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "garbage":
            lines.insert(i, draw(texts).replace("\n", " "))
        elif action == "header":
            lines[0] = f"{draw(st.sampled_from(TOKENS + ['3', '10']))} {m}"
    return fmt, "\n".join(lines) + "\n"


contents = st.one_of(
    instance_texts().map(lambda pair: pair[1]),
    instance_texts().map(lambda pair: pair[1]),
    texts,
    st.binary(max_size=200),
)


@fuzz_settings(250)
@given(content=contents)
def test_schedule_command_on_generated_instance_files(content):
    TRIED["instance file"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / "inst.txt", content)
        (folder / "other.json").write_text("{}")  # a bystander file
        before = snapshot(folder)
        out = folder / "out" / "schedule.json"
        args = ["jobshop", "schedule", "--instance", str(path), "--policy", "SPT"]
        code, _, err = run_cli([*args, "--out", str(out)], limit_s=30)
        assert_untouched(before, folder)
        if code == 0:
            schedule = json.loads(out.read_text())
            assert violations(schedule, load_instance(path)) == []
        else:
            assert_one_line_error(code, err)
            assert not out.exists()
