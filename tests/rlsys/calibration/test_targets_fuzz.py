"""Property: a generated targets file (shares or travel times, YAML or CSV) is read into
valid targets or rejected with one line by ``read_targets`` / ``read_time_targets``, and
`rlsys calibrate` then stops with that one-line error before creating its ``--out``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fuzzing import (
    EDGE_NUMBERS,
    TRIED,
    assert_one_line_error,
    assert_untouched,
    fuzz_settings,
    mutated,
    one_line_value_error,
    run_cli,
    snapshot,
    texts,
    values,
    write_input,
    yaml_texts,
)
from hypothesis import given
from hypothesis import strategies as st

from envs.transport import MODES
from rlsys.calibration.config import DEFAULT_CONFIG
from rlsys.calibration.objective import (
    BEAM_URBANSIM_10K,
    SUM_TOLERANCE,
    read_targets,
    read_time_targets,
)

pytestmark = pytest.mark.fuzz

BEAM = DEFAULT_CONFIG.parent / "beam-urbansim-10k.yaml"
TIMES = {"car": 11.21, "drive_transit": 16.47, "ride_hail": 11.54, "walk_transit": 15.18}
CELLS = [*MODES, "mode", "tram", "", " car", "#car", '"car"', "car,1", "\x00", "1e400"]
NUMBERS = st.one_of(st.sampled_from([repr(x) for x in EDGE_NUMBERS]), st.sampled_from(CELLS))


@st.composite
def yaml_maps(draw: st.DrawFn, base: dict) -> str:
    import yaml

    kind = draw(st.sampled_from(["mutated", "mutated", "values", "text"]))
    if kind == "text":
        return draw(yaml_texts)
    data = draw(mutated(base)) if kind == "mutated" else draw(values)
    return yaml.safe_dump(data, allow_unicode=True)


@st.composite
def csv_tables(draw: st.DrawFn, base: dict) -> str:
    if draw(st.booleans()):
        return draw(texts)
    rows = [["mode", "value"]] + [[m, repr(v)] for m, v in base.items()]
    for _ in range(draw(st.integers(0, 3))):
        if not rows:
            rows.append([])
        i = draw(st.integers(0, len(rows) - 1))
        action = draw(st.sampled_from(["cell", "cell", "drop", "extra", "blank"]))
        if action == "cell" and rows[i]:
            rows[i][draw(st.integers(0, len(rows[i]) - 1))] = draw(NUMBERS)
        elif action == "drop":
            del rows[i]
        elif action == "extra":
            rows[i].append(draw(NUMBERS))
        else:
            rows.insert(i, [])
    return "\n".join(",".join(row) for row in rows) + "\n"


def files(base: dict) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.just(".yaml"), yaml_maps(base)),
        st.tuples(st.just(".csv"), csv_tables(base)),
        st.tuples(st.sampled_from([".yaml", ".csv"]), st.binary(max_size=120)),
    )


def check(suffix, content, reader, cli_args) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = write_input(folder / f"targets{suffix}", content)
        before = snapshot(folder)
        result, error = one_line_value_error(reader, path)
        assert_untouched(before, folder)
        if error is None:
            return result
        out = folder / "run"
        code, _, err = run_cli(["calibrate", *cli_args(path), "--out", str(out), "--quiet"])
        assert_one_line_error(code, err)
        assert not out.exists()
        assert_untouched(before, folder)
        return None


@fuzz_settings(200)
@given(file=files(BEAM_URBANSIM_10K))
def test_generated_share_targets(file):
    TRIED["targets (shares, YAML/CSV)"] += 1
    shares = check(*file, read_targets, lambda path: ["--targets", str(path)])
    if shares is not None:
        assert set(shares) == set(MODES) and all(v >= 0 for v in shares.values())
        assert abs(sum(shares.values()) - 100) <= SUM_TOLERANCE


@fuzz_settings(150)
@given(file=files(TIMES))
def test_generated_time_targets(file):
    TRIED["targets (travel times, YAML/CSV)"] += 1
    args = lambda path: ["--targets", str(BEAM), "--time-targets", str(path)]  # noqa: E731
    times = check(*file, read_time_targets, args)
    if times is not None:
        assert times and set(times) <= set(MODES) and all(v > 0 for v in times.values())
