"""Random machine shutdowns, drawn independently of any scheduling decision.

Each machine that is up fails with probability ``prob`` per time unit: after coming up
at time ``u`` it stays up for G ~ Geometric(prob) >= 1 time units, so it fails at ``u + G``;
then it is down for a sampled repair time R >= 1 and comes up at ``u + G + R``. Idle
machines fail too, so a machine's downtime path is a function of (seed, machine) only:
every policy sees the same disruption sample path for the same seed (common random
numbers). Each machine has its own random stream, generated lazily in chunks.

Intervals are half-open: a machine failing at ``a`` and repaired at ``b`` is down on
``[a, b)``; an operation may start at ``b`` but not at ``a``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.jobshop import kernels

_CHUNK = 64
_MAX_CHUNKS = 8  # the most chunks drawn at once (the path drawn ahead grows with its length)


@dataclass(frozen=True)
class RepairTime:
    """Repair-time distribution in time units: ``uniform`` on the integers
    [low, high], ``constant`` (= low) or ``geometric`` with mean ``low``."""

    kind: str = "uniform"
    low: int = 1
    high: int = 10

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "constant", "geometric"):
            raise ValueError(
                f"repair kind must be uniform, constant or geometric, not {self.kind!r}"
            )
        if self.low < 1 or (self.kind == "uniform" and self.high < self.low):
            raise ValueError(f"repair time needs 1 <= low <= high, got {self.low}..{self.high}")

    @classmethod
    def parse(cls, text: str) -> RepairTime:
        """``uniform:1:10``, ``constant:5`` or ``geometric:8``."""
        parts = text.split(":")
        try:
            if parts[0] == "uniform" and len(parts) == 3:
                return cls("uniform", int(parts[1]), int(parts[2]))
            if parts[0] in ("constant", "geometric") and len(parts) == 2:
                return cls(parts[0], int(parts[1]), int(parts[1]))
        except ValueError:
            pass
        raise ValueError(
            f"bad repair time {text!r}: use uniform:LOW:HIGH, constant:V or geometric:MEAN"
        )

    def sample(self, rng: np.random.Generator, size) -> np.ndarray:
        if self.kind == "uniform":
            return rng.integers(self.low, self.high + 1, size=size)
        if self.kind == "constant":
            return np.full(size, self.low, dtype=np.int64)
        return rng.geometric(1.0 / self.low, size=size)


def _copy_generator(rng: np.random.Generator) -> np.random.Generator:
    bit_generator = type(rng.bit_generator)()
    bit_generator.state = rng.bit_generator.state
    return np.random.Generator(bit_generator)


class ShutdownProcess:
    """Downtime intervals of ``n_machines`` machines for one seed.

    ``down_until(i, t)`` must be called with non-decreasing ``t`` per machine (the
    simulation clock); ``finish_time`` may look ahead freely.

    The intervals drawn so far are numpy arrays that the compiled event loop reads:
    machine i's k-th interval is ``[starts[i, k], ends[i, k])`` for ``k < count[i]``, and
    ``ptr[i]`` is the first one that may still matter at the clock.
    """

    def __init__(
        self, n_machines: int, prob: float, seed: int, repair: RepairTime | None = None
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"shutdown probability must be in [0, 1], got {prob}")
        if prob == 1.0:
            raise ValueError("shutdown probability 1 means machines are never up")
        self.n_machines = n_machines
        self.prob = float(prob)
        self.seed = int(seed)
        self.repair = repair or RepairTime()
        self.starts = np.zeros((n_machines, 0), dtype=np.int64)
        self.ends = np.zeros((n_machines, 0), dtype=np.int64)
        self.count = np.zeros(n_machines, dtype=np.int64)
        self.ptr = np.zeros(n_machines, dtype=np.int64)
        self.active = self.prob > 0.0
        self._rngs: tuple[np.random.Generator, np.random.Generator] | None = None
        # the next generated interval of machine i starts its up-time at
        # max(its last repair, origin[i]); 0 except in a `resampled` future
        self._origin = np.zeros(n_machines, dtype=np.int64)
        if self.active:
            self._extend(0)

    def copy(self) -> ShutdownProcess:
        """An independent copy with the same path (and the same clock position)."""
        new = object.__new__(ShutdownProcess)
        new.__dict__.update(self.__dict__)
        for name in ("starts", "ends", "count", "ptr", "_origin"):
            setattr(new, name, getattr(self, name).copy())
        if self._rngs is not None:  # the same stream position (5x faster than deepcopy)
            new._rngs = tuple(_copy_generator(g) for g in self._rngs)
        return new

    def resampled(self, t: int, seed: int) -> ShutdownProcess:
        """The same past and a freshly sampled future from time ``t`` on.

        What a scheduler knows at ``t`` is kept: every interval that started at or before
        ``t``, so a machine that is down now stays down until its (known) repair time. A
        machine that is up at ``t`` fails next at ``t + G``, G ~ Geometric(prob) >= 1: the
        up-time is memoryless, so this is the exact conditional law given the past. The
        future is drawn from ``seed``'s stream, never from this process's own."""
        new = ShutdownProcess(self.n_machines, 0.0, seed, self.repair)
        new.prob, new.active = self.prob, self.active
        if not self.active:
            return new
        kept = [self._n_before(i, t + 1) for i in range(self.n_machines)]  # start <= t
        new._reserve(max(kept))
        for i, k in enumerate(kept):
            new.starts[i, :k] = self.starts[i, :k]
            new.ends[i, :k] = self.ends[i, :k]
        new.count[:] = kept
        new.ptr[:] = np.minimum(self.ptr, kept)
        new._origin[:] = t
        new._extend(0)
        return new

    def set_intervals(self, i: int, intervals: list[tuple[int, int]]) -> None:
        """Replace machine i's intervals drawn so far (sorted, disjoint, half-open); the
        random stream continues after the last one. For hand-made downtime."""
        self._reserve(len(intervals))
        self.starts[i, : len(intervals)] = [a for a, _ in intervals]
        self.ends[i, : len(intervals)] = [b for _, b in intervals]
        self.count[i] = len(intervals)

    def _reserve(self, size: int) -> None:
        """Grow the interval arrays to hold ``size`` per machine (amortised doubling)."""
        cap = self.starts.shape[1]
        if size <= cap:
            return
        cap = max(size, 2 * cap)
        for name in ("starts", "ends"):
            grown = np.zeros((self.n_machines, cap), dtype=np.int64)
            old = getattr(self, name)
            grown[:, : old.shape[1]] = old
            setattr(self, name, grown)

    def _extend(self, i: int) -> None:
        """Append the next chunks of every machine's downtime intervals.

        Chunk c always holds the same values for machine i (row i of the c-th draw of two
        streams, up-times and repair times), so the path does not depend on the order in
        which machines are queried. A long path is drawn several chunks at a time (one
        draw of shape (chunks, m, _CHUNK) is the same stream as that many draws of
        (m, _CHUNK)), so a long episode stops the compiled loop for more intervals a few
        times instead of once per chunk; only how far ahead the path is drawn changes."""
        if self._rngs is None:
            up_seq, repair_seq = np.random.SeedSequence(self.seed).spawn(2)
            self._rngs = (np.random.default_rng(up_seq), np.random.default_rng(repair_seq))
        m = self.n_machines
        chunks = min(max(int(self.count.min()) // _CHUNK, 1), _MAX_CHUNKS)
        size = chunks * _CHUNK

        def rows(draw: np.ndarray) -> np.ndarray:  # (chunks, m, C) -> (m, chunks * C)
            return draw.transpose(1, 0, 2).reshape(m, size)

        up = rows(self._rngs[0].geometric(self.prob, size=(chunks, m, _CHUNK)))
        rep = rows(self.repair.sample(self._rngs[1], (chunks, m, _CHUNK)))
        c = int(self.count[0])
        same = bool((self.count == c).all())  # always, except in a `resampled` future
        if same:
            last_end = self.ends[:, c - 1] if c else np.zeros(m, dtype=np.int64)
        else:
            last_end = np.array(
                [self.ends[i, k - 1] if k else 0 for i, k in enumerate(self.count.tolist())]
            )
        base = np.maximum(last_end, self._origin)[:, None]
        # fail_k = up_since_k + G_k, up_since_{k+1} = fail_k + R_k
        ends = base + np.cumsum(up + rep, axis=1)
        starts = ends - rep
        self._reserve(int(self.count.max()) + size)
        if same:
            self.starts[:, c : c + size] = starts
            self.ends[:, c : c + size] = ends
        else:
            for row, k in enumerate(self.count.tolist()):
                self.starts[row, k : k + size] = starts[row]
                self.ends[row, k : k + size] = ends[row]
        self.count += size

    def safe_until(self, work: int, resume: bool) -> int:
        """The latest clock time at which the intervals drawn so far answer, on every
        machine, ``down_until`` and the ``finish_time`` of any work <= ``work`` starting
        then (the compiled loop stops there and asks for more)."""
        return kernels.safe_until(self.starts, self.ends, self.count, work, resume)

    def down_until(self, i: int, t: int) -> int:
        """Repair time of machine i if it is down at time t, else -1."""
        if not self.active:
            return -1
        while self.ends[i, self.count[i] - 1] <= t:
            self._extend(i)
        return int(kernels.down_until(self.starts, self.ends, self.count, self.ptr, i, t))

    def finish_time(self, i: int, start: int, work: int, resume: bool = True) -> int:
        """When ``work`` time units of processing started at ``start`` on machine i end.

        resume=True: an interrupted operation resumes its remaining work after repair;
        resume=False: it restarts from zero.
        """
        if not self.active or work == 0:
            return start + work
        while True:
            end = kernels.finish_time(
                self.starts, self.ends, self.count, self.ptr, i, start, work, resume
            )
            if end >= 0:
                return int(end)
            self._extend(i)

    def down_between(self, i: int, lo: int, hi: int) -> int:
        """Time units machine i is down within ``[lo, hi)`` (the overlap of ``[lo, hi)``
        with the intervals that start before ``hi``)."""
        if not self.active or hi <= lo:
            return 0
        last = self._n_before(i, hi)
        first = int(np.searchsorted(self.ends[i, :last], lo, side="right"))  # ends sorted
        ends, starts = self.ends[i, first:last], self.starts[i, first:last]
        overlap = np.minimum(ends, hi) - np.maximum(starts, lo)
        return int(np.maximum(overlap, 0).sum())

    def intervals(self, i: int, until: int) -> list[tuple[int, int]]:
        """Machine i's downtime intervals that start before ``until``."""
        if not self.active:
            return []
        k = self._n_before(i, until)
        return list(zip(self.starts[i, :k].tolist(), self.ends[i, :k].tolist(), strict=True))

    def schedule_downtime(self, until: int) -> list[dict]:
        """Every machine's intervals that start before ``until`` as a schedule's
        ``downtime`` list (``{"machine", "start", "end"}``, the contract of the validator)."""
        return [
            {"machine": i, "start": a, "end": b}
            for i in range(self.n_machines)
            for a, b in self.intervals(i, until)
        ]

    def _n_before(self, i: int, until: int) -> int:
        """How many of machine i's intervals start before ``until`` (drawing the path
        until one starts at or after it, so the count is final)."""
        while self.count[i] == 0 or self.starts[i, self.count[i] - 1] < until:
            self._extend(i)
        return int(np.searchsorted(self.starts[i, : self.count[i]], until, side="left"))
