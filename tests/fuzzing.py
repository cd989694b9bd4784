"""Shared pieces of the property-based tests over the files users hand in (``fuzz`` marker).

Each ``test_*_fuzz.py`` writes generated files into a fresh temporary directory, runs
the command a user would (``rlsys.cli.main([...])`` in-process) or, where the command
would start expensive work (Ray, training, a calibration), the loader that command
uses, and checks the property of issue 9: the command ends with a valid result or a
one-line error (exit 2 and one ``rlsys: error:`` line; a ``ValueError`` with a one-line
message), never a traceback, and nothing on disk is overwritten.

Generated inputs are of two kinds: structured but wrong (a shipped file with one value
replaced, a key dropped or an unknown key added; wrong types, negative, NaN, infinite
and huge numbers, unicode, empty files) and random text or bytes. Examples are
deterministic (``derandomize``) so a failure reproduces; ``RLSYS_FUZZ_SCALE=10`` tries
ten times as many. ``TRIED`` counts the inputs per file type; the terminal summary of a
pytest run prints it (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import math
import os
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("RLSYS_FUZZ_SCALE", "1"))
TRIED: Counter[str] = Counter()
"""Generated inputs tried in this pytest run, per file type."""


def fuzz_settings(examples: int) -> settings:
    """``examples`` (times RLSYS_FUZZ_SCALE) deterministic examples, no deadline."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- values ----------------------------------------------------------------------------

EDGE_NUMBERS = [
    0,
    1,
    -1,
    2,
    3,
    0.5,
    -0.5,
    1e-300,
    1e308,
    -1e308,
    10**9,
    10**18,
    2**63,
    -(2**63) - 1,
    10**30,
    10**400,
    math.nan,
    math.inf,
    -math.inf,
]
"""Numbers that break readers: zero, negatives, denormal, beyond int64 and beyond float
(10**400), NaN, infinity."""

EDGE_STRINGS = [
    "",
    " ",
    "x",
    "mse",
    "car",
    "ft06",
    "0-9",
    "\u00e9\u6f22\u5b57",
    "\U0001f600",
    "\x00",
]

scalars = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.sampled_from(EDGE_NUMBERS),
    st.none() | st.booleans(),
    st.integers(-5, 30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=12),
)
"""One YAML/JSON scalar of any type; edge numbers are drawn most, small integers
often enough that values are sometimes right."""

keys = st.one_of(st.text(max_size=10), st.sampled_from(["", "model", "meta", "from", "to"]))

values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
"""Nested lists and mappings of scalars."""

replacements = st.one_of(st.sampled_from(EDGE_NUMBERS), scalars, values)
"""What a mutation puts in place of a value: an edge number, a scalar or a structure."""


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indices) to a node of a nested dict/list structure."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _at(node: Any, path: tuple) -> Any:
    for step in path:
        node = node[step]
    return node


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


ACTIONS = ["number", "number", "number", "replace", "replace", "drop", "add", "wrap", "dup"]


@st.composite
def mutated(draw: st.DrawFn, base: Any, rounds: int = 3) -> Any:
    """``base`` with 1..rounds edits: a number replaced by an edge number (most often),
    a value replaced by anything, a key dropped, an unknown key added, a value wrapped
    in a list, a list entry duplicated."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, rounds))):
        action = draw(st.sampled_from(ACTIONS))
        paths = _paths(data)[1:]
        if action == "number":  # same type, edge value: reaches the range checks
            paths = [p for p in paths if _is_number(_at(data, p))]
        if not paths:
            data = draw(replacements) if action == "replace" else data
            continue
        path = draw(st.sampled_from(paths))
        parent = _at(data, path[:-1])
        last = path[-1]
        if action == "number":
            parent[last] = draw(st.sampled_from(EDGE_NUMBERS) | st.integers(-2, 12))
        elif action == "replace":
            parent[last] = draw(replacements)
        elif action == "drop":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(replacements)
        elif action == "add":
            parent.append(draw(replacements))
        elif action == "wrap":
            parent[last] = [parent[last]]
        elif action == "dup" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[last]))
    return data


texts = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="0123456789 -.\n#:,[]{}e", max_size=200),
    st.sampled_from(["", "\n", " ", "\x00", "\ufeff", "---\n...\n", "\t\n\t"]),
)
"""Random text: arbitrary unicode, digits and punctuation, blank and odd files."""

YAML_NASTIES = [
    "a: 2021-02-30\n",
    "a: " + "9" * 5000 + "\n",
    "[" * 600,
    "&a [*a]\n",
    "a: !!python/object/apply:os.system ['true']\n",
    "a: b: c\n",
    "? [1, 2]\n: 3\n",
    "%YAML 9.9\n---\na: 1\n",
    "a: *missing\n",
]
"""YAML that PyYAML cannot build: invalid dates, 5,000-digit integers, deep nesting,
self-reference, python tags, nested mappings on one line, complex keys, bad anchors."""

yaml_texts = st.one_of(texts, st.sampled_from(YAML_NASTIES))


# --- running and checking ---------------------------------------------------------------


class Hang(Exception):
    """A command that ran past its time limit on a tiny input."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (a hang fails the property)."""

    def expire(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(argv: list[str], limit_s: float = 60.0) -> tuple[int, str, str]:
    """``rlsys.cli.main(argv)`` in-process: (exit code, stdout, stderr).

    Any exception other than the CLI's own handling propagates: a traceback for the
    user is a failure of the property, and so is a run past ``limit_s``.
    """
    from rlsys.cli import main

    out, err = io.StringIO(), io.StringIO()
    debug = os.environ.pop("RLSYS_DEBUG", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            with time_limit(limit_s):
                code = main(argv)
    finally:
        if debug is not None:
            os.environ["RLSYS_DEBUG"] = debug
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str) -> str:
    """Exit 2 with exactly one ``rlsys: error:`` line (returned)."""
    lines = err.strip().splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith("rlsys: error: "), err
    return lines[0]


def one_line_value_error(fn, *args, **kwargs) -> tuple[Any, str | None]:
    """(result, None) or (None, message) when ``fn`` raises a ValueError with a one-line,
    non-empty message; any other exception propagates."""
    try:
        return fn(*args, **kwargs), None
    except ValueError as exc:
        message = str(exc)
        assert message.strip() and "\n" not in message, repr(message)
        return None, message


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every file under ``folder``."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            out[str(path)] = (
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_mtime_ns,
            )
    return out


def assert_untouched(before: dict[str, tuple[str, int]], folder: Path) -> None:
    """Every file of ``before`` still exists with the same bytes and mtime."""
    after = snapshot(folder)
    for path, state in before.items():
        assert after.get(path) == state, f"{path} was changed or removed"


def write_input(path: Path, content: str | bytes) -> Path:
    """Write a generated file (text as UTF-8, bytes as they are)."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    return path
