"""Typed search spaces: the one description every search method and workload reads.

A space is a mapping from a hyperparameter name to a ``Param``. Names are the workload's
own config paths (``train.ppo.learning_rate``), so a sampled configuration applies to the
workload's config file as it is and the best one can be written back as a YAML that the
workload's command accepts. As plain data (a workload's default, or a ``--space`` file)::

    train.ppo.learning_rate: {type: loguniform, low: 1.0e-4, high: 3.0e-3}
    train.ppo.ent_coef:      {type: uniform, low: 0.0, high: 0.05}
    policy.layers:           {type: int, low: 2, high: 5}           # both ends included
    policy.hidden:           {type: choice, values: [32, 64, 128]}
    train.seed:              {type: fixed, value: 0}

Grid search enumerates ``choice`` values, every integer of an ``int`` range (at most
``GRID_MAX_INTS``) and ``grid`` points of a float range (``grid: 3`` by default:
both ends and the middle; log-spaced for ``loguniform``).

The same space becomes Ray Tune domains (``tune_domains``), a ConfigSpace for hpbandster's
BOHB (``config_space``), seeded random samples (``sample``) and a grid (``grid``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np

TYPES = ("uniform", "loguniform", "int", "choice", "fixed")
GRID_MAX_INTS = 16
_FIELDS = {
    "uniform": {"low", "high", "grid"},
    "loguniform": {"low", "high", "grid"},
    "int": {"low", "high"},
    "choice": {"values"},
    "fixed": {"value"},
}


@dataclasses.dataclass(frozen=True)
class Param:
    """One hyperparameter: its type and range (see the module docstring)."""

    type: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()
    value: Any = None
    grid: int = 3

    def cast(self, x: Any) -> Any:
        """A value as the type it has in the workload's config (BOHB hands out floats)."""
        if self.type == "int":
            return int(round(float(x)))
        if self.type in ("uniform", "loguniform"):
            return float(x)
        if self.type == "choice":
            # ConfigSpace may return numpy scalars or strings of the values
            for v in self.values:
                if v == x or str(v) == str(x):
                    return v
            raise ValueError(f"{x!r} is not one of {list(self.values)}")
        return self.value

    def grid_values(self) -> list:
        if self.type == "choice":
            return list(self.values)
        if self.type == "fixed":
            return [self.value]
        if self.type == "int":
            return list(range(int(self.low), int(self.high) + 1))
        if self.type == "loguniform":
            return [float(v) for v in np.geomspace(self.low, self.high, self.grid)]
        return [float(v) for v in np.linspace(self.low, self.high, self.grid)]

    def to_data(self) -> dict[str, Any]:
        if self.type == "choice":
            return {"type": "choice", "values": list(self.values)}
        if self.type == "fixed":
            return {"type": "fixed", "value": self.value}
        data = {"type": self.type, "low": self.low, "high": self.high}
        if self.type != "int" and self.grid != 3:
            data["grid"] = self.grid
        return data


Space = dict[str, Param]


