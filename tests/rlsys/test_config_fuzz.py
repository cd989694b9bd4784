"""Property: a generated config YAML (suite, job-shop train, calibration; given with
``--config``/``--suite`` or as a resumed run's ``config.yaml``) is read into a config by
the strict reader or rejected with one line, and then the command stops with exit 2 and
that one line before it creates a run directory or changes any file.

Accepted configs are not run (that would train or calibrate): the loader is the part of
the command under test, the same function the command calls first.
"""

from __future__ import annotations

import functools
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
    one_line_value_error,
    run_cli,
    snapshot,
    values,
    write_input,
    yaml_texts,
)
from hypothesis import given
from hypothesis import strategies as st

from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
from rlsys.config import load_config
from rlsys.jobshop.train import JobshopTrainConfig
from rlsys.run import SuiteConfig

pytestmark = pytest.mark.fuzz

CONFIGS = DEFAULT_CONFIG.parents[1]
BEAM = DEFAULT_CONFIG.parent / "beam-urbansim-10k.yaml"


@functools.cache
def shipped(name: str) -> dict:
    return yaml.safe_load((CONFIGS / name).read_text())


def config_files(name: str) -> st.SearchStrategy:
    return st.one_of(
        mutated(shipped(name)).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        mutated(shipped(name)).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        mutated(shipped(name)).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        values.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        yaml_texts,
        st.binary(max_size=120),
    )


def check(content, cls, command) -> None:
    """Loader first; when it rejects the file, the command must reject it the same way."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run = folder / "resumed"
        run.mkdir()
        path = write_input(run / "config.yaml", content)
        before = snapshot(folder)
        cfg, error = one_line_value_error(load_config, cls, path)
        assert_untouched(before, folder)
        if error is None:
            assert isinstance(cfg, cls)
            return
        out = folder / "runs"
        code, _, err = run_cli(command(path, run, out))
        assert error in assert_one_line_error(code, err)
        assert not out.exists()
        assert_untouched(before, folder)


@fuzz_settings(100)
@given(content=config_files("suites/quick.yaml"), resume=st.booleans())
def test_generated_suite_configs(content, resume):
    TRIED["config YAML: run suite"] += 1

    def command(path, run, out):
        if resume:
            return ["run", "--resume", str(run), "--runs-dir", str(out)]
        return ["run", "--suite", str(path), "--runs-dir", str(out)]

    check(content, SuiteConfig, command)


@fuzz_settings(100)
@given(content=config_files("jobshop/default.yaml"), resume=st.booleans())
def test_generated_jobshop_train_configs(content, resume):
    TRIED["config YAML: jobshop train"] += 1

    def command(path, run, out):
        where = ["--resume", str(run)] if resume else ["--config", str(path)]
        return ["jobshop", "train", *where, "--runs-dir", str(out)]

    check(content, JobshopTrainConfig, command)


@fuzz_settings(100)
@given(content=config_files("calibration/default.yaml"), resume=st.booleans())
def test_generated_calibration_configs(content, resume):
    TRIED["config YAML: calibration"] += 1

    def command(path, run, out):
        if resume:
            return ["calibrate", "--resume", str(run), "--quiet"]
        return ["calibrate", "--config", str(path), "--targets", str(BEAM), "--out", str(out)]

    check(content, CalibrationConfig, command)
