"""The calibration's configuration (``configs/calibration/default.yaml`` holds the defaults)."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Literal

from rlsys.config import Config, config_field, invalid

Method = Literal["auto", "bohb", "random", "fixed-point", "hybrid"]
"""A calibration method."""
METHODS: tuple[str, ...] = typing.get_args(Method)
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "calibration"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


@dataclasses.dataclass
class BOHBConfig(Config):
    """hpbandster's BOHB config-generator settings (defaults: its own, the BOHB paper's)."""

    top_n_percent: int = config_field(15, ge=1, le=99)
    """the best top_n_percent % of a budget's results form the "good" density"""
    num_samples: int = config_field(64, ge=1)
    """candidates drawn per model-based proposal"""
    random_fraction: float = config_field(1 / 3, ge=0, le=1)
    """share of proposals drawn uniformly at random"""
    bandwidth_factor: float = config_field(3.0, gt=0)
    """widens the good density when drawing candidates"""
    min_bandwidth: float = config_field(1e-3, ge=0)
    """smallest kernel bandwidth"""


@dataclasses.dataclass
class CalibrationConfig(Config):
    """One calibration run of the transport simulation's ASCs."""

    targets: dict[str, float] = config_field({}, ge=0)
    """Target mode shares, mode -> percent (missing modes 0; filled from --targets)."""
    targets_file: str = ""
    """Where the targets came from (for the report)."""
    time_targets: dict[str, float] = config_field({}, gt=0)
    """Extra targets: mean travel time per mode, minutes (any subset; from --time-targets)."""
    time_targets_file: str = ""
    """Where the time targets came from (for the report)."""
    time_weight: float = config_field(1.0, ge=0)
    """Objective = L1 of the shares (pp) + time_weight x mean travel-time error (%)."""
    scenario: str = "urbansim-10k-like"
    """Shipped scenario name or YAML path."""
    simulator: str = ""
    """An external simulator's adapter file (``rlsys.calibration.simulator``); "": the
    built-in transport simulation of ``scenario``."""
    method: Method = "auto"
    """auto | bohb | random | fixed-point | hybrid (auto: see ``choose_method``)."""
    max_iterations: int = config_field(18, ge=1)
    """Simulation iterations of a full evaluation (the largest BOHB budget)."""
    evaluations: int = config_field(200, ge=1)
    """Evaluations to run: BOHB/random jobs (promotions included) or fixed-point steps."""
    workers: int = config_field(0, ge=0)
    """Evaluations running at once, one CPU each (0: every CPU of the Ray cluster)."""
    seed: int = config_field(1, ge=0, lt=2**32)
    """Root seed. The simulation runs with this seed; searchers derive theirs from it."""
    bounds: list[float] = config_field([-10.0, 10.0], min_len=2, max_len=2)
    """[low, high] for every free ASC ($), low < high."""
    replications: int = config_field(1, ge=1)
    """Simulations per evaluation (seeds seed, seed + 1000, ...); the objective uses their
    mean shares, so the ASCs fit the model rather than one seed's sampling noise."""
    last_k: int = config_field(5, ge=1)
    """The objective averages the shares of the last k iterations."""
    eta: int = config_field(3, ge=2)
    """BOHB/Hyperband reduction factor: budgets max_iterations / eta^i."""
    min_budget: int = config_field(0, ge=0)
    """Smallest BOHB budget in iterations, <= max_iterations (0: max_iterations / eta, at
    least 1: budgets 6 and 18 by default. The shares of a 2-iteration run are too far from
    settled to rank the fixed-point proposals; with 2, 6, 18 BOHB ended at 1.8-3.1 pp on
    the BEAM targets where 6, 18 ends at 0.2-0.9, bench/calibration.py)."""
    refine_fraction: float = config_field(0.5, ge=0, le=1)
    """bohb: share of new configurations that are the fixed-point step from the best
    evaluation so far (at the largest budget reached) instead of a KDE/random draw; 0:
    plain BOHB. Random search never refines."""
    start_at_default: bool = True
    """bohb: the first configuration is the simulation's default constants (every ASC 0,
    clipped to ``bounds``; where fixed-point and hybrid start), so the first fixed-point
    proposals are steps from it instead of from uniform draws (SMAC's initial design).
    Random search always draws uniformly (the bench's reference)."""
    bohb: BOHBConfig = dataclasses.field(default_factory=BOHBConfig)
    """hpbandster BOHB settings: top_n_percent, num_samples, random_fraction,
    bandwidth_factor, min_bandwidth (any subset; the rest keep hpbandster's defaults)."""
    early_stopping: bool = True
    """Stop bohb/random evaluations whose L1 trend cannot reach the incumbent."""
    stop_margin: float = config_field(0.5, ge=0)
    """Slack (percentage points) before the trend rule stops a run."""
    damping: float = config_field(1.0, gt=0)
    """Fixed-point (and hybrid) step multiplier."""
    epsilon: float = config_field(0.05, gt=0)
    """Share (percent) used in place of 0 in ln(target / simulated)."""
    patience: int = config_field(5, ge=1)
    """fixed-point/hybrid: stop after this many full steps without a better L1."""
    short_budget: int = config_field(0, ge=0)
    """hybrid: iterations of a coarse step, <= max_iterations (0: max_iterations / eta)."""
    switch_l1: float = config_field(6.0, ge=0)
    """hybrid: coarse steps while L1 is above this (percentage points)."""
    check_seeds: int = config_field(3, ge=0)
    """Re-simulate the best ASCs under this many other seeds (seed+1, seed+2, ...)."""
    report_every: int = config_field(4, ge=1)
    """bohb/random: report to Tune every n iterations (the trend rule needs 4 points)."""
    checkpoint_every: int = config_field(0, ge=0)
    """Also checkpoint every n iterations inside an evaluation (0: only at its end)."""
    max_failures: int = config_field(2, ge=0)
    """Retries of an evaluation whose worker died."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("min_budget", "short_budget"):
            if getattr(self, key) > self.max_iterations:
                raise invalid(
                    self,
                    f"{key} must be <= max_iterations ({self.max_iterations}), "
                    f"got {getattr(self, key)}",
                )
        if not self.bounds[0] < self.bounds[1]:
            raise invalid(self, f"bounds must be [low, high] with low < high, got {self.bounds}")

    def check(self) -> None:
        """What a run needs beyond the field checks: targets (ValueError, one line)."""
        if self.time_targets:  # also when they come from a --config file
            from rlsys.calibration.objective import validate_time_targets

            self.time_targets = validate_time_targets(self.time_targets, "time_targets")
        if not self.targets:
            raise ValueError("no targets: pass --targets FILE")


AUTO_REASON = (
    "auto chose hybrid: the built-in simulation's share of each mode rises with that mode's "
    "own ASC, the premise of the car-referenced logit step, and on the BEAM and hidden-ASC "
    "targets hybrid reached L1 <= 1 pp in a median of 72-114 simulated iterations, where "
    "BOHB with fixed-point proposals needed 262-1,222 and random search never did "
    "(bench/calibration.py and bench/calibration_goal.py, 5 seeds); --method bohb searches "
    "without that premise"
)


AUTO_EXTERNAL_REASON = (
    "auto chose bohb: for an external simulator nothing says that its shares respond to "
    "the ASCs as a logit model's do, so the search keeps BOHB's model and successive "
    "halving and uses the fixed-point step only as proposals it has to confirm"
)


def choose_method(cfg: CalibrationConfig) -> tuple[str, str]:
    """(the method a run uses, why): ``auto`` resolves to the one that gets the best
    result for the budget on the built-in simulation; any other method is itself."""
    if cfg.method != "auto":
        return cfg.method, f"--method {cfg.method}"
    if cfg.simulator:
        return "bohb", AUTO_EXTERNAL_REASON
    return "hybrid", AUTO_REASON
