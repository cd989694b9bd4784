"""Property: `rlsys transport simulate --state-in FILE.npz` on any generated state file
(random bytes, a truncated or bit-flipped state, a real state with its metadata or one
of its arrays replaced) continues the simulation or stops with a one-line error, writing
nothing, and leaves the file as it was. States are read without pickle."""

from __future__ import annotations

import functools
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzzing import (
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    mutated,
    run_cli,
    snapshot,
    write_input,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.transport import TransportSim, load_scenario, state_to_bytes

pytestmark = pytest.mark.fuzz

SIMULATE = ["transport", "simulate", "--scenario", "small", "--agents", "20", "--iterations", "1"]


@functools.cache
def real_state() -> tuple[bytes, dict, dict]:
    """A state of `small` with 20 agents after 2 iterations: bytes, metadata, arrays."""
    _, state = TransportSim(load_scenario("small", agents=20)).run(None, 2, seed=1)
    data = state_to_bytes(state)
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k != "meta"}
        meta = json.loads(str(z["meta"]))
    return data, meta, arrays


def npz(meta, arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta, allow_nan=True)), **arrays)
    return buf.getvalue()


arrays_st = st.one_of(
    st.builds(np.full, st.integers(0, 30), st.sampled_from([-1, 0, 7, 8, 99, 2**40])),
    st.builds(lambda n: np.full((4, n), np.nan), st.integers(0, 300)),
    st.builds(lambda n: -np.ones(n), st.integers(0, 30)),
    st.just(np.array("text")),
    st.just(np.zeros((0,))),
)


@st.composite
def state_files(draw: st.DrawFn) -> bytes:
    data, meta, arrays = real_state()
    kind = draw(st.sampled_from(["meta", "meta", "array", "array", "cut", "flip", "bytes"]))
    if kind == "meta":
        return npz(draw(mutated(meta, rounds=2)), arrays)
    if kind == "array":
        arrays = dict(arrays)
        key = draw(st.sampled_from(sorted(arrays)))
        action = draw(st.sampled_from(["replace", "replace", "scale", "drop", "dtype"]))
        if action == "replace":
            arrays[key] = draw(arrays_st)
        elif action == "scale":
            with np.errstate(over="ignore", invalid="ignore"):
                arrays[key] = arrays[key] * draw(st.sampled_from([-1, 0, 1e308, np.nan]))
        elif action == "drop":
            del arrays[key]
        else:
            arrays[key] = arrays[key].astype(
                draw(st.sampled_from(["int8", "float16", "bool", "U3"]))
            )
        return npz(meta, arrays)
    if kind == "cut":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return draw(st.binary(max_size=300))


@fuzz_settings(150)
@given(content=state_files())
def test_continue_from_generated_state_files(content):
    TRIED["transport state (.npz)"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / "state.npz", content)
        before = snapshot(folder)
        out, state_out = folder / "out.json", folder / "next.npz"
        args = [
            *SIMULATE,
            "--state-in",
            str(path),
            "--out",
            str(out),
            "--state-out",
            str(state_out),
        ]
        code, _, err = run_cli(args, limit_s=60)
        assert_untouched(before, folder)
        if code != 0:
            assert_one_line_error(code, err)
            assert not out.exists() and not state_out.exists()
            return
        shares = json.loads(out.read_text())["per_iteration"][0]["mode_shares"]
        assert sum(shares.values()) == pytest.approx(100.0)
