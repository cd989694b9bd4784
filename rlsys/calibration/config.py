"""The calibration's configuration (``configs/calibration/default.yaml`` holds the defaults)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

METHODS = ("bohb", "random", "fixed-point", "hybrid")
BOHB_DEFAULTS = {
    "top_n_percent": 15,
    "num_samples": 64,
    "random_fraction": 1 / 3,
    "bandwidth_factor": 3.0,
    "min_bandwidth": 1e-3,
}
"""hpbandster's BOHB config-generator settings (its own defaults, those of the BOHB paper)."""
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "calibration"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"


@dataclasses.dataclass
class CalibrationConfig:
    """One calibration run of the transport simulation's ASCs."""

    targets: dict = dataclasses.field(default_factory=dict)
    """Target mode shares, mode -> percent (missing modes 0; filled from --targets)."""
    targets_file: str = ""
    """Where the targets came from (for the report)."""
    time_targets: dict = dataclasses.field(default_factory=dict)
    """Extra targets: mean travel time per mode, minutes (any subset; from --time-targets)."""
    time_targets_file: str = ""
    """Where the time targets came from (for the report)."""
    time_weight: float = 1.0
    """Objective = L1 of the shares (pp) + time_weight x mean travel-time error (%)."""
    scenario: str = "urbansim-10k-like"
    """Shipped scenario name or YAML path."""
    method: str = "bohb"
    """bohb | random | fixed-point | hybrid."""
    max_iterations: int = 18
    """Simulation iterations of a full evaluation (the largest BOHB budget)."""
    evaluations: int = 200
    """Evaluations to run: BOHB/random jobs (promotions included) or fixed-point steps."""
    workers: int = 0
    """Evaluations running at once, one CPU each (0: every CPU of the Ray cluster)."""
    seed: int = 1
    """Root seed. The simulation runs with this seed; searchers derive theirs from it."""
    bounds: list = dataclasses.field(default_factory=lambda: [-10.0, 10.0])
    """[low, high] for every free ASC ($)."""
    replications: int = 1
    """Simulations per evaluation (seeds seed, seed + 1000, ...); the objective uses their
    mean shares, so the ASCs fit the model rather than one seed's sampling noise."""
    last_k: int = 5
    """The objective averages the shares of the last k iterations."""
    eta: int = 3
    """BOHB/Hyperband reduction factor: budgets max_iterations / eta^i."""
    min_budget: int = 0
    """Smallest BOHB budget in iterations (0: max_iterations / eta^2, at least 1)."""
    bohb: dict = dataclasses.field(default_factory=lambda: dict(BOHB_DEFAULTS))
    """hpbandster BOHB settings: top_n_percent, num_samples, random_fraction,
    bandwidth_factor, min_bandwidth (any subset; the rest keep hpbandster's defaults)."""
    early_stopping: bool = True
    """Stop bohb/random evaluations whose L1 trend cannot reach the incumbent."""
    stop_margin: float = 0.5
    """Slack (percentage points) before the trend rule stops a run."""
    damping: float = 1.0
    """Fixed-point (and hybrid) step multiplier."""
    epsilon: float = 0.05
    """Share (percent) used in place of 0 in ln(target / simulated)."""
    patience: int = 5
    """fixed-point/hybrid: stop after this many full steps without a better L1."""
    short_budget: int = 0
    """hybrid: iterations of a coarse step (0: max_iterations / eta)."""
    switch_l1: float = 6.0
    """hybrid: coarse steps while L1 is above this (percentage points)."""
    check_seeds: int = 3
    """Re-simulate the best ASCs under this many other seeds (seed+1, seed+2, ...)."""
    report_every: int = 4
    """bohb/random: report to Tune every n iterations (the trend rule needs 4 points)."""
    checkpoint_every: int = 0
    """Also checkpoint every n iterations inside an evaluation (0: only at its end)."""
    max_failures: int = 2
    """Retries of an evaluation whose worker died."""

    def check(self) -> None:
        """Raise ValueError (one line) for values out of range."""
        if self.method not in METHODS:
            raise ValueError(f"--method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in (
            "max_iterations",
            "evaluations",
            "replications",
            "last_k",
            "patience",
            "report_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(
                    f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.workers < 0:
            raise ValueError(f"--workers must be >= 0, got {self.workers}")
        if self.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {self.seed}")
        if self.eta < 2:
            raise ValueError(f"eta must be >= 2, got {self.eta}")
        if self.min_budget < 0 or self.min_budget > self.max_iterations:
            raise ValueError(f"min_budget must be in [0, {self.max_iterations}]")
        if self.short_budget < 0 or self.short_budget > self.max_iterations:
            raise ValueError(f"short_budget must be in [0, {self.max_iterations}]")
        if len(self.bounds) != 2 or not float(self.bounds[0]) < float(self.bounds[1]):
            raise ValueError(f"bounds must be [low, high] with low < high, got {self.bounds}")
        if self.time_targets:  # also when they come from a --config file
            from rlsys.calibration.objective import validate_time_targets

            self.time_targets = validate_time_targets(self.time_targets, "time_targets")
        if not self.time_weight >= 0:
            raise ValueError(f"--time-weight must be >= 0, got {self.time_weight}")
        if self.damping <= 0 or self.epsilon <= 0:
            raise ValueError("damping and epsilon must be > 0")
        for key, value in self.bohb.items():
            if key not in BOHB_DEFAULTS:
                raise ValueError(
                    f"bohb: unknown setting {key!r} (valid: {', '.join(BOHB_DEFAULTS)})"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"bohb: {key} must be a number >= 0, got {value!r}")
        for key in ("top_n_percent", "num_samples"):
            if key in self.bohb and not isinstance(self.bohb[key], int):
                raise ValueError(f"bohb: {key} must be an integer, got {self.bohb[key]!r}")
        if not 0 <= self.bohb.get("random_fraction", 0) <= 1:
            raise ValueError("bohb: random_fraction must be in [0, 1]")
        if not self.targets:
            raise ValueError("no targets: pass --targets FILE")
