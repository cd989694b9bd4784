"""The one config reader: YAML files -> documented dataclasses, every value checked.

Every config file the project accepts (``rlsys run`` suites, job-shop train configs,
calibration configs, transport scenarios, resumed runs' ``config.yaml``) is read by
:func:`load_config` / :func:`from_dict`. It lives in ``envs`` because the simulators
import nothing from ``rlsys``; ``rlsys.config`` re-exports it.

What a field accepts is declared on the field, nowhere else:

- the type hint: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]`` (the allowed
  values), ``X | None``, ``list[X]``, ``dict[str, X]``, a nested dataclass, or a union
  of those (the YAML value's shape picks the branch: a mapping, a list, a number);
- the range, with :func:`config_field`: ``minibatch_size: int = config_field(256, ge=1)``
  (``gt``, ``ge``, ``lt``, ``le``). On a list, a mapping or a nested dataclass the
  range holds for every number inside it; ``min_len``/``max_len`` bound the entries of
  a list or mapping. ``doc`` documents the field (or a docstring under it, CleanRL
  style); ``key`` is its YAML spelling when that differs (``from``).

A config dataclass derives from :class:`Config`, whose ``__post_init__`` runs
:func:`validate`: ranges, allowed values and types are checked whenever a config is
built, from a file or in Python (``dataclasses.replace`` included). Checks that involve
several fields go in the subclass's ``__post_init__`` (after ``super().__post_init__()``)
and raise ``invalid(self, "<field> ...")``.

The reader is strict: unknown keys, missing required keys, wrong types (``"3"`` is not
an int, ``1`` is not a bool), NaN, infinity and numbers beyond +-1e15 (``MAX_MAGNITUDE``)
are errors. An integer is accepted for a float and an integral float (``4.0``) for an int.

Errors are :class:`ConfigError` (a ``ValueError``) with a one-line message that names
the file, the key path and the bad value::

    configs/x.yaml: train.ppo.minibatch_size must be >= 1, got 0
    configs/x.yaml: train.ppo.vloss_type must be one of 'mse', 'huber', got 'l1'
    PPOConfig: learning_rate must be > 0, got -1            (built in Python)
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import numbers
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from envs.yaml_io import parse_yaml

T = TypeVar("T")
MAX_MAGNITUDE = 1e15
"""No config number is larger; beyond it, sums and products of a few overflow float64."""
_BOUNDS: tuple[tuple[str, str, Any], ...] = (
    ("gt", ">", lambda v, b: v > b),
    ("ge", ">=", lambda v, b: v >= b),
    ("lt", "<", lambda v, b: v < b),
    ("le", "<=", lambda v, b: v <= b),
)


class ConfigError(ValueError):
    """A config file, key or value that does not fit its dataclass (one-line message).

    ``relative`` is the message without its prefix (file or class name), starting at
    the key of the object that raised it, so a reader can put the key path in front.
    """

    def __init__(self, message: str, relative: str | None = None) -> None:
        super().__init__(message)
        self.relative = message if relative is None else relative


def config_field(
    default: Any = dataclasses.MISSING,
    *,
    doc: str = "",
    key: str | None = None,
    label: str | None = None,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    min_len: int | None = None,
    max_len: int | None = None,
) -> Any:
    """A dataclass field with its range (``gt``/``ge``/``lt``/``le``) and documentation.

    ``min_len``/``max_len``: entries of a list or mapping field (its own, not those of
    the lists inside it). A list, dict or dataclass default is copied for every
    instance. ``label``: for a
    list of mappings, a ``str.format`` pattern over an item's keys added to its path in
    messages (``"{from}->{to}"`` gives ``links[3] (3->1).capacity_vph``).
    """
    meta: dict[str, Any] = {"doc": doc}
    limits = (("gt", gt), ("ge", ge), ("lt", lt), ("le", le))
    for name, value in (*limits, ("min_len", min_len), ("max_len", max_len)):
        if value is not None:
            meta[name] = value
    if key is not None:
        meta["key"] = key
    if label is not None:
        meta["label"] = label
    if isinstance(default, list | dict) or (
        dataclasses.is_dataclass(default) and not isinstance(default, type)
    ):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Config:
    """Base of the config dataclasses: an instance is validated when it is built."""

    def __post_init__(self) -> None:
        validate(self)


def invalid(obj: Any, relative: str) -> ConfigError:
    """The error for ``obj`` (a config instance); ``relative`` starts with a field name."""
    return ConfigError(f"{type(obj).__name__}: {relative}", relative)


def validate(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj``; raise :class:`ConfigError`."""
    try:
        _check_fields(obj)
    except _Invalid as exc:
        raise invalid(obj, str(exc)) from None


# --- reading ---------------------------------------------------------------------------


