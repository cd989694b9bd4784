"""Exact CP-SAT model of the blocking job shop at shutdown probability 0.

Model (times in integer time units):

- ``s[j, k]``: start of job j's k-th operation, i.e. the instant the job arrives on
  machine ``machines[j, k]`` and processing begins; processing ends at
  ``s[j, k] + times[j, k]``.
- Blocking: the job occupies its machine over the half-open interval
  ``[s[j, k], leave[j, k])`` with ``leave[j, k] = s[j, k + 1]`` (it stays until its next
  operation starts) and ``leave = s + p`` for the last operation. The occupancy
  interval has variable size ``leave - s >= p``, which is also the job precedence.
- One ``AddNoOverlap`` per machine over the occupancy intervals. Half-open intervals
  let a job arrive at the instant another leaves, and a cycle of such hand-overs is
  a swap; so this plain model is the blocking job shop *with* swaps (BWS).
- Without swaps (BNS), every hand-over that happens at one instant ("b arrives on M
  exactly when a leaves M for its next machine") is an arc of a hand-over graph, and
  that graph must be acyclic: each arc must increase an integer potential attached
  to the arrival events. See ``_forbid_swaps``.

Makespan = max over jobs of the last operation's end. Horizon = the sum of all
processing times: running the jobs one after another is a feasible schedule.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from envs.jobshop.instance import Instance

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
}


@dataclass
class SolveResult:
    """Outcome of one CP-SAT solve."""

    makespan: int | None
    """Best makespan found (time units); None when no schedule was found."""
    lower_bound: int
    """Proven lower bound on the optimal makespan (time units)."""
    status: str
    """'optimal' | 'feasible' | 'infeasible' | 'unknown'."""
    wall_time: float
    """Seconds spent building and solving the model."""
    schedule: dict | None
    """The best schedule in the schedule-JSON contract (no downtime), or None."""


def trivial_lower_bound(instance: Instance) -> int:
    """max(longest job, most loaded machine) in time units; valid with or without blocking."""
    job_len = int(instance.times.sum(axis=1).max())
    load = np.bincount(
        instance.machines.ravel(), weights=instance.times.ravel(), minlength=instance.n_machines
    )
    return max(job_len, int(load.max()))


def solve_bws(
    instance: Instance,
    time_limit: float = 60.0,
    workers: int = 1,
    seed: int = 0,
    hint: dict | None = None,
    swaps: bool = True,
) -> SolveResult:
    """Minimise the makespan of ``instance`` as a blocking job shop (p = 0).

    Args:
        instance: the job shop; processing times in time units.
        time_limit: CP-SAT time limit in seconds.
        workers: CP-SAT search workers (1 is deterministic for a given seed; with 1
            worker CP-SAT runs no dedicated lower-bound workers, so proofs are slower).
        seed: CP-SAT random seed.
        hint: a schedule-JSON dict (e.g. from a dispatching rule) whose operation start
            times and makespan become a solution hint. Its own feasibility is not
            required: CP-SAT only uses it to guide the search.
        swaps: True for BWS (swap-allowed). False for BNS: cyclic simultaneous moves of
            blocked jobs are forbidden exactly (acyclic hand-over graph at every instant),
            while non-cyclic chains of simultaneous moves stay allowed.

    Returns:
        SolveResult with the schedule dict in the contract of specs/jobshop.md
        (operations sorted by job then index, ``downtime`` empty).
    """
    t0 = time.perf_counter()
    n, n_ops = instance.n_jobs, instance.n_ops
    machines, times = instance.machines, instance.times
    horizon = int(times.sum())

    model = cp_model.CpModel()
    # Upper bound of each start: the job's remaining work must still fit in the horizon.
    start = {
        (j, k): model.new_int_var(0, horizon - int(times[j, k:].sum()), f"s{j}_{k}")
        for j in range(n)
        for k in range(n_ops)
    }
    # leave[j, k]: the next operation's start, or the end of processing for the last.
    leave = {
        (j, k): start[j, k + 1] if k + 1 < n_ops else start[j, k] + int(times[j, k])
        for j in range(n)
        for k in range(n_ops)
    }
    intervals: dict[int, list[cp_model.IntervalVar]] = {i: [] for i in range(instance.n_machines)}
    on_machine: dict[int, list[tuple[int, int]]] = {i: [] for i in range(instance.n_machines)}
    for j in range(n):
        for k in range(n_ops):
            p = int(times[j, k])
            if k + 1 < n_ops:
                # Variable size >= p encodes both the occupancy and the job precedence.
                size = model.new_int_var(p, horizon, f"occ{j}_{k}")
                interval = model.new_interval_var(start[j, k], size, start[j, k + 1], f"I{j}_{k}")
            else:
                interval = model.new_fixed_size_interval_var(start[j, k], p, f"I{j}_{k}")
            intervals[int(machines[j, k])].append(interval)
            on_machine[int(machines[j, k])].append((j, k))
    for ivs in intervals.values():
        model.add_no_overlap(ivs)
    if not swaps:
        _forbid_swaps(model, instance, start, leave, on_machine)

    makespan = model.new_int_var(trivial_lower_bound(instance), horizon, "makespan")
    for j in range(n):
        model.add(makespan >= leave[j, n_ops - 1])
    model.minimize(makespan)

    if hint is not None:
        for op in hint["operations"]:
            key = (int(op["job"]), int(op["index"]))
            if key in start:
                model.add_hint(start[key], int(op["start"]))
        model.add_hint(makespan, int(hint["makespan"]))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    if workers == 1:
        # The single default worker spends most of its time on the LP relaxation, which is
        # weak for makespan; without it la01-la05 were proven optimal 3-10x faster.
        solver.parameters.linearization_level = 0
    code = solver.solve(model)
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"invalid CP-SAT model: {model.validate()}")
    status = _STATUS[code]

    found = status in ("optimal", "feasible")
    schedule = None
    if found:
        ops = [
            {
                "job": j,
                "index": k,
                "machine": int(machines[j, k]),
                "start": int(solver.value(start[j, k])),
                "end": int(solver.value(start[j, k])) + int(times[j, k]),
                "leave": int(solver.value(leave[j, k])),
            }
            for j in range(n)
            for k in range(n_ops)
        ]
        schedule = {
            "instance": instance.name,
            "n_jobs": n,
            "n_machines": instance.n_machines,
            "makespan": max(op["leave"] for op in ops),
            "operations": ops,
            "downtime": [],
        }
    # The bound is a float; a tiny tolerance keeps e.g. 62.9999999 from rounding up to 63.
    bound = solver.best_objective_bound if status != "infeasible" else 0.0
    lower_bound = max(trivial_lower_bound(instance), math.ceil(bound - 1e-6))
    if schedule is not None and status == "optimal":
        lower_bound = schedule["makespan"]
    return SolveResult(
        makespan=schedule["makespan"] if schedule else None,
        lower_bound=int(lower_bound),
        status=status,
        wall_time=time.perf_counter() - t0,
        schedule=schedule,
    )


def _forbid_swaps(
    model: cp_model.CpModel,
    instance: Instance,
    start: dict[tuple[int, int], cp_model.IntVar],
    leave: dict[tuple[int, int], cp_model.LinearExprT],
    on_machine: dict[int, list[tuple[int, int]]],
) -> None:
    """Add the BNS constraints: no cycle of simultaneous hand-overs.

    A hand-over is "operation b arrives on machine M at the instant operation a (the
    previous occupant) leaves M for its next machine". Node = an arrival event
    ``start[j, k]`` with k >= 1 (the job comes from another machine). Arc from a's
    departure (= arrival of a's next operation) to b's arrival. A swap is exactly a
    cycle in this graph, so we require an integer potential that strictly increases
    along every simultaneous hand-over: feasible iff the hand-over graph is acyclic.
    Hand-overs that involve a job's first arrival or last departure cannot be on a
    cycle (nothing precedes/follows them), so they are left unconstrained.
    """
    n_ops = instance.n_ops
    n_nodes = instance.n_jobs * (n_ops - 1)
    pot = {
        (j, k): model.new_int_var(0, max(n_nodes - 1, 0), f"pot{j}_{k}")
        for j in range(instance.n_jobs)
        for k in range(1, n_ops)
    }

    def handover(first: tuple[int, int], second: tuple[int, int], order: cp_model.IntVar) -> None:
        # Given `order` (first before second on the machine): either second arrives
        # strictly after first leaves, or the hand-over is simultaneous and ordered.
        (ja, ka), (jb, kb) = first, second
        if ka + 1 >= n_ops or kb == 0:
            return
        later = model.new_bool_var("")
        model.add(start[jb, kb] >= leave[ja, ka] + 1).only_enforce_if(later)
        ordered = model.new_bool_var("")
        model.add(pot[jb, kb] >= pot[ja, ka + 1] + 1).only_enforce_if(ordered)
        model.add_bool_or([order.Not(), later, ordered])

    for ops in on_machine.values():
        for x in range(len(ops)):
            for y in range(x + 1, len(ops)):
                a, b = ops[x], ops[y]
                a_first = model.new_bool_var(f"ord{a}{b}")
                # Redundant with the no-overlap, but gives the hand-over its order literal.
                model.add(start[b] >= leave[a]).only_enforce_if(a_first)
                model.add(start[a] >= leave[b]).only_enforce_if(a_first.Not())
                handover(a, b, a_first)
                handover(b, a, a_first.Not())
