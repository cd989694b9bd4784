"""One config system: dataclasses with documented fields, loaded from YAML.

Unknown keys and wrong types are errors that name the key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from envs.yaml_io import parse_yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit its dataclass."""


def from_dict(cls: type[T], data: dict[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a plain dict, recursing into nested dataclasses."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}{key}: unknown key (known: {known})")
        hint = _unwrap_optional(hints[key])
        if value is None and hint is not hints[key]:
            kwargs[key] = None
        elif dataclasses.is_dataclass(hint):
            kwargs[key] = from_dict(hint, value, where=f"{where}{key}.")
        else:
            kwargs[key] = _coerce(value, hint, f"{where}{key}")
    return cls(**kwargs)


def _unwrap_optional(hint: Any) -> Any:
    """``X | None`` -> ``X`` (other hints unchanged)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
        return value
    if origin in (list, tuple) and not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    return value


def load_config(cls: type[T], path: str | Path | None = None, **overrides: Any) -> T:
    """Load ``cls`` from a YAML file (optional), then apply keyword overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"{path}: config file not found")
        data = parse_yaml(path.read_text(), str(path), ConfigError) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(cls, data, where=f"{path}: " if path else "")
