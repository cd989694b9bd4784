"""The install as a new user meets it: the lock resolves on the public index alone, and a
built wheel (not the editable checkout) runs the main commands from any directory."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
PYPI = "https://pypi.org/simple"
SDIST_ONLY = {"hpbandster", "netifaces"}
"""Pins that the public index serves as source only (netifaces builds a C extension: the
README's "a C compiler")."""


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"requirements.lock: not an exact pin: {line!r}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def _public_env() -> dict[str, str]:
    """This machine's environment minus every pip setting (local wheel folders, extra
    indexes, constraints); the CA bundle stays (it is how this machine reaches pypi.org)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def _cert_args() -> list[str]:
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE")
    return ["--cert", cert] if cert else []


def _require_pypi() -> None:
    try:
        urllib.request.urlopen(f"{PYPI}/pip/", timeout=10).close()
    except (OSError, urllib.error.URLError) as exc:
        pytest.skip(f"pypi.org cannot be reached from here ({exc}): lock check skipped")


@pytest.mark.network
def test_every_pin_of_the_lock_has_a_file_for_this_python_on_pypi():
    """What pip's finder checks (version, wheel tags of this interpreter, yanked,
    requires-python), one Simple-API page per pin, in parallel: seconds, and it lists every
    missing pin at once. The pip dry-run below is the authoritative check."""
    from packaging.specifiers import SpecifierSet
    from packaging.tags import sys_tags
    from packaging.utils import parse_sdist_filename, parse_wheel_filename
    from packaging.version import Version

    _require_pypi()
    tags = set(sys_tags())
    python = ".".join(map(str, sys.version_info[:3]))

    def files(name: str) -> list[dict]:
        request = urllib.request.Request(
            f"{PYPI}/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
        )
        for attempt in range(3):  # a DNS or connection hiccup among 32 parallel requests
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.load(response)["files"]
            except urllib.error.URLError:
                if attempt == 2:
                    raise
                time.sleep(2.0 * (attempt + 1))

    pins = _pins()
    with ThreadPoolExecutor(32) as pool:
        listing = dict(zip(pins, pool.map(files, pins), strict=True))
    missing, sdist_only = [], set()
    for name, version in pins.items():
        wheel = sdist = False
        for f in listing[name]:
            filename = f["filename"]
            if f.get("yanked") or version not in filename:
                continue
            if f.get("requires-python") and python not in SpecifierSet(f["requires-python"]):
                continue
            try:  # (old releases have names that packaging rejects)
                if filename.endswith(".whl"):
                    _, v, _, wheel_tags = parse_wheel_filename(filename)
                    wheel |= v == Version(version) and bool(wheel_tags & tags)
                elif filename.endswith((".tar.gz", ".zip")):
                    sdist |= parse_sdist_filename(filename)[1] == Version(version)
            except ValueError:
                continue
        if not wheel:
            (sdist_only.add(name) if sdist else missing.append(f"{name}=={version}"))
    assert not missing, f"not on the public index for this Python: {missing}"
    assert sdist_only == SDIST_ONLY, "pins without a wheel for this Python changed"


@pytest.mark.network
@pytest.mark.slow
def test_lock_resolves_on_the_public_index_alone(tmp_path):
    """`pip install --dry-run --no-deps -r requirements.lock` against pypi.org only: no
    config file, no PIP_* variables (no local wheel folder, extra index or constraint),
    --ignore-installed so every pin is really looked up. Wheels only, except SDIST_ONLY.
    The index this machine reaches serves no PEP 658 metadata and no cache headers, so pip
    fetches every wheel (about 1 GB, torch 0.5 GB) on every run, and spends its CPU
    matching each file of each project page against this interpreter's tags: 1-2 minutes
    on a quiet 2-core machine, much longer on a loaded one."""
    _require_pypi()
    report = tmp_path / "report.json"
    cmd = [
        sys.executable, "-m", "pip", "install", "--isolated", "--disable-pip-version-check",
        "--dry-run", "--no-deps", "--ignore-installed", "--index-url", PYPI,
        "--only-binary", ":all:", "--no-binary", ",".join(sorted(SDIST_ONLY)),
        "--report", str(report), "-r", str(LOCK), *_cert_args(),
    ]  # fmt: skip
    t0 = time.perf_counter()
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=_public_env(), cwd=tmp_path, timeout=900
    )
    elapsed = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr[-3000:]
    chosen = json.loads(report.read_text())["install"]
    got = {re.sub(r"[-_.]+", "-", i["metadata"]["name"]).lower(): i for i in chosen}
    pins = _pins()
    assert {n: got[n]["metadata"]["version"] for n in got} == pins
    for name, item in got.items():
        url = item["download_info"]["url"]
        assert url.startswith("https://files.pythonhosted.org/"), (name, url)
        assert url.endswith(".whl") == (name not in SDIST_ONLY), (name, url)
    print(f"\nlock: {len(pins)} pins resolved on {PYPI} alone in {elapsed:.0f} s")


# ---------------------------------------------------------------- the wheel

TINY_SUITE = """\
jobshop_rules:
  instances: [ft06]
  policies: [pretrained, MWKR]
  shutdown_probs: [0.0]
  seeds: "0"
