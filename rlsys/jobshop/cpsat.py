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
- Without swaps (BNS): a swap is a cycle of jobs that move at one instant, each onto
  the machine the next one leaves. Ordering literals per machine pair plus an integer
  potential on arrival events that must grow along every "b follows a on M" arc make
  such cycles impossible, and nothing else. See ``_forbid_swaps`` for the argument.

Makespan = max over jobs of the last operation's end. Horizon = the sum of all
processing times: running the jobs one after another is a feasible schedule.

Clairvoyant (``downtime``, a ``ShutdownProcess``: the down intervals of one seed, known in
advance): hindsight-optimal scheduling against that seed's disruptions, a lower bound for
every policy that sees the same seed. A start must fall on an up time unit of its
machine, and processing ends at ``end[j, k] = finish[m, p][s[j, k]]``, a table of when
``p`` units of up time after each start are done (resume semantics: an interrupted
operation continues after repair). The delay ``end - start`` (the downtime crossed) is
constant on runs of consecutive starts: one literal per run picks it (``_delay_runs``).
The next operation starts at or after the end. Horizon: the serial schedule under the
downtime, or the hint's makespan when the hint is valid against it (the rules' best
schedule by default).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from envs.jobshop.instance import Instance
from envs.jobshop.schedule import violations
from envs.jobshop.shutdowns import ShutdownProcess

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
    downtime: ShutdownProcess | None = None,
) -> SolveResult:
    """Minimise the makespan of ``instance`` as a blocking job shop (p = 0).

    Args:
        instance: the job shop; processing times in time units.
        time_limit: CP-SAT time limit in seconds.
        workers: CP-SAT search workers. With 1, a solve that ends before the time limit
            is reproducible for a given seed; with more, CP-SAT also runs lower-bound
            workers, which can prove optimality sooner on larger instances.
        seed: CP-SAT random seed.
        hint: a schedule-JSON dict (e.g. from a dispatching rule) whose operation start
            times and makespan become a solution hint. Its own feasibility is not
            required: CP-SAT only uses it to guide the search.
        swaps: True for BWS (swap-allowed). False for BNS: cyclic simultaneous moves of
            blocked jobs are forbidden exactly, while non-cyclic chains of simultaneous
            moves (b takes M at the instant a leaves it for a free machine) stay allowed.
            Needs all processing times > 0 (ValueError otherwise).
        downtime: the shutdown sample path of one seed (``ShutdownProcess``, resume
            semantics), known in advance: the clairvoyant schedule against it (see the
            module docstring); None or an inactive process: p = 0.

    Returns:
        SolveResult with the schedule dict in the contract of specs/jobshop.md
        (operations sorted by job then index, ``downtime`` empty).
    """
    t0 = time.perf_counter()
    n, n_ops = instance.n_jobs, instance.n_ops
    machines, times = instance.machines, instance.times
    horizon = int(times.sum())
    clairvoyant = downtime is not None and downtime.active
    valid_hint = None  # a hint the validator accepts against the downtime
    if clairvoyant:
        horizon = _serial_makespan(instance, downtime)
        if hint is None:
            # the best rule's schedule on this seed (valid by construction): a first
            # solution, and its makespan caps the horizon below
            hint = _rule_hint(instance, downtime, swaps)
        if hint is not None and _valid_under(hint, instance, downtime):
            valid_hint = hint
            # Nothing longer than a valid schedule is worth finding, and every table, start
            # domain and run of delays shrinks with the horizon (the serial schedule's is
            # about 4x the makespans at p = 0.1).
            horizon = min(horizon, int(hint["makespan"]))
        up, finish = _finish_tables(instance, downtime, horizon)
    if not swaps and (times <= 0).any():
        # The no-swap argument needs positive times (see _forbid_swaps); a job that
        # passes a machine in zero time has no defined blocking semantics yet.
        raise ValueError(f"{instance.name}: swaps=False needs all processing times > 0")

    model = cp_model.CpModel()
    # Upper bound of each start: the job's remaining work must still fit in the horizon.
    start = {
        (j, k): model.new_int_var(0, horizon - int(times[j, k:].sum()), f"s{j}_{k}")
        for j in range(n)
        for k in range(n_ops)
    }
    end: dict[tuple[int, int], cp_model.LinearExprT] = {
        (j, k): start[j, k] + int(times[j, k]) for j in range(n) for k in range(n_ops)
    }
    run_literals: dict[tuple[int, int], list] = {}  # (j, k) -> [(literal, (lo, hi, delay))]
    if clairvoyant:
        for (j, k), var in start.items():
            m, p = int(machines[j, k]), int(times[j, k])
            table = finish[m, p]
            # a start on an up unit whose processing ends within the horizon
            ok = np.flatnonzero(up[m] & (table <= horizon))
            model.add_linear_expression_in_domain(var, cp_model.Domain.from_values(ok.tolist()))
            end[j, k] = model.new_int_var(0, horizon, f"e{j}_{k}")
            # end = start + delay, the delay (downtime crossed) constant on runs of
            # consecutive valid starts: one literal per run. An element constraint over
            # the table expands into one literal per start value, 5x (p = 0.1) to 50x
            # (p = 0.01) more; with it la01 was not proven in 20 s and la21 ended 13 %
            # longer in 120 s from the same hint.
            runs = _delay_runs(ok, table[ok] - ok)
            in_run = [model.new_bool_var(f"r{j}_{k}_{i}") for i in range(len(runs))]
            run_literals[j, k] = list(zip(in_run, runs, strict=True))
            model.add_exactly_one(in_run)
            for lit, (lo, hi, delay) in run_literals[j, k]:
                model.add(var >= lo).only_enforce_if(lit)
                model.add(var <= hi).only_enforce_if(lit)
                model.add(end[j, k] == var + delay).only_enforce_if(lit)
    # leave[j, k]: the next operation's start, or the end of processing for the last.
    leave = {
        (j, k): start[j, k + 1] if k + 1 < n_ops else end[j, k]
        for j in range(n)
        for k in range(n_ops)
    }
    intervals: dict[int, list[cp_model.IntervalVar]] = {i: [] for i in range(instance.n_machines)}
    on_machine: dict[int, list[tuple[int, int]]] = {i: [] for i in range(instance.n_machines)}
    sizes: dict[tuple[int, int], cp_model.IntVar] = {}
    for j in range(n):
        for k in range(n_ops):
            p = int(times[j, k])
            if k + 1 < n_ops:
                # Variable size >= p encodes both the occupancy and the job precedence.
                size = sizes[j, k] = model.new_int_var(p, horizon, f"occ{j}_{k}")
                interval = model.new_interval_var(start[j, k], size, start[j, k + 1], f"I{j}_{k}")
                if clairvoyant:  # processing (and with it the job) waits out the repairs
                    model.add(start[j, k + 1] >= end[j, k])
            elif clairvoyant:
                size = sizes[j, k] = model.new_int_var(p, horizon, f"occ{j}_{k}")
                interval = model.new_interval_var(start[j, k], size, end[j, k], f"I{j}_{k}")
            else:
                interval = model.new_fixed_size_interval_var(start[j, k], p, f"I{j}_{k}")
            intervals[int(machines[j, k])].append(interval)
            on_machine[int(machines[j, k])].append((j, k))
    for ivs in intervals.values():
        model.add_no_overlap(ivs)
    # Redundant with the no-overlap, but branching on explicit pair orders proved
    # la01-la05 2-8x faster, and the no-swap constraints below need them anyway.
    order = _order_literals(model, start, leave, on_machine)
    if not swaps:
        _forbid_swaps(model, instance, order)

    makespan = model.new_int_var(trivial_lower_bound(instance), horizon, "makespan")
    for j in range(n):
        model.add(makespan >= leave[j, n_ops - 1])
    model.minimize(makespan)

    if hint is not None:
        for op in hint["operations"]:
            key = (int(op["job"]), int(op["index"]))
            if key not in start:
                raise ValueError(f"hint has operation {key}, which {instance.name} lacks")
            model.add_hint(start[key], int(op["start"]))
            if clairvoyant:  # a complete hint: CP-SAT then starts from a solution
                model.add_hint(end[key], int(op["end"]))
                for literal, (lo, hi, _delay) in run_literals[key]:
                    model.add_hint(literal, lo <= int(op["start"]) <= hi)
            if key in sizes:
                model.add_hint(sizes[key], int(op["leave"]) - int(op["start"]))
        model.add_hint(makespan, int(hint["makespan"]))
        hinted = {(int(op["job"]), int(op["index"])): int(op["start"]) for op in hint["operations"]}
        for (a, b), literal in order.items():
            if isinstance(literal, cp_model.IntVar) and a in hinted and b in hinted:
                model.add_hint(literal, hinted[a] < hinted[b])

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers)
    solver.parameters.random_seed = int(seed)
    # Presolve stays on for the clairvoyant model too: with one literal per run of delays
    # (not an element table, whose hint presolve dropped) it found shorter schedules on 5
    # of 6 instances at p = 0.1 in 60 s (la11-la22, orb01: 2-6 %) and better bounds.
    if workers == 1:
        # The LP relaxation is weak for makespan and slows the single worker down:
        # without it la01-la05 were proven optimal 1.2-2x faster.
        solver.parameters.linearization_level = 0
    code = solver.solve(model)
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"invalid CP-SAT model: {model.validate()}")
    status = _STATUS[code]

    found = status in ("optimal", "feasible")
    schedule = ops = None
    if found:
        ops = [
            {
                "job": j,
                "index": k,
                "machine": int(machines[j, k]),
                "start": int(solver.value(start[j, k])),
                "end": int(solver.value(end[j, k])),
                "leave": int(solver.value(leave[j, k])),
            }
            for j in range(n)
            for k in range(n_ops)
        ]
    elif valid_hint is not None and status == "unknown":
        # Presolve can outlast a short time limit (about 2-7 s on 15x5 at p = 0.1); the
        # validated hint is then still the best schedule known, so return it.
        keys = ("job", "index", "machine", "start", "end", "leave")
        ops = sorted(
            ({key: int(op[key]) for key in keys} for op in valid_hint["operations"]),
            key=lambda op: (op["job"], op["index"]),
        )
        status = "feasible"
    if ops is not None:
        makespan_value = max(op["leave"] for op in ops)
        schedule = {
            "instance": instance.name,
            "n_jobs": n,
            "n_machines": instance.n_machines,
            "makespan": makespan_value,
            "operations": ops,
            "downtime": [],
        }
        if clairvoyant:
            schedule.update(shutdown_prob=downtime.prob, seed=downtime.seed, clairvoyant=True)
            schedule["downtime"] = downtime.schedule_downtime(makespan_value)
    # The bound is a float; the tolerance keeps e.g. 63.0000001 from rounding up to 64.
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


