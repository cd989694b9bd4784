"""Property: `rlsys jobshop schedule --policy FILE.pt` on any generated policy file (random
bytes, a truncated or bit-flipped policy, torch files of the wrong structure, a policy
with tensors of the wrong shape, dtype or values) schedules with it or stops with a
one-line error; the file is loaded with ``weights_only=True`` and left as it was."""

from __future__ import annotations

import functools
import io
import itertools
import json
import tempfile
from pathlib import Path

import pytest
import torch
from fuzzing import (
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    keys,
    run_cli,
    snapshot,
    values,
    write_input,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.jobshop.instance import load_instance
from envs.jobshop.schedule import violations

pytestmark = pytest.mark.fuzz
_names = itertools.count()  # the CLI caches policies by path: a new name per example


@functools.cache
def tiny_policy() -> tuple[bytes, dict]:
    """A small real policy file (hidden 4, one layer): its bytes and its state dict."""
    from rlsys.jobshop.policy import JobShopGNNPolicy

    torch.manual_seed(0)
    policy = JobShopGNNPolicy(hidden=4, layers=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = policy.save(Path(tmp) / "p.pt")
        return path.read_bytes(), policy.state_dict()


def torch_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


tensors = st.one_of(
    st.builds(torch.randn, st.integers(0, 5), st.integers(1, 5)),
    st.builds(torch.zeros, st.integers(0, 3), dtype=st.just(torch.int64)),
    st.just(torch.full((4, 8), float("nan"))),
    st.just(torch.tensor(3.0)),
    st.just(torch.ones(4, 8, dtype=torch.bool)),
)


@st.composite
def broken_state(draw: st.DrawFn) -> dict:
    """The tiny policy's state dict with 1..3 entries dropped, replaced or added."""
    state = dict(tiny_policy()[1])
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(state) or ["encoder.0.weight"]))
        action = draw(st.sampled_from(["tensor", "tensor", "nan", "drop", "value", "add"]))
        if action == "tensor":
            state[key] = draw(tensors)
        elif action == "nan" and key in state and state[key].is_floating_point():
            state[key] = torch.full_like(state[key], float("nan"))
        elif action == "drop":
            state.pop(key, None)
        elif action == "value":
            state[key] = draw(values)
        else:
            name = draw(keys | st.sampled_from(["convs.9.x", "encoder.0.bias", "actor.9.weight"]))
            state[name] = draw(tensors)
    return state


@st.composite
def policy_files(draw: st.DrawFn) -> bytes:
    real = tiny_policy()[0]
    kind = draw(st.sampled_from(["state", "state", "state", "cut", "flip", "blob", "bytes"]))
    if kind == "state":
        meta = draw(st.one_of(st.just({"policy_kwargs": {"hidden": 4, "layers": 1}}), values))
        return torch_bytes({"model": draw(broken_state()), "meta": meta})
    if kind == "cut":
        return real[: draw(st.integers(0, len(real) - 1))]
    if kind == "flip":
        at = draw(st.integers(0, len(real) - 1))
        return real[:at] + bytes([real[at] ^ draw(st.integers(1, 255))]) + real[at + 1 :]
    if kind == "blob":
        return torch_bytes(draw(st.one_of(values, st.builds(dict, model=values), tensors)))
    return draw(st.binary(max_size=300))


@fuzz_settings(150)
@given(content=policy_files())
def test_schedule_with_generated_policy_files(content):
    TRIED["policy / checkpoint file"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / f"policy{next(_names)}.pt", content)
        before = snapshot(folder)
        out = folder / "out.json"
        args = ["jobshop", "schedule", "--instance", "ft06", "--policy", str(path)]
        code, _, err = run_cli([*args, "--out", str(out)], limit_s=60)
        assert_untouched(before, folder)
        if code != 0:
            assert_one_line_error(code, err)
            assert not out.exists()
            return
        assert violations(json.loads(out.read_text()), load_instance("ft06")) == []
