"""Shipped files found from any directory; an output path that cannot be written is a
one-line error (exit 2) before any work starts, for every command that writes one."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest

from rlsys.cli import build_parser, main
from rlsys.paths import CONFIG_DIR, check_writable, resolve_path

# ---------------------------------------------------------------- resolve_path


def test_config_dir_is_inside_the_package():
    import rlsys

    assert CONFIG_DIR.parent == Path(rlsys.__file__).resolve().parent
    assert (CONFIG_DIR / "suites" / "quick.yaml").is_file()


def test_resolve_path_finds_shipped_configs_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shipped = CONFIG_DIR / "calibration" / "beam-urbansim-10k.yaml"
    assert resolve_path("configs/calibration/beam-urbansim-10k.yaml") == shipped
    assert resolve_path("./configs/calibration/beam-urbansim-10k.yaml") == shipped
    # a user's own file of that name wins; anything else comes back unchanged
    (tmp_path / "configs" / "calibration").mkdir(parents=True)
    (tmp_path / "configs/calibration/beam-urbansim-10k.yaml").write_text("car: 100\n")
    own = Path("configs/calibration/beam-urbansim-10k.yaml")
    assert resolve_path(own) == own
    for other in ("configs/nosuch.yaml", "mine.yaml", "configs", "/abs/configs/x.yaml"):
        assert resolve_path(other) == Path(other)


def test_documented_defaults_resolve_to_shipped_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["jobshop", "train"])
    assert args.config == CONFIG_DIR / "jobshop" / "default.yaml"
    args = build_parser().parse_args(
        ["calibrate", "--targets", "configs/calibration/beam-urbansim-10k.yaml"]
    )
    assert args.targets.is_file() and args.targets.is_relative_to(CONFIG_DIR)


# ---------------------------------------------------------------- check_writable


def test_check_writable(tmp_path):
    (tmp_path / "file").write_text("x")
    assert check_writable(tmp_path / "new" / "deeper" / "out.csv", "--out")
    assert check_writable(tmp_path / "file", "--out") == tmp_path / "file"
    assert check_writable(tmp_path / "runs", "--runs-dir", directory=True)
    with pytest.raises(ValueError, match=r"^--out .*: .*file is not a directory$"):
        check_writable(tmp_path / "file" / "sub" / "out.csv", "--out")
    with pytest.raises(ValueError, match="is a directory"):
        check_writable(tmp_path, "--out")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        check_writable(tmp_path / "file", "--runs-dir", directory=True)
    assert (tmp_path / "file").read_text() == "x" and sorted(os.listdir(tmp_path)) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_check_writable_read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ValueError, match="cannot write there"):
            check_writable(ro / "out.csv", "--out")
    finally:
        ro.chmod(0o755)


def test_check_writable_full_disk(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage._replace(free=4096))
    with pytest.raises(ValueError, match="no space left"):
        check_writable(tmp_path / "out.csv", "--out")


# ---------------------------------------------------------------- every command

OUTPUT_OPTIONS = ("--out", "--runs-dir", "--plot", "--state-out", "--schedules-dir")
REQUIRED = {
    "run": [],
    "jobshop schedule": ["--instance", "ft06", "--out", "s.json"],
    "jobshop eval": ["--instances", "ft06", "--out", "r.csv"],
    "jobshop train": [],
    "commformer train": [],
    "parl train": [],
    "parl compare": [],
    "jobshop solve": ["--instance", "ft06"],
    "jobshop plot": ["missing-schedule.json"],
    "transport simulate": [],
    "calibrate": ["--targets", "configs/calibration/beam-urbansim-10k.yaml"],
    "tune": ["jobshop"],
}
"""The least each command needs besides the output option under test (the last --out wins)."""
DIRECTORIES = {
    ("calibrate", "--out"),
    ("jobshop eval", "--schedules-dir"),
    ("parl compare", "--out"),
}


def _leaf_commands(parser: argparse.ArgumentParser, prefix: str = ""):
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix.strip(), parser
        return
    for name, sub in subs[0].choices.items():
        yield from _leaf_commands(sub, f"{prefix} {name}")


def _output_options() -> list[tuple[str, str]]:
    found = []
    for command, parser in _leaf_commands(build_parser()):
        flags = {f for a in parser._actions for f in a.option_strings}
        found += [(command, o) for o in OUTPUT_OPTIONS if o in flags]
    return found


CASES = _output_options()


def test_every_output_option_is_covered():
    assert {c for c, _ in CASES} <= set(REQUIRED), "add the new command to REQUIRED"
    assert {c for c, o in CASES if o == "--out"} >= {
        "jobshop schedule", "jobshop eval", "jobshop solve", "jobshop plot",
        "transport simulate", "calibrate",
    }  # fmt: skip


def _bad_out(command, option, tmp_path, capsys, bad: Path, match: str):
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [*command.split(), *REQUIRED[command], option, str(bad)]
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rlsys: error: {option} "), captured.err
    assert match in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize(("command", "option"), CASES, ids=[f"{c}-{o}" for c, o in CASES])
def test_output_under_a_regular_file_fails_first(command, option, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # would fail loudly if Ray started
    (tmp_path / "file.txt").write_text("x")
    bad = tmp_path / "file.txt" / "sub" / "out"
    _bad_out(command, option, tmp_path, capsys, bad, "file.txt is not a directory")


FILE_CASES = [c for c in CASES if c not in DIRECTORIES and c[1] not in ("--runs-dir",)]


@pytest.mark.parametrize(("command", "option"), FILE_CASES, ids=[f"{c}-{o}" for c, o in FILE_CASES])
def test_file_output_that_is_a_directory_fails_first(
    command, option, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    _bad_out(command, option, tmp_path, capsys, tmp_path / "adir", "is a directory")