def from_dict(
    cls: type[T], data: Any, source: str = "", error: type[ConfigError] = ConfigError
) -> T:
    """Build dataclass ``cls`` from plain data (parsed YAML), recursing into nested ones.

    ``source`` (e.g. the file name) starts every error message; ``error`` is the
    ConfigError subclass to raise.
    """
    try:
        return _read(cls, data, "")
    except _Invalid as exc:
        raise error(f"{source}: {exc}" if source else str(exc), str(exc)) from None


def load_config(
    cls: type[T],
    path: str | Path | None = None,
    error: type[ConfigError] = ConfigError,
    **overrides: Any,
) -> T:
    """Load ``cls`` from a YAML file (optional; empty = all defaults), then apply
    top-level keyword ``overrides`` (None values are ignored).

    Errors in the file name the file; errors in an override start with ``options:``.
    """
    data: Any = {}
    source = ""
    if path is not None:
        path = Path(path)
        source = str(path)
        data = read_yaml_file(path, error)
        if data is None:
            data = {}
    cfg = from_dict(cls, data, source, error)
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return cfg
    return from_dict(cls, {**data, **given}, "options", error)


def read_yaml_file(
    path: str | Path, error: type[ValueError] = ConfigError, where: str | None = None
) -> Any:
    """The parsed YAML of a file a user named; a one-line ``error`` when it cannot be
    read (missing, not UTF-8, not YAML). ``where`` starts messages (default: the path).
    """
    path = Path(path)
    where = str(path) if where is None else where
    if not path.is_file():
        raise error(f"{where}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{where}: not a UTF-8 text file") from None
    except OSError as exc:
        raise error(f"{where}: cannot read ({exc.strerror or type(exc).__name__})") from None
    return parse_yaml(text, where, error)


class _Invalid(Exception):
    """Internal: a failure, message relative to the object being read or checked."""


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _key(f: dataclasses.Field) -> str:
    return f.metadata.get("key", f.name)


