"""The transport calibration in the central tuner: ``WORKLOAD`` (``rlsys.tuner.workloads``).

The searched values are the alternative-specific constants of the free modes (car is
the reference, fixed at 0); a trial is one evaluation: a simulation of ``budget`` day-loop
iterations (promoted BOHB jobs continue the saved simulation state), scored against the
targets of the base config. ``rlsys tune calibration`` is the sweep view of what
``rlsys calibrate --method bohb|random`` runs; its best configuration is a
``best_asc.yaml`` for ``rlsys transport simulate --asc``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsys.calibration import trainables
from rlsys.calibration.config import DEFAULT_CONFIG, CalibrationConfig
from rlsys.calibration.objective import FREE_MODES
from rlsys.paths import CONFIG_DIR
from rlsys.tuner.workloads import Workload

BEAM_TARGETS = CONFIG_DIR / "calibration" / "beam-urbansim-10k.yaml"


def load(path: str | Path | None) -> CalibrationConfig:
    """A calibration config file (``rlsys calibrate --config``), else the defaults with the
    BEAM targets; either way with its targets checked."""
    from rlsys.calibration.objective import read_targets
    from rlsys.config import load_config

    if path is not None:
        cfg = load_config(CalibrationConfig, path)
    else:
        cfg = load_config(
            CalibrationConfig,
            DEFAULT_CONFIG,
            targets=read_targets(BEAM_TARGETS),
            targets_file=str(BEAM_TARGETS),
        )
    cfg.check()
    return cfg


def check(cfg: CalibrationConfig, space: dict) -> None:
    unknown = sorted(set(space) - set(FREE_MODES))
    if unknown:
        raise ValueError(
            f"space: unknown ASC(s) {', '.join(unknown)} (free modes: {', '.join(FREE_MODES)})"
        )


def constants(cfg: CalibrationConfig, run_dir: Path) -> dict[str, Any]:
    from rlsys.calibration.calibrate import experiment_spec

    # a mode the space leaves out keeps ASC 0 (the simulation's default)
    return {**experiment_spec(cfg, run_dir, workers=1).constants, **dict.fromkeys(FREE_MODES, 0.0)}


def resources(cfg: CalibrationConfig) -> Any:
    """An external simulator's CPUs and custom resources (a placement group per trial);
    None for the built-in simulation: one CPU per trial."""
    from rlsys.calibration.calibrate import external_simulator, simulator_resources

    return simulator_resources(external_simulator(cfg))


def initial_configs(cfg: CalibrationConfig) -> list[dict[str, float]]:
    from rlsys.calibration.calibrate import initial_configs

    return initial_configs(cfg)


def write_best(cfg: CalibrationConfig, params: dict[str, Any], out_dir: Path) -> Path:
    from rlsys.calibration.report import write_asc

    path = out_dir / "best_asc.yaml"
    asc = {m: float(params.get(m, 0.0)) for m in FREE_MODES}
    write_asc(asc, path, f"best ASCs of a calibration sweep on {cfg.scenario}")
    return path


WORKLOAD = Workload(
    name="calibration",
    description="mode-choice constants of the transport simulation against target shares",
    config_cls=CalibrationConfig,
    default_config=None,
    space={m: {"type": "uniform", "low": -10.0, "high": 10.0} for m in FREE_MODES},
    metric="objective",
    mode="min",
    budget_unit="simulation iterations",
    max_budget=18,
    budget_key="max_iterations",
    command="rlsys transport simulate --asc {config}",
    baseline="all ASCs 0 (the simulation's defaults)",
    trainable=trainables.evaluate,
    constants=constants,
    resources=resources,
    write_best=write_best,
    load=load,
    check=check,
    early_stopping=True,
    # as rlsys calibrate's bohb: budgets 6 and 18, fixed-point proposals (refine_fraction)
    min_budget=6,
    proposal_fraction=lambda cfg: cfg.refine_fraction,
    initial_configs=initial_configs,
    record_keys=("l1", "time_error", "sim_s"),
    baseline_params={m: 0.0 for m in FREE_MODES},
)
