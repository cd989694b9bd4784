"""Event-driven simulator of the interrupting swap-allowed blocking job shop (ISBJSSP).

The contract (tested in tests/envs/jobshop/):

- Blocking: no buffers. A job that finishes an operation stays on (blocks) that machine
  until its next operation starts; only its last operation frees the machine at
  completion. Jobs that have not started wait outside the shop and hold nothing.
- Swaps (``swaps=True``, BWS): when blocked jobs form a cycle (each waits for the
  machine the next one holds), they all move at the same instant, as soon as every
  machine in the cycle is up. Cycles execute automatically (they involve no choice of
  which machine goes to whom). With ``swaps=False`` (BNS) a cycle never resolves and
  the run ends with ``deadlock = True``.
- Occupancy is half-open, [arrive, leave): a job may arrive at the instant another leaves.
- Shutdowns: see ``shutdowns.py``. Nothing starts on a machine that is down; an operation
  caught by a failure resumes its remaining work after repair (``resume=False``:
  restarts from zero). A blocked job may leave a machine that is down.
- Decisions (non-delay): whenever a machine is free and up and jobs wait for it, it is
  assigned at once; there is no "wait" action. A machine with one waiting job takes it
  automatically. With two or more, the simulator stops and asks the policy, whose action
  is a job: "send this job to its next machine". ``candidates`` / ``action_mask`` hold
  every job that may move now (jobs waiting for any machine that needs a decision).
- ``decisions="reserve"``: a decision model that can also idle a machine on purpose
  (optimal blocking schedules do). A free, up machine also asks the policy when one job
  waits for it and another job *in process* will come to it next; the candidates then
  include those jobs on their way. Choosing a job on its way keeps the machine for it:
  the machine takes no other job, and the chosen one moves in the moment its current
  operation ends (or when the machine is repaired). Only a job one operation away can be
  waited for, so not every machine sequence can be expressed (a machine cannot wait for
  a job two operations away); ``tests/envs/jobshop/test_reserve.py`` has an instance
  where the non-delay model makes 21 and keeping a machine makes 14. Decisions otherwise
  as above; which machines ask is decided in the same deterministic settling order, and
  settling is no longer order-free (a forced move elsewhere can put a job on its way to a
  machine that is still to be examined).
- ``plan=`` (a schedule dict, e.g. CP-SAT's): no decisions; each machine takes its
  operations in the plan's order (by planned start) as soon as the next planned job waits
  for it and the machine is free and up, and a swap happens only where the plan has it.
  At p = 0 this replays the plan, shifted left where it had idle time the order does not
  need; under shutdowns it is the plan shifted right (predictive-reactive scheduling: the
  sequences are fixed offline, the times follow the disruptions). A plan whose order the
  shop cannot follow (e.g. one with swaps under ``swaps=False``) ends in ``deadlock``.
- Time jumps from event to event: operation completions and repairs of machines that
  jobs are waiting for. All times are integers (time units).
- Objective: makespan = the time the last job leaves its last machine.
"""

from __future__ import annotations

import numpy as np

from envs.jobshop import kernels as K_
from envs.jobshop.instance import Instance
from envs.jobshop.kernels import (  # noqa: F401  (the states, re-exported)
    BLOCKED,
    DONE,
    OP_BLOCKING,
    OP_DONE,
    OP_PROCESSING,
    OP_READY,
    OP_WAITING,
    PROCESSING,
    WAITING,
)
from envs.jobshop.shutdowns import RepairTime, ShutdownProcess

DECISION_MODELS = ("non_delay", "reserve")


def plan_ranks(instance: Instance, plan: dict) -> np.ndarray:
    """Each operation's place in its machine's planned sequence (by planned start, then
    planned leave, then job), flat in job-major order; ValueError for a plan that is not a
    complete schedule of ``instance``."""
    n, K = instance.n_jobs, instance.n_ops
    name = plan.get("instance")
    if name is not None and name != instance.name:
        raise ValueError(f"the plan is for {name!r}, not {instance.name!r}")
    ops = plan.get("operations")
    if not isinstance(ops, list) or len(ops) != n * K:
        got = len(ops) if isinstance(ops, list) else 0
        raise ValueError(f"a plan for {instance.name} needs {n * K} operations, got {got}")
    seen: set[tuple[int, int]] = set()
    keys: dict[int, list[tuple[int, int, int, int]]] = {}
    for op in ops:
        try:
            j, k = int(op["job"]), int(op["index"])
            planned = (int(op["start"]), int(op.get("leave", op["start"])))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"plan operation {op!r}: needs integer job, index and start") from None
        if not (0 <= j < n and 0 <= k < K) or (j, k) in seen:
            raise ValueError(f"plan operation ({j}, {k}) is out of range or repeated")
        seen.add((j, k))
        machine = int(instance.machines[j, k])
        if int(op.get("machine", machine)) != machine:
            raise ValueError(f"plan puts ({j}, {k}) on machine {op['machine']}, not {machine}")
        keys.setdefault(machine, []).append((*planned, j, k))
    ranks = np.full(n * K, -1, dtype=np.int64)
    for seq in keys.values():
        for place, (_, _, j, k) in enumerate(sorted(seq)):
            ranks[j * K + k] = place
    return ranks


