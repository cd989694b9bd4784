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

import bisect
import copy
from dataclasses import dataclass

import numpy as np

_CHUNK = 64


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


class ShutdownProcess:
    """Downtime intervals of ``n_machines`` machines for one seed.

    ``down_until(i, t)`` must be called with non-decreasing ``t`` per machine (the
    simulation clock); ``finish_time`` may look ahead freely.
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
        self.starts: list[list[int]] = [[] for _ in range(n_machines)]
        self.ends: list[list[int]] = [[] for _ in range(n_machines)]
        self._ptr = [0] * n_machines
        self.active = self.prob > 0.0
        self._rngs: tuple[np.random.Generator, np.random.Generator] | None = None
        # the next generated interval of machine i starts its up-time at
        # max(its last repair, origin[i]); 0 except in a `resampled` future
        self._origin = [0] * n_machines
        if self.active:
            self._extend(0)

    def copy(self) -> ShutdownProcess:
        """An independent copy with the same path (and the same clock position)."""
        new = object.__new__(ShutdownProcess)
        new.__dict__.update(self.__dict__)
        new.starts = [list(s) for s in self.starts]
        new.ends = [list(e) for e in self.ends]
        new._ptr = list(self._ptr)
        new._origin = list(self._origin)
        if self._rngs is not None:
            new._rngs = tuple(copy.deepcopy(g) for g in self._rngs)
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
        for i in range(self.n_machines):
            past = self.intervals(i, t + 1)
            new.starts[i] = [a for a, _ in past]
            new.ends[i] = [b for _, b in past]
            new._ptr[i] = min(self._ptr[i], len(past))
        new._origin = [t] * self.n_machines
        new._extend(0)
        return new

    def _extend(self, i: int) -> None:
        """Append the next chunk of every machine's downtime intervals.

        Chunk c always holds the same values for machine i (row i of the c-th draw of two
        streams, up-times and repair times), so the path does not depend on the order in
        which machines are queried."""
        if self._rngs is None:
            up_seq, repair_seq = np.random.SeedSequence(self.seed).spawn(2)
            self._rngs = (np.random.default_rng(up_seq), np.random.default_rng(repair_seq))
        m = self.n_machines
        up = self._rngs[0].geometric(self.prob, size=(m, _CHUNK))
        rep = self.repair.sample(self._rngs[1], (m, _CHUNK))
        base = np.array(
            [max(e[-1] if e else 0, o) for e, o in zip(self.ends, self._origin, strict=True)]
        )[:, None]
        # fail_k = up_since_k + G_k, up_since_{k+1} = fail_k + R_k
        ends = base + np.cumsum(up + rep, axis=1)
        starts = ends - rep
        for row, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            self.starts[row].extend(s)
            self.ends[row].extend(e)

    def down_until(self, i: int, t: int) -> int:
        """Repair time of machine i if it is down at time t, else -1."""
        if not self.active:
            return -1
        p = self._ptr[i]
        ends = self.ends[i]
        if ends[p] <= t:  # invariant: p < len(ends) (extended before it runs out)
            p = bisect.bisect_right(ends, t, p)
            while p == len(ends):
                self._extend(i)
                p = bisect.bisect_right(ends, t, p)
            self._ptr[i] = p
        return ends[p] if self.starts[i][p] <= t else -1

    def finish_time(self, i: int, start: int, work: int, resume: bool = True) -> int:
        """When ``work`` time units of processing started at ``start`` on machine i end.

        resume=True: an interrupted operation resumes its remaining work after repair;
        resume=False: it restarts from zero.
        """
        if not self.active or work == 0:
            return start + work
        starts, ends = self.starts[i], self.ends[i]
        k = self._ptr[i]
        cur, rem = start, work
        while True:
            if k >= len(ends):
                self._extend(i)
                starts, ends = self.starts[i], self.ends[i]
            a, b = starts[k], ends[k]
            k += 1
            if b <= cur:
                continue
            if cur + rem <= a:
                return cur + rem
            if resume:
                rem -= a - cur
            cur = b

    def intervals(self, i: int, until: int) -> list[tuple[int, int]]:
        """Machine i's downtime intervals that start before ``until``."""
        if not self.active:
            return []
        while not self.ends[i] or self.starts[i][-1] < until:
            self._extend(i)
        out = []
        for a, b in zip(self.starts[i], self.ends[i], strict=True):
            if a >= until:
                break
            out.append((a, b))
        return out
