"""Any simulator behind ``rlsys calibrate --simulator FILE``: an external command.

The adapter file (YAML, every key a field of ``SimulatorConfig``) names a command
template. For each simulation the calibration writes the ASCs to a file, fills in the
template and runs the command; the command writes the simulated mode shares (and,
optionally, mean travel times per mode) to the files it was given::

    name: my-model
    command: ["{python}", "run_my_model.py", "--asc", "{asc_file}", "--seed", "{seed}",
              "--iterations", "{iterations}", "--state", "{state_dir}",
              "--shares", "{shares_file}", "--times", "{times_file}"]
    timeout_s: 3600        # a run that takes longer is killed and counts as failed
    retries: 1             # further attempts after a crash, a timeout or bad output
    iterations_per_unit: 1 # the simulator's own iterations per unit of the budget
    continues: true        # it continues from {state_dir} (a promoted BOHB job)
    resources: {}          # Ray resources per simulation besides its CPU, e.g. {licensed_sim: 1}

Placeholders: ``{asc_file}`` (YAML ``mode: ASC``, every mode, car 0), ``{seed}``,
``{iterations}`` (the total the run must reach: budget x ``iterations_per_unit``),
``{state_dir}`` (where the simulator keeps what it needs to continue; with ``continues``,
a promoted job's directory starts as a copy of its parent's), ``{shares_file}`` (YAML
``mode: percent`` or, with a ``.csv`` name, ``mode,share`` rows: every mode of the
calibration, summing to 100), ``{times_file}`` (optional: YAML ``mode: minutes``),
``{work_dir}`` (the run's own scratch directory, also its working directory) and
``{python}`` (the interpreter running rlsys).

Faults: a non-zero exit, a run past ``timeout_s`` (its whole process group is killed)
and output that is missing, is not numbers, lacks a mode or does not sum to 100 are
each retried ``retries`` times; then the evaluation is recorded as failed with a
one-line reason (``SimulatorError``), and the calibration goes on.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from envs.transport import MODES
from rlsys.calibration.objective import _read_mode_map, validate_targets, validate_time_targets
from rlsys.config import Config, config_field, invalid

PLACEHOLDERS = (
    "asc_file", "seed", "iterations", "state_dir", "shares_file", "times_file", "work_dir",
    "python",
)  # fmt: skip


class SimulatorError(RuntimeError):
    """A simulation that failed (crash, timeout, bad output): its one-line reason."""


@dataclasses.dataclass
class SimulatorConfig(Config):
    """An external simulator (see the module docstring)."""

    command: list[str] = config_field([], min_len=1)
    """argv template; placeholders in braces (``{asc_file}``, ``{seed}``, ...)"""
    name: str = "external"
    """shown in the report"""
    timeout_s: float = config_field(3600.0, gt=0)
    """seconds a run may take before it is killed (and counts as failed)"""
    retries: int = config_field(1, ge=0)
    """further attempts of a failed run"""
    iterations_per_unit: int = config_field(1, ge=1)
    """the simulator's own iterations per unit of the calibration's budget"""
    continues: bool = False
    """the simulator continues a run from ``{state_dir}``; else a promoted job restarts"""
    resources: dict[str, float] = config_field({}, ge=0)
    """Ray resources per simulation besides its CPU (a licensed or memory-heavy
    simulator: a custom resource that only some nodes have)"""
    cpus: float = config_field(1.0, gt=0)
    """CPUs per simulation"""
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    """extra environment variables of the command"""

    def __post_init__(self) -> None:
        super().__post_init__()
        for arg in self.command:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(arg) if f is not None]
            except ValueError as exc:
                raise invalid(self, f"command argument {arg!r}: {exc}") from None
            unknown = [f for f in fields if f not in PLACEHOLDERS]
            if unknown:
                raise invalid(
                    self,
                    f"command argument {arg!r}: unknown placeholder {{{unknown[0]}}} "
                    f"(known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)})",
                )
        if not any("{shares_file}" in a for a in self.command):
            raise invalid(self, "command must pass {shares_file} (where the shares go)")


def load_simulator(path: str | Path) -> SimulatorConfig:
    from rlsys.config import load_config

    return load_config(SimulatorConfig, path)


def read_shares(path: Path) -> dict[str, float]:
    """The simulator's shares: every mode, numbers, >= 0, summing to 100 (else ValueError)."""
    data = _read_mode_map(path, "shares")
    if isinstance(data, dict):
        missing = [m for m in MODES if m not in data]
        if missing:
            raise ValueError(f"simulator output {path.name}: no share for {', '.join(missing)}")
    return validate_targets(data, where=f"simulator output {path.name}")


def write_asc_file(path: Path, asc: dict[str, float]) -> None:
    path.write_text("".join(f"{m}: {float(asc.get(m, 0.0))!r}\n" for m in MODES))


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def run_once(
    sim: SimulatorConfig,
    asc: dict[str, float],
    seed: int,
    units: int,
    job_dir: Path,
    parent_state: Path | None = None,
) -> dict[str, Any]:
    """One simulation to ``units`` budget units in ``job_dir`` (attempts as configured).

    Returns {"shares", "times" (or None), "attempts", "wall_s", "continued"}; raises
    SimulatorError with the last attempt's reason.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    state = job_dir / "state"
    continued = sim.continues and parent_state is not None and parent_state.is_dir()
    reason = ""
    for attempt in range(1, sim.retries + 2):
        # every attempt starts from the same state: the parent's copy, or nothing
        shutil.rmtree(state, ignore_errors=True)
        if continued:
            shutil.copytree(parent_state, state)
        else:
            state.mkdir()
        shares_file, times_file = job_dir / "shares.yaml", job_dir / "times.yaml"
        for f in (shares_file, times_file):
            f.unlink(missing_ok=True)
        write_asc_file(job_dir / "asc.yaml", asc)
        values = {
            "asc_file": str(job_dir / "asc.yaml"), "seed": str(int(seed)),
            "iterations": str(int(units) * sim.iterations_per_unit), "state_dir": str(state),
            "shares_file": str(shares_file), "times_file": str(times_file),
            "work_dir": str(job_dir), "python": sys.executable,
        }  # fmt: skip
        argv = [a.format(**values) for a in sim.command]
        t0 = time.perf_counter()
        try:
            out = _run(argv, sim, job_dir)
            if out.returncode != 0:
                raise SimulatorError(
                    f"exit code {out.returncode}: {_last_line(out.stderr) or 'no message'}"
                )
            shares = read_shares(shares_file)
            times = None
            if times_file.exists():
                times = validate_time_targets(
                    _read_mode_map(times_file, "times"), where="simulator output times.yaml"
                )
            return {
                "shares": shares, "times": times, "attempts": attempt,
                "wall_s": time.perf_counter() - t0, "continued": continued,
            }  # fmt: skip
        except (SimulatorError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise SimulatorError(f"{sim.name}: failed {sim.retries + 1} time(s); last: {reason}")


def _run(argv: list[str], sim: SimulatorConfig, cwd: Path) -> subprocess.CompletedProcess:
    """Run the command in a process group of its own, killed whole on timeout."""
    env = {**os.environ, **sim.env}
    try:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        raise SimulatorError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = proc.communicate(timeout=sim.timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise SimulatorError(f"timed out after {sim.timeout_s:g} s") from None
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