def _number(name: str, key: str, x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{name}.{key} must be a finite number, got {x!r}")
    return float(x)


def parse_param(name: str, data: Any) -> Param:
    """One parameter from plain data; ValueError with one line naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"{name} must be a mapping with a 'type', got {data!r}")
    kind = data.get("type")
    if kind not in TYPES:
        raise ValueError(f"{name}.type must be one of {', '.join(TYPES)}, got {kind!r}")
    unknown = set(data) - _FIELDS[kind] - {"type"}
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {', '.join(sorted(unknown))} for type {kind}")
    missing = _FIELDS[kind] - set(data) - {"grid"}
    if missing:
        raise ValueError(f"{name}: missing {', '.join(sorted(missing))} for type {kind}")
    if kind == "choice":
        values = data["values"]
        if not isinstance(values, list) or not values:
            raise ValueError(f"{name}.values must be a non-empty list, got {values!r}")
        if len({repr(v) for v in values}) != len(values):
            raise ValueError(f"{name}.values has duplicates: {values}")
        return Param("choice", values=tuple(values))
    if kind == "fixed":
        return Param("fixed", value=data["value"])
    low, high = _number(name, "low", data["low"]), _number(name, "high", data["high"])
    if not low < high:
        raise ValueError(f"{name}: empty range [{data['low']}, {data['high']}] (need low < high)")
    if kind == "loguniform" and low <= 0:
        raise ValueError(f"{name}: loguniform needs low > 0, got {data['low']}")
    if kind == "int":
        if low != int(low) or high != int(high):
            raise ValueError(
                f"{name}: int bounds must be integers, got {data['low']}, {data['high']}"
            )
        return Param("int", low=int(low), high=int(high))
    grid = data.get("grid", 3)
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"{name}.grid must be an integer >= 2, got {grid!r}")
    return Param(kind, low=low, high=high, grid=grid)


def parse_space(data: Any, source: str = "space") -> Space:
    """A space from plain data (a mapping name -> parameter); errors name ``source``."""
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{source}: a search space must be a non-empty mapping, got {data!r}")
    out = {}
    for name, spec in data.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{source}: parameter names must be strings, got {name!r}")
        try:
            out[name] = parse_param(name, spec)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    return out


def space_data(space: Space) -> dict[str, dict[str, Any]]:
    """The inverse of ``parse_space`` (for the run directory's config)."""
    return {name: p.to_data() for name, p in space.items()}


def searched(space: Space) -> list[str]:
    """The names that vary (not ``fixed``)."""
    return [n for n, p in space.items() if p.type != "fixed"]


def changing(space: Space, mutable: tuple[str, ...] | list[str]) -> list[str]:
    """The searched names that may change during a trial (PBT perturbs these)."""
    return [n for n in searched(space) if n in mutable]


def clip(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """``config``'s values of the space's ranged parameters (uniform, loguniform, int),
    clipped to their ranges and cast; other names are left out."""
    return {
        n: p.cast(min(max(float(config[n]), p.low), p.high))
        for n, p in space.items()
        if n in config and p.type in ("uniform", "loguniform", "int")
    }


def cast(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """The space's values of ``config`` as their config types; fixed ones filled in."""
    return {n: p.cast(config[n]) if p.type != "fixed" else p.value for n, p in space.items()}


def to_configspace_values(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``cast``: values as ``config_space`` holds them (choices as strings)."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if p.type == "fixed" or name not in config:
            continue
        out[name] = str(p.cast(config[name])) if p.type == "choice" else p.cast(config[name])
    return out


def sample(space: Space, rng: np.random.Generator) -> dict[str, Any]:
    """One configuration drawn uniformly (log-uniformly for ``loguniform``)."""
    out: dict[str, Any] = {}
    for name, p in space.items():
        if p.type == "uniform":
            out[name] = float(rng.uniform(p.low, p.high))
        elif p.type == "loguniform":
            out[name] = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
        elif p.type == "int":
            out[name] = int(rng.integers(p.low, p.high + 1))
        elif p.type == "choice":
            out[name] = p.values[int(rng.integers(len(p.values)))]
        else:
            out[name] = p.value
    return out


def grid(space: Space) -> list[dict[str, Any]]:
    """Every combination of the parameters' grid values, in a fixed order."""
    for name, p in space.items():
        if p.type == "int" and p.high - p.low + 1 > GRID_MAX_INTS:
            raise ValueError(
                f"{name}: int range [{p.low}, {p.high}] has more than {GRID_MAX_INTS} values "
                "for a grid; use a choice"
            )
    names = list(space)
    values = [space[n].grid_values() for n in names]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def config_space(space: Space, seed: int) -> Any:
    """The space as a seeded ConfigSpace (for hpbandster's BOHB and random sampling)."""
    import warnings

    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for name, p in space.items():
            if p.type in ("uniform", "loguniform"):
                hp = CS.UniformFloatHyperparameter(
                    name, lower=p.low, upper=p.high, log=p.type == "loguniform"
                )
            elif p.type == "int":
                hp = CS.UniformIntegerHyperparameter(name, lower=p.low, upper=p.high)
            elif p.type == "choice":
                hp = CS.CategoricalHyperparameter(name, choices=[str(v) for v in p.values])
            else:
                continue  # fixed values are added back by ``cast``
            cs.add(hp)
    return cs


def tune_domains(space: Space) -> dict[str, Any]:
    """The space as Ray Tune sampling domains (for trainables run by Tune directly)."""
    from ray import tune

    out: dict[str, Any] = {}
    for name, p in space.items():
        if p.type == "uniform":
            out[name] = tune.uniform(p.low, p.high)
        elif p.type == "loguniform":
            out[name] = tune.loguniform(p.low, p.high)
        elif p.type == "int":
            out[name] = tune.randint(p.low, p.high + 1)
        elif p.type == "choice":
            out[name] = tune.choice(list(p.values))
        else:
            out[name] = p.value
    return out


def apply_params(data: dict[str, Any], params: dict[str, Any], source: str = "space") -> dict:
    """A copy of the nested config ``data`` with each dotted ``params`` name set to its
    value (``train.ppo.learning_rate``). Unknown names are left for the strict config
    reader to reject; a name through a value that is not a mapping is rejected here."""
    import copy

    out = copy.deepcopy(data)
    for name, value in params.items():
        node = out
        *parents, leaf = name.split(".")
        for i, key in enumerate(parents):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                path = ".".join(parents[: i + 1])
                raise ValueError(f"{source}: {name}: {path} is not a section of the config")
            node = child
        node[leaf] = value
    return out


def grid_values_to_try(space: Space) -> list[dict[str, Any]]:
    """Configurations that check a space against a config: every value of each
    parameter's grid (both ends of a range) in turn, the others at their first value."""
    first = {n: p.grid_values()[0] for n, p in space.items()}
    out = [dict(first)]
    for name, p in space.items():
        values = p.grid_values() if p.type in ("choice", "fixed") else [p.low, p.high]
        for v in values:
            out.append({**first, name: p.cast(v)})
    return out


def uniform_box(bounds: dict[str, tuple[float, float]]) -> Space:
    """A space of independent uniform floats (calibration's ASC box)."""
    return {n: Param("uniform", low=float(lo), high=float(hi)) for n, (lo, hi) in bounds.items()}
