"""Dispatching rules on the ISBJSSP simulator.

A rule picks, among ``sim.candidates`` (jobs that may move now), the job with the best
priority; ties go to the lowest job index. Rules look at the job's *next* operation
(the one it would start):

- SPT / LPT: shortest / longest processing time of that operation
- MWKR / LWKR: most / least work remaining (processing time of operations not started)
- MOR / LOR: most / least operations remaining
- FIFO: the job that has been waiting longest (earliest ready time)
- RANDOM: uniform among candidates, from its own seeded stream (not the shutdown stream)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from envs.jobshop import kernels
from envs.jobshop.sim import Simulator

Rule = Callable[[Simulator, list[int]], int]


def _argmin(cands: list[int], key) -> int:
    return min(cands, key=lambda j: (key(j), j))


def spt(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: sim._time[j][sim.next_op[j]])


def lpt(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: -sim._time[j][sim.next_op[j]])


def mwkr(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: -sim.remaining_work(j))


def lwkr(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: sim.remaining_work(j))


def mor(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: sim.next_op[j])


def lor(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: -sim.next_op[j])


def fifo(sim: Simulator, cands: list[int]) -> int:
    return _argmin(cands, lambda j: sim._ready_time[j])


RULES: dict[str, Rule] = {
    "SPT": spt,
    "LPT": lpt,
    "MWKR": mwkr,
    "LWKR": lwkr,
    "MOR": mor,
    "LOR": lor,
    "FIFO": fifo,
}
RULE_NAMES = (*RULES, "RANDOM")
_CODES = {rule: getattr(kernels, name) for name, rule in RULES.items()}  # compiled twins
DESCRIPTIONS = {
    "SPT": "shortest processing time of the next operation",
    "LPT": "longest processing time of the next operation",
    "MWKR": "most work remaining (operations not started)",
    "LWKR": "least work remaining",
    "MOR": "most operations remaining",
    "LOR": "least operations remaining",
    "FIFO": "longest waiting (earliest ready time)",
    "RANDOM": "uniform among candidates (own seeded stream)",
}


def make_rule(name: str, seed: int = 0) -> Rule:
    """The rule called ``name`` (case-insensitive); RANDOM gets its own stream from seed."""
    key = name.upper()
    if key == "RANDOM":
        rng = np.random.default_rng([seed, 0x52414E44])

        def random_rule(sim: Simulator, cands: list[int]) -> int:
            return cands[int(rng.integers(len(cands)))]

        return random_rule
    if key not in RULES:
        raise ValueError(f"unknown policy {name!r} (rules: {', '.join(RULE_NAMES)})")
    return RULES[key]


def run_rule(sim: Simulator, rule: Rule, waiting_only: bool = False) -> Simulator:
    """Run ``sim`` to the end with ``rule`` and return it.

    ``waiting_only``: offer the rule only the jobs that wait (in the ``reserve`` decision
    model the candidates also hold jobs on their way, and choosing one keeps a machine
    idle for it), so a rule schedules there as it would in the non-delay model.

    The rules of ``RULES`` run in the simulator's compiled loop (the same schedule,
    tested); any other ``rule(sim, candidates)`` (RANDOM, a learned policy) steps here."""
    code = _CODES.get(rule)
    if code is not None:
        sim.finish_with_rule(code, waiting_only)
        return sim
    while not sim.done:
        candidates = sim.candidates
        if waiting_only:
            candidates = [j for j in candidates if sim.job_waits[j]] or candidates
        sim.step(rule(sim, candidates))
    return sim
