"""The workload registry: what the central tuner needs to know about each workload.

Each workload module defines ``WORKLOAD``, a ``Workload``: its config class (what its own
command reads with ``--config``), a default search space over that config's paths, the
metric, the unit and size of its budget, a Tune trainable, trial resources, and how the
best configuration is written back as a file its command accepts. The tuner's generic
code (``rlsys.tuner.experiment``, ``rlsys tune``) reads only these fields: it knows no
workload's keys.

Training workloads (the job shop, CommFormer, PARL) share one trainable,
``trainer_workload_trial``: a trial's config is ``{"workload": name, "base": <config as a
dict>, <space name>: value, ...}`` plus the tuner's keys; the values land on their config
paths (``rlsys.tuner.space.apply_params``), the budget is PPO/SAC updates, and a promoted
or restored trial continues from a checkpoint (``rlsys.tuner.trainable.trainer_trial``).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

REGISTRY = {
    "jobshop": "rlsys.jobshop.tune",
    "calibration": "rlsys.calibration.tune",
    "commformer": "rlsys.commformer.tune",
    "parl": "rlsys.parl.tune",
}
"""Workload name -> the module that defines its ``WORKLOAD`` (imported on first use)."""


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    description: str
    config_cls: type
    """The workload's config dataclass: what ``--config`` files and ``best.yaml`` hold."""
    default_config: Path | None
    """The config file a sweep starts from when no ``--config`` is given (None: defaults)."""
    space: dict[str, dict[str, Any]]
    """Default search space (plain data, see ``rlsys.tuner.space``) over config paths."""
    metric: str
    mode: str
    budget_unit: str
    """What one unit of budget is (e.g. "PPO updates"); trials report ``iteration`` in it."""
    max_budget: int
    """Budget of a full trial (random/grid/ASHA) and BOHB's largest bracket."""
    budget_key: str | None
    """Config path that the full budget sets (e.g. ``train.total_updates``, which also
    sets the learning-rate schedule), so ``best.yaml`` trains as long as the sweep did."""
    command: str
    """How the best config is used; ``{config}`` stands for the file."""
    baseline: str
    """What the baseline trial runs (the base config, unchanged)."""
    trainable: Callable[[dict], None] | None = None
    """Tune function trainable; None: ``trainer_workload_trial`` (training workloads)."""
    trial: Callable[[Any], tuple[Callable, Callable]] | None = None
    """Training workloads: cfg -> (make_trainer(run_dir, resume), result(metrics) -> dict)."""
    resources: Callable[[Any], Any] | None = None
    """cfg -> the trial's resources (a ``tune.PlacementGroupFactory``, or None); None: one
    CPU."""
    constants: Callable[[Any, Path], dict[str, Any]] | None = None
    """(cfg, run dir) -> what else every trial's config holds (besides ``base``)."""
    write_best: Callable[[Any, dict[str, Any], Path], Path] | None = None
    """(cfg, best params, out dir) -> the file written; None: ``best.yaml`` = the config
    with the best values (and the full budget) applied."""
    load: Callable[[str | Path | None], Any] | None = None
    """path -> base config, when loading needs more than the config file (None: the file)."""
    check: Callable[[Any, dict], None] | None = None
    """(cfg, space) -> None or ValueError; None: every name must be a config path."""
    baseline_params: dict[str, Any] | None = None
    """The baseline's values of the space; None: the base config's own values."""
    min_budget: int | None = None
    eta: int = 3
    proposal_fraction: Callable[[Any], float] | None = None
    """cfg -> BOHB's share of new configurations taken from the trainables' proposals
    (``rlsys.tuner.searchers``); None: none."""
    initial_configs: Callable[[Any], list[dict[str, Any]]] | None = None
    """cfg -> configurations BOHB evaluates first (``ExperimentSpec.initial_configs``);
    None: none."""
    early_stopping: bool = False
    record_keys: tuple[str, ...] = ()
    searches: tuple[str, ...] = ("bohb", "asha", "random", "grid", "pbt")
    mutable: tuple[str, ...] = ()
    """Config paths that may change during a trial (PBT perturbs them; a trial continues
    from a checkpoint with new values): learning rates, loss weights, never shapes. A
    workload without any does not support ``--search pbt``."""

    def load_config(self, path: str | Path | None = None) -> Any:
        """The base config: ``path``, else the default file, else the dataclass defaults."""
        from rlsys.config import load_config

        if self.load is not None:
            return self.load(path)
        path = path or self.default_config
        if path is None:
            return self.config_cls()
        return load_config(self.config_cls, path)

    def check_space(self, cfg: Any, space: dict) -> None:
        """ValueError when a name is not a path of this workload's config or a value is not
        allowed there (every grid point and the range ends are tried)."""
        from rlsys.tuner.space import grid_values_to_try

        if self.check is not None:
            return self.check(cfg, space)
        for params in grid_values_to_try(space):
            self.build(cfg, params, source="space")

    def build(self, cfg: Any, params: dict[str, Any], source: str = "trial") -> Any:
        """The config with ``params`` applied, validated like a config file."""
        from rlsys.config import from_dict
        from rlsys.tuner.space import apply_params

        data = apply_params(dataclasses.asdict(cfg), params, source)
        return from_dict(self.config_cls, data, source=source)

    def baseline_values(self, cfg: Any, space: dict) -> dict[str, Any]:
        """The baseline's values of the space's parameters."""
        if self.baseline_params is not None:
            return {k: v for k, v in self.baseline_params.items() if k in space}
        data = dataclasses.asdict(cfg)
        out = {}
        for name in space:
            node = data
            for key in name.split("."):
                node = node[key]
            out[name] = node
        return out