def _rule_hint(instance: Instance, downtime: ShutdownProcess, swaps: bool) -> dict | None:
    """The shortest schedule of the deterministic rules against the same downtime."""
    from envs.jobshop.sim import Simulator
    from rlsys.jobshop.rules import RULES, run_rule

    best = None
    for name, rule in RULES.items():
        if name == "RANDOM":
            continue
        sim = run_rule(
            Simulator(instance, downtime.prob, downtime.seed, swaps=swaps, repair=downtime.repair),
            rule,
        )
        if not sim.deadlock and (best is None or sim.makespan < best.makespan):
            best = sim
    return None if best is None else best.schedule()


def _valid_under(schedule: dict, instance: Instance, downtime: ShutdownProcess) -> bool:
    """True when ``schedule`` is valid (the independent validator) against this downtime,
    whatever downtime it carries itself."""
    checked = dict(schedule, downtime=downtime.schedule_downtime(int(schedule["makespan"])))
    return not violations(checked, instance, limit=1)


def _serial_makespan(instance: Instance, downtime: ShutdownProcess) -> int:
    """Makespan of running the operations one after another (job by job) under the
    downtime: a feasible schedule, so an upper bound and the model's horizon."""
    t = 0
    for j in range(instance.n_jobs):
        for k in range(instance.n_ops):
            m, p = int(instance.machines[j, k]), int(instance.times[j, k])
            t = _next_up(downtime, m, t)
            t = downtime.finish_time(m, t, p, resume=True)
    return t