transport:
  scenario: small
  iterations: 2
  seeds: "1"
calibration:
  targets_file: configs/calibration/beam-urbansim-10k.yaml
  scenario: small
  methods: [fixed-point]
  evaluations: 2
"""


def _source_files() -> list[str]:
    """What `pip install .` from this checkout sees: tracked and untracked, not ignored."""
    if shutil.which("git") and (REPO / ".git").exists():
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout.decode()  # fmt: skip
        return [f for f in out.split("\0") if f and os.path.lexists(REPO / f)]
    pytest.skip("no git checkout: cannot list the source files")


def _copy_source(dest: Path) -> list[str]:
    files = _source_files()
    for name in files:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name, follow_symlinks=False)
    return files


@pytest.mark.slow
def test_wheel_installs_and_runs_from_any_directory(tmp_path):
    """Build the wheel offline from a copy of the checkout, install it with --target, and
    run `rlsys run`, `jobshop eval --policy pretrained`, `calibrate` and `transport
    simulate` (small budgets) from an empty directory with only that install on the path."""
    src, site, work = tmp_path / "src", tmp_path / "site", tmp_path / "work"
    work.mkdir()
    files = _copy_source(src)
    pip = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check"]
    offline = ["--no-deps", "--no-index"]
    subprocess.run(
        [*pip, "wheel", *offline, "--no-build-isolation", "-q", str(src), "-w", str(tmp_path)],
        check=True, capture_output=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("rlsys-*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    data = {
        f for f in files
        if f.startswith(("rlsys/", "envs/")) and not f.endswith((".py", ".pyc"))
    }  # fmt: skip
    assert data and data <= in_wheel, f"package data missing from the wheel: {data - in_wheel}"
    for shipped in ("rlsys/configs/suites/quick.yaml", "rlsys/jobshop/pretrained/gnn_ppo.pt"):
        assert shipped in in_wheel
    subprocess.run(
        [*pip, "install", *offline, "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip

    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RLSYS_RUNS")}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1")

    def rlsys(*argv: str, code: int = 0) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "rlsys", *argv],
            cwd=work, env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert result.returncode == code, (argv, result.stdout[-2000:], result.stderr[-3000:])
        return result

    where = subprocess.run(
        [sys.executable, "-c", "import rlsys, envs; print(rlsys.__file__); print(envs.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(Path(p).is_relative_to(site) for p in where), where

    # the shipped suites are found (the default `--suite quick` is one of them)
    err = rlsys("run", "--suite", "nosuch", code=2).stderr
    assert "quick" in err.partition("known:")[2], err
    # one command at a time: each starts its own local Ray (concurrent starts time out on
    # a loaded 2-core machine)
    (work / "tiny.yaml").write_text(TINY_SUITE)
    out = rlsys("run", "--suite", "tiny.yaml").stdout
    (run_dir,) = (work / "runs" / "run").iterdir()
    report = (run_dir / "report.md").read_text()
    assert "| pretrained |" in report and "| fixed-point |" in report, out[-2000:]
    assert "configs/calibration/beam-urbansim-10k.yaml" in report

    rlsys(
        "jobshop", "eval", "--instances", "ft06", "--policies", "pretrained",
        "--shutdown-probs", "0", "--seeds", "0", "--out", "eval.csv",
    )  # fmt: skip
    with open(work / "eval.csv", newline="") as f:
        (row,) = csv.DictReader(f)
    assert (row["policy"], row["valid"]) == ("pretrained", "yes")

    rlsys(
        "calibrate", "--targets", "configs/calibration/beam-urbansim-10k.yaml",
        "--scenario", "small", "--method", "fixed-point", "--evaluations", "2",
        "--max-iterations", "3", "--out", "cal", "--quiet",
    )  # fmt: skip
    assert (work / "cal" / "best_asc.yaml").is_file()

    rlsys("transport", "simulate", "--scenario", "small", "--iterations", "2", "--out", "t.json")
    assert json.loads((work / "t.json").read_text())["iterations"] == 2
    assert not (work / "configs").exists()
