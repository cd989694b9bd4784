"""The simulator and the observation reproduce recorded traces exactly.

`data/sim_golden.json` holds, per case, a SHA-256 of everything an episode exposes: at
every decision the candidates, the time advanced and the whole graph observation; at the
end the schedule, the counters and the downtime. The traces were recorded with the
pure-Python event loop before it was compiled, so this pins the compiled loop (and any
later change) to the same sample paths, decisions and features, bit for bit. A change
that is meant to alter behaviour re-records them:

    RLSYS_RECORD_GOLDEN=1 pytest tests/envs/jobshop/test_sim_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from envs.jobshop.env import GraphTopology, observe
from envs.jobshop.instance import load_instance, random_instance
from envs.jobshop.shutdowns import RepairTime
from envs.jobshop.sim import Simulator

GOLDEN = Path(__file__).parent / "data" / "sim_golden.json"

# (instance, shutdown prob, seed, swaps, repair, resume)
CASES = [
    *[(inst, p, seed, True, "uniform:1:10", True)
      for inst in ("ft06", "la01", "ta01", "ta41")
      for p in (0.0, 0.01, 0.05)
      for seed in (0, 1)],
    *[(inst, 0.2, seed, True, "uniform:1:10", True)
      for inst in ("ft06", "la01") for seed in (2, 3)],
    *[(inst, p, 4, False, "uniform:1:10", True)
      for inst in ("ft06", "la01", "rand8x4") for p in (0.0, 0.05)],
    ("la01", 0.05, 5, True, "constant:5", True),
    ("la01", 0.05, 6, True, "geometric:8", True),
    ("la01", 0.01, 7, True, "uniform:1:10", False),
    ("ft06", 0.02, 8, True, "uniform:2:4", False),
    ("zero6x4", 0.0, 9, True, "uniform:1:10", True),
    ("zero6x4", 0.1, 10, True, "uniform:1:10", True),
    ("zero6x4", 0.1, 11, False, "uniform:1:10", True),
]  # fmt: skip
FORK_CASES = [("la01", 0.05, 12), ("ta01", 0.01, 13), ("ft06", 0.0, 14)]


def _instance(name: str):
    if name == "rand8x4":
        return random_instance(8, 4, seed=3)
    if name == "zero6x4":  # zero processing times: several events at one instant
        return random_instance(6, 4, seed=5, low=0, high=4)
    return load_instance(name)


def _feed(h, *arrays) -> None:
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())


def _play(sim: Simulator, rng: np.random.Generator, h, stop_after: int | None = None) -> None:
    """Random decisions (drawn from `rng`), hashing every observation, to the end or to
    `stop_after` decisions."""
    topo = GraphTopology(sim.instance)
    steps = 0
    while True:
        obs = observe(sim, topo)
        _feed(h, *(obs[k] for k in sorted(obs)), np.array(sim.candidates, dtype=np.int64))
        h.update(f"t={sim.t} done={sim.done}".encode())
        if sim.done or steps == stop_after:
            return
        cands = sim.candidates
        dt = sim.step(cands[int(rng.integers(len(cands)))])
        h.update(f"dt={dt}".encode())
        steps += 1


def _finish(sim: Simulator, h) -> None:
    h.update(
        f"mk={sim.makespan} dec={sim.n_decisions} swaps={sim.n_swaps} "
        f"dl={sim.deadlock} t={sim.t}".encode()
    )
    _feed(h, sim.start, sim.end, sim.leave)
    horizon = sim.t + 1
    for i in range(sim.n_machines):
        h.update(repr(sim.shutdowns.intervals(i, horizon)).encode())


def trace(case) -> str:
    name, p, seed, swaps, repair, resume = case
    sim = Simulator(
        _instance(name), p, seed, swaps=swaps, repair=RepairTime.parse(repair), resume=resume
    )
    h = hashlib.sha256()
    _play(sim, np.random.default_rng(seed), h)
    _finish(sim, h)
    return h.hexdigest()


def fork_trace(case) -> str:
    """Play 3 decisions, then continue the original, a plain fork and a fork with a
    resampled future, each with its own random decisions."""
    name, p, seed = case
    sim = Simulator(_instance(name), p, seed)
    h = hashlib.sha256()
    _play(sim, np.random.default_rng(seed), h, stop_after=3)
    plain = sim.fork()
    resampled = sim.fork(sim.shutdowns.resampled(sim.t, seed + 1000))
    for k, s in enumerate((sim, plain, resampled)):
        _play(s, np.random.default_rng(100 + k), h)
        _finish(s, h)
    return h.hexdigest()


def _key(case) -> str:
    return "/".join(map(str, case))


def _recorded() -> dict:
    return json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}


@pytest.mark.parametrize("case", CASES, ids=_key)
def test_episode_reproduces_the_recorded_trace(case):
    _check(_key(case), trace(case))


@pytest.mark.parametrize("case", FORK_CASES, ids=_key)
def test_forks_reproduce_the_recorded_trace(case):
    _check("fork/" + _key(case), fork_trace(case))


def _check(key: str, digest: str) -> None:
    if os.environ.get("RLSYS_RECORD_GOLDEN"):
        data = _recorded()
        data[key] = digest
        GOLDEN.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n")
        return
    assert key in _recorded(), f"no recorded trace for {key}: record with RLSYS_RECORD_GOLDEN=1"
    assert digest == _recorded()[key]