def _delay_runs(starts: np.ndarray, delays: np.ndarray) -> list[tuple[int, int, int]]:
    """(lo, hi, delay) for each maximal run of consecutive ``starts`` (int [n], sorted, the
    valid starts) whose ``delays`` (int [n], end - start) are equal; the runs cover every
    valid start once, and a start outside them is outside the start's domain anyway."""
    if len(starts) == 0:  # no start fits in the horizon: no run, an infeasible model
        return []
    cut = np.flatnonzero(np.diff(delays)) + 1
    first = np.concatenate([[0], cut])
    last = np.concatenate([cut - 1, [len(starts) - 1]])
    return [
        (int(starts[a]), int(starts[b]), int(delays[a])) for a, b in zip(first, last, strict=True)
    ]


def _next_up(downtime: ShutdownProcess, machine: int, t: int) -> int:
    for a, b in downtime.intervals(machine, t + 1):
        if a <= t < b:
            return b
    return t


def _finish_tables(
    instance: Instance, downtime: ShutdownProcess, horizon: int
) -> tuple[dict[int, np.ndarray], dict[tuple[int, int], np.ndarray]]:
    """(up[m]: bool [horizon + 1], machine m up at t; finish[m, p]: int [horizon + 1], when
    p units of processing started at t end, horizon + 1 where that is past the horizon)."""
    up, finish = {}, {}
    for m in range(instance.n_machines):
        mask = np.ones(horizon + 1, dtype=bool)
        for a, b in downtime.intervals(m, horizon + 1):
            mask[a : min(b, horizon + 1)] = False
        up[m] = mask
        # cum[t] = up time units in [0, t); processing of p from s ends at the first e
        # with cum[e] - cum[s] = p (e is the end of the p-th up unit)
        cum = np.concatenate([[0], np.cumsum(mask)])
        for p in {
            int(x)
            for x, mm in zip(instance.times.ravel(), instance.machines.ravel(), strict=True)
            if mm == m
        }:
            e = np.searchsorted(cum, cum[: horizon + 1] + p, side="left")
            e = np.maximum(e, np.arange(horizon + 1))  # p = 0 ends where it starts
            finish[m, p] = np.where(e <= horizon, e, horizon + 1).astype(np.int64)
    return up, finish