class Deadlock(RuntimeError):
    """Raised by helpers that need a finished schedule from a deadlocked (BNS) run."""


class Simulator:
    """One episode of the ISBJSSP on ``instance``.

    After construction the simulator has run up to the first decision. Loop::

        while not sim.done:
            sim.step(policy(sim))      # a job from sim.candidates

    ``seed`` fixes the shutdown sample path (common random numbers across policies).
    The event loop is compiled (``kernels.py``); the state lives in numpy arrays, and
    ``next_op``, ``job_state``, ``job_machine``, ``holder``, ``start``, ``end``, ``leave``
    and ``op_status`` are views of it (read them, do not write them).
    """

    def __init__(
        self,
        instance: Instance,
        shutdown_prob: float = 0.0,
        seed: int = 0,
        swaps: bool = True,
        repair: RepairTime | None = None,
        resume: bool = True,
        decisions: str = "non_delay",
        plan: dict | None = None,
    ) -> None:
        if decisions not in DECISION_MODELS:
            raise ValueError(
                f"unknown decision model {decisions!r} (one of: {', '.join(DECISION_MODELS)})"
            )
        self.instance = instance
        self.decisions = decisions
        self.shutdown_prob = float(shutdown_prob)
        self.seed = int(seed)
        self.swaps = swaps
        self.resume = resume
        self.shutdowns = ShutdownProcess(instance.n_machines, shutdown_prob, seed, repair)
        self._longest = int(instance.times.max())
        if (
            not resume
            and self.shutdown_prob > 0
            and (1 - self.shutdown_prob) ** self._longest < 1e-6
        ):
            # an uninterrupted stretch of `longest` units would take > 1e6 repairs on average
            raise ValueError(
                f"restart-from-zero with shutdown probability {self.shutdown_prob:g}: an "
                f"operation of {self._longest} time units would practically never finish"
            )
        n, K = instance.n_jobs, instance.n_ops
        m = instance.n_machines
        self.n_jobs, self.n_ops, self.n_machines = n, K, m
        self._mach = np.ascontiguousarray(instance.machines, dtype=np.int64)
        self._times = np.ascontiguousarray(instance.times, dtype=np.int64)
        self._time: list[list[int]] = instance.times.tolist()  # fast scalar reads (rules)

        self._js = np.zeros((5, n), dtype=np.int64)
        self._js[K_.MACHINE] = -1
        self._ms = np.zeros((K_.N_MACHINE_ROWS, m), dtype=np.int64)
        self._ms[K_.HOLDER] = -1
        self._ms[K_.REPAIR_WAIT] = -1
        self._ms[K_.RESERVED] = -1
        self._ops = np.full((K_.N_OP_ROWS, n * K), -1, dtype=np.int64)
        self._status = np.zeros(n * K, dtype=np.uint8)
        self._status[0::K] = OP_READY
        self._heap = np.zeros(max(n, 1), dtype=np.int64)
        self._dirty = np.zeros(m, dtype=np.int64)
        # cycles are disjoint and each waits in the table at most once: n entries suffice
        self._pend = np.zeros((3, 2 * n), dtype=np.int64)
        self._pool = np.zeros(2 * n, dtype=np.int64)
        self._sc = np.zeros(K_.N_SCALARS, dtype=np.int64)
        self._sc[K_.ACTIVE] = self.shutdowns.active
        self._sc[K_.RESUME] = resume
        self._sc[K_.SWAPS] = swaps
        self._sc[K_.RESERVE] = decisions == "reserve"
        if plan is not None:
            self.decisions = "plan"
            self._ops[K_.RANK] = plan_ranks(instance, plan)
            self._sc[K_.RESERVE] = K_.PLAN
        self._bind_views()
        K_.queue_first_operations(self._js, self._ms, self._dirty, self._sc, self._mach)
        self._update_safe()
        self._advance()

    # ------------------------------------------------------------------ state views
    def _bind_views(self) -> None:
        """Named views over the state arrays (shared memory)."""
        n, K = self.n_jobs, self.n_ops
        js, ops = self._js, self._ops
        self.next_op = js[K_.NEXT_OP]
        self.job_state = js[K_.STATE]
        self.job_machine = js[K_.MACHINE]
        self.ready_time = self._ready_time = js[K_.READY]
        self.job_waits = js[K_.WAITS]  # 1 while the job waits for its next machine
        self.holder = self._ms[K_.HOLDER]
        self.start = ops[K_.START].reshape(n, K)
        self.end = ops[K_.END].reshape(n, K)
        self.leave = ops[K_.LEAVE].reshape(n, K)
        self.op_end = ops[K_.END]  # flat view of `end`
        self.op_status = self._status

    @property
    def t(self) -> int:
        return int(self._sc[K_.T])

    @property
    def done(self) -> bool:
        return bool(self._sc[K_.IS_DONE])

    @property
    def deadlock(self) -> bool:
        return bool(self._sc[K_.DEADLOCK])

    @property
    def n_done(self) -> int:
        return int(self._sc[K_.N_DONE])

    @property
    def n_decisions(self) -> int:
        return int(self._sc[K_.N_DECISIONS])

    @property
    def n_swaps(self) -> int:
        return int(self._sc[K_.N_SWAPS])

    @property
    def waiting(self) -> list[set[int]]:
        """Per machine, the jobs waiting for it (built on demand, for inspection)."""
        out: list[set[int]] = [set() for _ in range(self.n_machines)]
        for j in np.flatnonzero(self._js[K_.WAITS]).tolist():
            out[int(self._mach[j, self.next_op[j]])].add(j)
        return out

    def n_waiting(self, machine: int) -> int:
        return int(self._ms[K_.N_WAIT, machine])

    # ------------------------------------------------------------------ public API
    @property
    def candidates(self) -> list[int]:
        """Jobs the policy may send now (sorted)."""
        return K_.candidates(self._js, self._ms, self._sc, self._mach).tolist()

    def action_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_jobs, dtype=bool)
        mask[K_.candidates(self._js, self._ms, self._sc, self._mach)] = True
        return mask

    @property
    def reserved(self) -> np.ndarray:
        """Per machine, the job it is kept for (``reserve`` model), else -1 (a view)."""
        return self._ms[K_.RESERVED]

    def step(self, job: int) -> int:
        """Send ``job`` to its next machine (a job on its way there: keep the machine for
        it), then run to the next decision.

        Returns the time advanced (time units)."""
        if self.done:
            raise RuntimeError("episode is over")
        job = int(job)
        if not 0 <= job < self.n_jobs or not K_.is_candidate(
            self._js, self._ms, self._sc, self._mach, job
        ):
            raise ValueError(f"job {job} cannot move now (candidates: {self.candidates})")
        t0 = self.t
        K_.dispatch(*self._state(), job)
        self._advance()
        return self.t - t0

    def finish_with_rule(self, rule: int, waiting_only: bool = False) -> None:
        """Run to the end with a dispatching rule in the compiled loop (``rule``: a rule
        code of ``kernels``, SPT ... FIFO; ``rlsys.jobshop.rules.run_rule`` is the public
        way), ``waiting_only`` as there. The same schedule as stepping the rule's Python
        function, at a fraction of the cost (a rollout finished by a rule)."""
        if not self.done:  # the kernel starts by advancing, which a finished episode must not
            self._run(K_.finish_with_rule, rule, waiting_only)

    @property
    def makespan(self) -> int | None:
        if not self.done or self.deadlock:
            return None
        return int(self._ops[K_.LEAVE].max())

    def remaining_work(self, job: int) -> int:
        """Processing time of the job's operations not yet started."""
        return sum(self._time[job][self.next_op[job] :])

    def schedule(self) -> dict:
        """The finished schedule in the JSON contract of the spec."""
        if not self.done:
            raise RuntimeError("schedule() needs a finished episode")
        if self.deadlock:
            raise Deadlock(f"{self.instance.name}: deadlock at t={self.t} (no swaps)")
        start, end, leave = (self._ops[row].tolist() for row in (K_.START, K_.END, K_.LEAVE))
        machines = self._mach.tolist()
        ops = []
        for j in range(self.n_jobs):
            for k in range(self.n_ops):
                node = j * self.n_ops + k
                ops.append(
                    {
                        "job": j,
                        "index": k,
                        "machine": machines[j][k],
                        "start": start[node],
                        "end": end[node],
                        "leave": leave[node],
                    }
                )
        makespan = self.makespan
        downtime = self.shutdowns.schedule_downtime(makespan)
        return {
            "instance": self.instance.name,
            "n_jobs": self.n_jobs,
            "n_machines": self.n_machines,
            "makespan": makespan,
            "shutdown_prob": self.shutdown_prob,
            "seed": self.seed,
            "swaps": self.swaps,
            "resume": self.resume,
            "decisions": self.decisions,
            "operations": ops,
            "downtime": downtime,
        }

    def follow(self, plan: dict) -> Simulator:
        """A fresh episode of this one's instance, disruption seed and options that follows
        ``plan`` (the ``plan=`` mode above)."""
        return Simulator(
            self.instance,
            self.shutdown_prob,
            self.seed,
            swaps=self.swaps,
            repair=self.shutdowns.repair,
            resume=self.resume,
            plan=plan,
        )

    def fork(self, future: ShutdownProcess | None = None) -> Simulator:
        """An independent copy of the episode now, for lookahead (the instance is shared).

        Without ``future`` the copy keeps this episode's disruption path, so it continues
        exactly as this one would. With ``future`` (a process that agrees with this one up
        to now, e.g. ``sim.shutdowns.resampled(sim.t, seed)``) the copy's disruptions from
        now on follow it: operations in progress keep the work they have done and finish
        when the new path lets them. Only the resume model is supported there (with
        restart-from-zero the work done is lost at the next failure, which the copy would
        have to re-derive)."""
        new = object.__new__(Simulator)
        new.__dict__.update(self.__dict__)
        for name in ("_js", "_ms", "_ops", "_status", "_heap", "_dirty", "_pend", "_pool", "_sc"):
            setattr(new, name, getattr(self, name).copy())
        new._bind_views()
        if future is None:
            new.shutdowns = self.shutdowns.copy()
            return new
        if not self.resume and future.active:
            raise ValueError("a resampled future needs the resume model (not --restart)")
        new.shutdowns = future
        if future.active:
            size = int(new._sc[K_.HEAP_SIZE])
            jobs = (new._heap[:size] % max(self.n_jobs, 1)).tolist()
            keys = sorted(new._reschedule(job) * self.n_jobs + job for job in jobs)
            new._heap[:size] = keys  # a sorted array is a valid heap
            new._update_safe()
        return new

    def work_left(self, job: int) -> int:
        """Processing still owed by ``job``'s operation in progress (resume model), from
        the past alone: its time minus the up time since it started."""
        t, i = self.t, int(self.job_machine[job])
        k = int(self.next_op[job]) - 1
        start = int(self.start[job, k])
        down = self.shutdowns.down_between(i, start, t)
        return self._time[job][k] - (t - start - down)

    def _reschedule(self, job: int) -> int:
        """New end of ``job``'s operation in progress under this sim's (new) disruptions."""
        i = int(self.job_machine[job])
        repaired = self.shutdowns.down_until(i, self.t)
        end = self.shutdowns.finish_time(i, max(self.t, repaired), self.work_left(job))
        self.end[job, self.next_op[job] - 1] = end
        return end

    # ------------------------------------------------------------------ internals
    def _state(self) -> tuple:
        """The arrays every event-loop kernel takes, in its order (the downtime arrays are
        fetched anew: drawing more intervals reallocates them)."""
        sp = self.shutdowns
        return (self._js, self._ms, self._ops, self._status, self._heap, self._dirty, self._sc,
                self._mach, self._times, sp.starts, sp.ends, sp.count, sp.ptr, self._pend,
                self._pool)  # fmt: skip

    def _update_safe(self) -> None:
        if self.shutdowns.active:
            self._sc[K_.SAFE] = self.shutdowns.safe_until(self._longest, self.resume)

    def _advance(self) -> None:
        """Run events until a decision is needed or the episode ends."""
        self._run(K_.advance)

    def _run(self, kernel, *args) -> None:
        """Call a compiled loop (``kernel(*state, *args)``) until it is through, drawing
        downtime intervals whenever it reaches the end of those drawn so far."""
        while kernel(*self._state(), *args) == K_.NEED_INTERVALS:
            self.shutdowns._extend(0)
            self._update_safe()