def workload_names() -> list[str]:
    return list(REGISTRY)


def get_workload(name: str) -> Workload:
    """The registered workload; ValueError naming the known ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown workload {name!r} (known: {', '.join(REGISTRY)})")
    return importlib.import_module(REGISTRY[name]).WORKLOAD


def with_budget(workload: Workload, cfg: Any, budget: int) -> Any:
    """``cfg`` with its budget path set to ``budget`` (unchanged without a budget path)."""
    if workload.budget_key is None:
        return cfg
    return workload.build(cfg, {workload.budget_key: int(budget)}, source="budget")


def trainer_workload_trial(config: dict[str, Any]) -> None:
    """The Tune trainable of every training workload (see the module docstring)."""
    from rlsys.config import from_dict
    from rlsys.tuner.keys import PRIVATE_KEYS
    from rlsys.tuner.trainable import trainer_trial

    workload = get_workload(config["workload"])
    base = from_dict(workload.config_cls, dict(config["base"]), source="base")
    skip = {"workload", "base", *PRIVATE_KEYS}
    cfg = workload.build(base, {k: v for k, v in config.items() if k not in skip})
    make_trainer, result = workload.trial(cfg)
    trainer_trial(
        make_trainer,
        result,
        cfg.train.checkpoint_every,
        cfg.train.total_updates,
        prefix=f"{workload.name}-",
        config=config,
        metric=workload.metric,
    )


def trainer_resources(cfg: Any, learner_cpus: float | None = None) -> Any:
    """A training workload's trial: the learner's bundle (``learner_cpus``, default
    ``cfg.train.learner_num_cpus``, or ``cfg.train.learner_threads`` where that is more
    than 1 and larger: a learner on 2 threads reserves 2 CPUs) plus one per rollout actor;
    the learner's bundle holds a GPU when the cluster has one and the config's ``device``
    is not "cpu" (Tune then shows the trial that GPU, and ``device: auto`` picks it)."""
    import ray

    from rlsys.tuner.trainable import trainer_resources as bundles

    gpus = 0.0
    if getattr(cfg, "device", "cpu") != "cpu" and ray.is_initialized():
        gpus = 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0
    if learner_cpus is None:
        learner_cpus = cfg.train.learner_num_cpus
        if cfg.train.learner_threads > 1:
            # one thread may share a CPU (fractional reservations); several need their own
            learner_cpus = max(learner_cpus, cfg.train.learner_threads)
    return bundles(cfg.train.rollout, learner_cpus, gpus)