def _order_literals(
    model: cp_model.CpModel,
    start: dict[tuple[int, int], cp_model.IntVar],
    leave: dict[tuple[int, int], cp_model.LinearExprT],
    on_machine: dict[int, list[tuple[int, int]]],
) -> dict[tuple[tuple[int, int], tuple[int, int]], cp_model.IntVar]:
    """One literal per pair of operations on a machine, true when the first of the
    pair holds the machine before the second; keyed by both (a, b) and (b, a)."""
    order = {}
    for ops in on_machine.values():
        for x in range(len(ops)):
            for y in range(x + 1, len(ops)):
                a, b = ops[x], ops[y]
                a_first = model.new_bool_var(f"ord{a}{b}")
                model.add(start[b] >= leave[a]).only_enforce_if(a_first)
                model.add(start[a] >= leave[b]).only_enforce_if(~a_first)
                order[a, b], order[b, a] = a_first, ~a_first
    return order


def _forbid_swaps(
    model: cp_model.CpModel,
    instance: Instance,
    order: dict[tuple[tuple[int, int], tuple[int, int]], cp_model.IntVar],
) -> None:
    """Add the BNS constraints: no swap (no cycle of simultaneous moves).

    Nodes: arrival events ``start[j, k]`` with k >= 1 (the job comes from another
    machine). For every pair a, b on machine M with a before b (``order[a, b]``), an
    arc goes from a's departure from M (the arrival of a's next operation) to b's
    arrival on M, and an integer potential must grow by at least 1 along it. Why this
    is exact:

    - An arc never goes back in time: a's departure = leave(a) <= start(b). So a cycle
      of arcs has all its events at one instant; with positive processing times only
      consecutive occupants of a machine can meet there, so the cycle is a chain of
      hand-overs (b arrives on M exactly when a leaves M) that closes: a swap.
    - Conversely, without a swap the arc graph is acyclic, and a topological numbering
      of its nodes is a valid potential in [0, number of nodes).

    Arcs out of a last operation (the job leaves the shop) or into a first operation
    (the job comes from outside) cannot be on a cycle, so they are left out.
    """
    n_ops = instance.n_ops
    n_nodes = instance.n_jobs * (n_ops - 1)
    pot = {
        (j, k): model.new_int_var(0, max(n_nodes - 1, 0), f"pot{j}_{k}")
        for j in range(instance.n_jobs)
        for k in range(1, n_ops)
    }
    for ((ja, ka), (jb, kb)), a_first in order.items():
        if ka + 1 < n_ops and kb > 0:
            model.add(pot[jb, kb] >= pot[ja, ka + 1] + 1).only_enforce_if(a_first)