def _read(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise _Invalid(f"{where or 'the file'} must be a mapping, got {_show(data)}")
    hints = _hints(cls)
    fields = {_key(f): f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            name = _join(where, str(key))
            raise _Invalid(f"unknown key {name!r} (valid: {', '.join(fields)})")
    kwargs = {}
    for key, f in fields.items():
        sub = _join(where, key)
        if key not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _Invalid(f"missing key {sub!r}")
            continue
        kwargs[f.name] = _convert(hints[f.name], data[key], sub, f.metadata)
    try:
        obj = cls(**kwargs)
    except ConfigError as exc:  # a range, a choice or a cross-field check of cls
        raise _Invalid(_join(where, exc.relative)) from None
    if not isinstance(obj, Config):  # a plain dataclass: check it here
        _check_fields(obj, where)
    return obj


def _convert(hint: Any, value: Any, where: str, meta: Mapping) -> Any:
    """A YAML value as the field's type (strict about shapes; ranges come later)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for opt in options:
            if opt is not type(None) and _shape_matches(opt, value):
                return _convert(opt, value, where, meta)
        names = " or ".join(_type_name(o) for o in options if o is not type(None))
        raise _Invalid(f"{where} must be {names}, got {_show(value)}")
    if origin is Literal:
        if not _in_literal(hint, value):
            raise _Invalid(f"{where} must be one of {_choices(hint)}, got {_show(value)}")
        return value
    if dataclasses.is_dataclass(hint):
        return _read(hint, value, where)
    if hint is list or origin is list:
        if not isinstance(value, list):
            raise _Invalid(f"{where} must be a list, got {_show(value)}")
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, _item(where, i, v, meta), meta) for i, v in enumerate(value)]
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(f"{where} must be a mapping, got {_show(value)}")
        k_hint, v_hint = typing.get_args(hint) or (Any, Any)
        out = {}
        for k, v in value.items():
            k = _convert(k_hint, k, f"{where} key {_show(k)}", {})
            out[k] = _convert(v_hint, v, _join(where, str(k)), meta)
        return out
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(f"{where} must be true or false, got {_show(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise _Invalid(f"{where} must be a string, got {_show(value)}")
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _Invalid(f"{where} must be an integer, got {_show(value)}")
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _Invalid(f"{where} must be a number, got {_show(value)}")
        try:
            return float(value)
        except OverflowError:  # an int beyond float range
            raise _Invalid(
                f"{where} must be within +-{MAX_MAGNITUDE:g}, got {_show_number(value)}"
            ) from None
    raise TypeError(f"unsupported config field type {hint!r}")  # a bug here, not the user's


# --- checking --------------------------------------------------------------------------


def _check_fields(obj: Any, where: str = "") -> None:
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        _check(hints[f.name], getattr(obj, f.name), _join(where, _key(f)), f.metadata)


def _check(hint: Any, value: Any, where: str, meta: Mapping) -> None:
    """Type (leniently: numpy scalars, tuples for lists), choices, finiteness, range."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return
        for opt in options:
            if opt is not type(None) and _is_instance(opt, value):
                return _check(opt, value, where, meta)
        names = " or ".join(_type_name(o) for o in options if o is not type(None))
        raise _Invalid(f"{where} must be {names}, got {_show(value)}")
    if origin is Literal:
        if not _in_literal(hint, value):
            raise _Invalid(f"{where} must be one of {_choices(hint)}, got {_show(value)}")
        return
    if not _is_instance(hint, value):
        raise _Invalid(f"{where} must be {_type_name(hint)}, got {_show(value)}")
    if "min_len" in meta or "max_len" in meta:
        _check_length(value, where, meta)
        meta = {k: v for k, v in meta.items() if k not in ("min_len", "max_len")}
    if dataclasses.is_dataclass(hint):
        if any(b in meta for b, _, _ in _BOUNDS):  # the field's range covers its numbers
            for f in dataclasses.fields(value):
                _check_numbers(getattr(value, f.name), _join(where, _key(f)), meta)
        return
    if hint is list or origin is list or origin is tuple:
        args = typing.get_args(hint)
        item = args[0] if args else Any
        for i, v in enumerate(value):
            _check(item, v, _item(where, i, v, meta), meta)
        return
    if hint is dict or origin is dict:
        k_hint, v_hint = typing.get_args(hint) or (Any, Any)
        for k, v in value.items():
            _check(k_hint, k, f"{where} key {_show(k)}", {})
            _check(v_hint, v, _join(where, str(k)), meta)
        return
    if hint in (int, float):
        _check_number(value, where, meta)


def _check_length(value: Any, where: str, meta: Mapping) -> None:
    n = len(value)
    lo, hi = meta.get("min_len"), meta.get("max_len")
    if lo is not None and hi == lo and n != lo:
        raise _Invalid(f"{where} must have {lo} entries, got {_show(value)}")
    if lo is not None and n < lo:
        raise _Invalid(f"{where} must have at least {lo} entries, got {_show(value)}")
    if hi is not None and n > hi:
        raise _Invalid(f"{where} must have at most {hi} entries, got {_show(value)}")


def _check_numbers(value: Any, where: str, meta: Mapping) -> None:
    """The range of ``meta`` on every number inside ``value``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        _check_number(value, where, meta)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_numbers(v, f"{where}[{i}]", meta)


def _check_number(value: Any, where: str, meta: Mapping) -> None:
    if not isinstance(value, numbers.Integral) and not math.isfinite(value):
        raise _Invalid(f"{where} must be finite, got {value}")
    for name, op, ok in _BOUNDS:
        bound = meta.get(name)
        if bound is not None and not ok(value, bound):
            raise _Invalid(f"{where} must be {op} {bound}, got {_show_number(value)}")
    if abs(value) > MAX_MAGNITUDE:
        raise _Invalid(f"{where} must be within +-{MAX_MAGNITUDE:g}, got {_show_number(value)}")


def _show_number(value: Any) -> str:
    if isinstance(value, numbers.Integral) and abs(value) < 10**15:
        return str(value)
    try:
        return f"{value:g}" if isinstance(value, float) else f"{float(value):.3g}"
    except OverflowError:  # an int beyond float range
        return f"an integer of {len(str(abs(value)))} digits"


def _is_instance(hint: Any, value: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return _in_literal(hint, value)
    if dataclasses.is_dataclass(hint):
        return isinstance(value, hint)
    if hint in (list, tuple) or origin in (list, tuple):
        return isinstance(value, list | tuple)
    if hint is dict or origin is dict:
        return isinstance(value, Mapping)
    if hint is bool:
        return isinstance(value, bool | np.bool_)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    return isinstance(value, origin or hint)


def _shape_matches(hint: Any, value: Any) -> bool:
    """Does a YAML value have the shape of ``hint`` (picks a union's branch)?"""
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if hint in (int, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return _is_instance(hint, value)


def _in_literal(hint: Any, value: Any) -> bool:
    # 1 == True: a choice matches only a value of its own type
    return any(type(value) is type(c) and value == c for c in typing.get_args(hint))


def _choices(hint: Any) -> str:
    return ", ".join(repr(c) for c in typing.get_args(hint))


def _item(where: str, i: int, value: Any, meta: Mapping) -> str:
    label = f"{where}[{i}]"
    pattern = meta.get("label")
    if pattern and isinstance(value, Mapping):
        try:
            label += f" ({pattern.format(**{str(k): v for k, v in value.items()})})"
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            pass
    return label


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) or hint is dict or origin is dict:
        return "a mapping"
    if hint in (list, tuple) or origin in (list, tuple):
        return "a list"
    if origin is Literal:
        return f"one of {_choices(hint)}"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
