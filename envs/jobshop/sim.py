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
- Time jumps from event to event: operation completions and repairs of machines that
  jobs are waiting for. All times are integers (time units).
- Objective: makespan = the time the last job leaves its last machine.
"""

from __future__ import annotations

import heapq
from array import array

import numpy as np

from envs.jobshop.instance import Instance
from envs.jobshop.shutdowns import RepairTime, ShutdownProcess

# Job states
WAITING, PROCESSING, BLOCKED, DONE = 0, 1, 2, 3
# Operation (graph node) states
OP_WAITING, OP_READY, OP_PROCESSING, OP_BLOCKING, OP_DONE = 0, 1, 2, 3, 4


class Deadlock(RuntimeError):
    """Raised by helpers that need a finished schedule from a deadlocked (BNS) run."""


class Simulator:
    """One episode of the ISBJSSP on ``instance``.

    After construction the simulator has run up to the first decision. Loop::

        while not sim.done:
            sim.step(policy(sim))      # a job from sim.candidates

    ``seed`` fixes the shutdown sample path (common random numbers across policies).
    """

    def __init__(
        self,
        instance: Instance,
        shutdown_prob: float = 0.0,
        seed: int = 0,
        swaps: bool = True,
        repair: RepairTime | None = None,
        resume: bool = True,
    ) -> None:
        self.instance = instance
        self.shutdown_prob = float(shutdown_prob)
        self.seed = int(seed)
        self.swaps = swaps
        self.resume = resume
        self.shutdowns = ShutdownProcess(instance.n_machines, shutdown_prob, seed, repair)
        longest = int(instance.times.max())
        if not resume and self.shutdown_prob > 0 and (1 - self.shutdown_prob) ** longest < 1e-6:
            # an uninterrupted stretch of `longest` units would take > 1e6 repairs on average
            raise ValueError(
                f"restart-from-zero with shutdown probability {self.shutdown_prob:g}: an "
                f"operation of {longest} time units would practically never finish"
            )
        n, K = instance.n_jobs, instance.n_ops
        self.n_jobs, self.n_ops, self.n_machines = n, K, instance.n_machines
        self._mach: list[list[int]] = instance.machines.tolist()
        self._time: list[list[int]] = instance.times.tolist()

        self.t = 0
        self.next_op = [0] * n  # index of each job's next operation to start
        self.job_state = [WAITING] * n
        self.job_machine = [-1] * n  # machine a job holds (processing or blocking)
        self._ready_time = array("q", [0]) * n  # when the job's next operation became ready
        self.holder = [-1] * instance.n_machines
        self.waiting: list[set[int]] = [set() for _ in range(instance.n_machines)]
        # Per operation, flat index j * K + k. The event loop writes the Python arrays
        # (fast scalar writes); the numpy views share their memory, for the observation.
        self._t_start = array("q", [-1]) * (n * K)
        self._t_end = array("q", [-1]) * (n * K)
        self._t_leave = array("q", [-1]) * (n * K)
        self._status = bytearray(n * K)  # node status: OP_WAITING ... OP_DONE
        self._status[0::K] = bytes([OP_READY]) * n
        self._bind_views()

        self._events: list[tuple[int, int]] = []  # (completion time, job)
        self._dirty: set[int] = set()  # machines whose assignment must be re-examined
        self._decide: set[int] = set()  # free, up machines with >= 2 waiting jobs
        self._repair_wait: dict[int, int] = {}  # free machine with waiting jobs -> repair end
        self._pending_cycles: list[tuple[int, list[int]]] = []  # (retry time, cycle members)
        self.n_done = 0
        self.n_decisions = 0
        self.n_swaps = 0
        self.done = False
        self.deadlock = False

        for j in range(n):
            m0 = self._mach[j][0]
            self.waiting[m0].add(j)
            self._dirty.add(m0)
        self._advance()

    # ------------------------------------------------------------------ public API
    @property
    def candidates(self) -> list[int]:
        """Jobs the policy may send now (sorted)."""
        out: list[int] = []
        for i in self._decide:
            out.extend(self.waiting[i])
        out.sort()
        return out

    def action_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_jobs, dtype=bool)
        for i in self._decide:
            for j in self.waiting[i]:
                mask[j] = True
        return mask

    def step(self, job: int) -> int:
        """Send ``job`` to its next machine, then run to the next decision.

        Returns the time advanced (time units)."""
        if self.done:
            raise RuntimeError("episode is over")
        job = int(job)
        if not 0 <= job < self.n_jobs or self.job_state[job] in (PROCESSING, DONE):
            raise ValueError(f"job {job} cannot move now (candidates: {self.candidates})")
        target = self._mach[job][self.next_op[job]]
        if target not in self._decide or job not in self.waiting[target]:
            raise ValueError(f"job {job} cannot move now (candidates: {self.candidates})")
        t0 = self.t
        self.n_decisions += 1
        self._decide.discard(target)
        self._move(job, target)
        self._advance()
        return self.t - t0

    @property
    def makespan(self) -> int | None:
        if not self.done or self.deadlock:
            return None
        return max(self._t_leave)

    def remaining_work(self, job: int) -> int:
        """Processing time of the job's operations not yet started."""
        return sum(self._time[job][self.next_op[job] :])

    def schedule(self) -> dict:
        """The finished schedule in the JSON contract of the spec."""
        if not self.done:
            raise RuntimeError("schedule() needs a finished episode")
        if self.deadlock:
            raise Deadlock(f"{self.instance.name}: deadlock at t={self.t} (no swaps)")
        ops = []
        for j in range(self.n_jobs):
            for k in range(self.n_ops):
                ops.append(
                    {
                        "job": j,
                        "index": k,
                        "machine": self._mach[j][k],
                        "start": self._t_start[j * self.n_ops + k],
                        "end": self._t_end[j * self.n_ops + k],
                        "leave": self._t_leave[j * self.n_ops + k],
                    }
                )
        makespan = self.makespan
        downtime = [
            {"machine": i, "start": a, "end": b}
            for i in range(self.n_machines)
            for a, b in self.shutdowns.intervals(i, makespan)
        ]
        return {
            "instance": self.instance.name,
            "n_jobs": self.n_jobs,
            "n_machines": self.n_machines,
            "makespan": makespan,
            "shutdown_prob": self.shutdown_prob,
            "seed": self.seed,
            "swaps": self.swaps,
            "resume": self.resume,
            "operations": ops,
            "downtime": downtime,
        }

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
        new.next_op = list(self.next_op)
        new.job_state = list(self.job_state)
        new.job_machine = list(self.job_machine)
        new._ready_time = array("q", self._ready_time)
        new.holder = list(self.holder)
        new.waiting = [set(w) for w in self.waiting]
        new._t_start = array("q", self._t_start)
        new._t_end = array("q", self._t_end)
        new._t_leave = array("q", self._t_leave)
        new._status = bytearray(self._status)
        new._bind_views()
        new._events = list(self._events)
        new._dirty = set(self._dirty)
        new._decide = set(self._decide)
        new._repair_wait = dict(self._repair_wait)
        new._pending_cycles = [(w, list(m)) for w, m in self._pending_cycles]
        if future is None:
            new.shutdowns = self.shutdowns.copy()
            return new
        if not self.resume and future.active:
            raise ValueError("a resampled future needs the resume model (not --restart)")
        new.shutdowns = future
        if future.active:
            new._events = [(new._reschedule(job), job) for _, job in self._events]
            heapq.heapify(new._events)
        return new

    def work_left(self, job: int) -> int:
        """Processing still owed by ``job``'s operation in progress (resume model), from
        the past alone: its time minus the up time since it started."""
        t, i = self.t, self.job_machine[job]
        k = self.next_op[job] - 1
        start = self._t_start[job * self.n_ops + k]
        down = sum(max(0, min(b, t) - max(a, start)) for a, b in self.shutdowns.intervals(i, t))
        return self._time[job][k] - (t - start - down)

    def _reschedule(self, job: int) -> int:
        """New end of ``job``'s operation in progress under this sim's (new) disruptions."""
        i = self.job_machine[job]
        repaired = self.shutdowns.down_until(i, self.t)
        end = self.shutdowns.finish_time(i, max(self.t, repaired), self.work_left(job))
        self._t_end[job * self.n_ops + self.next_op[job] - 1] = end
        return end

    def _bind_views(self) -> None:
        """The numpy views over the event loop's arrays (shared memory, for observations)."""
        n, K = self.n_jobs, self.n_ops
        self.ready_time = np.frombuffer(self._ready_time, dtype=np.int64)
        self.start = np.frombuffer(self._t_start, dtype=np.int64).reshape(n, K)
        self.end = np.frombuffer(self._t_end, dtype=np.int64).reshape(n, K)
        self.leave = np.frombuffer(self._t_leave, dtype=np.int64).reshape(n, K)
        self.op_status = np.frombuffer(self._status, dtype=np.uint8)
        self.op_end = np.frombuffer(self._t_end, dtype=np.int64)  # flat view of `end`

    # ------------------------------------------------------------------ internals
    def _move(self, job: int, target: int) -> None:
        """Job leaves its machine (if any) and starts its next operation on ``target``."""
        t, K = self.t, self.n_ops
        k = self.next_op[job]
        src = self.job_machine[job]
        if src >= 0:
            self._t_leave[job * K + k - 1] = t
            self._status[job * K + k - 1] = OP_DONE
            self.holder[src] = -1
            self._dirty.add(src)
        self._start(job, target, k)

    def _start(self, job: int, target: int, k: int) -> None:
        t = self.t
        self.waiting[target].discard(job)
        self.holder[target] = job
        self.job_machine[job] = target
        self.job_state[job] = PROCESSING
        if self.shutdowns.active:
            end = self.shutdowns.finish_time(target, t, self._time[job][k], self.resume)
        else:
            end = t + self._time[job][k]
        node = job * self.n_ops + k
        self._t_start[node] = t
        self._t_end[node] = end
        self._status[node] = OP_PROCESSING
        self.next_op[job] = k + 1
        heapq.heappush(self._events, (end, job))

    def _complete(self, job: int) -> None:
        k = self.next_op[job] - 1
        i = self.job_machine[job]
        node = job * self.n_ops + k
        if k == self.n_ops - 1:
            self._t_leave[node] = self._t_end[node]
            self._status[node] = OP_DONE
            self.holder[i] = -1
            self.job_machine[job] = -1
            self.job_state[job] = DONE
            self.n_done += 1
            self._dirty.add(i)
            return
        self.job_state[job] = BLOCKED
        self._status[node] = OP_BLOCKING
        self._status[node + 1] = OP_READY
        self._ready_time[job] = self.t
        target = self._mach[job][k + 1]
        self.waiting[target].add(job)
        self._dirty.add(target)
        h = self.holder[target]
        if self.swaps and h >= 0 and self.job_state[h] == BLOCKED:
            self._try_cycle(job)

    def _try_cycle(self, job: int) -> bool:
        """Swap the cycle of blocked jobs through ``job`` if there is one and all its
        machines are up; remember it until a repair if one is down."""
        members = [job]
        cur = job
        while True:
            h = self.holder[self._mach[cur][self.next_op[cur]]]
            if h < 0 or self.job_state[h] != BLOCKED:
                return False
            if h == job:
                break
            if h in members:  # a cycle not through `job`: found from its own member
                return False
            members.append(h)
            cur = h
        wake = -1
        for m in members:
            wake = max(wake, self.shutdowns.down_until(self.job_machine[m], self.t))
        if wake >= 0:  # retry when the last of its down machines is repaired
            self._pending_cycles.append((wake, members))
            return False
        t, K = self.t, self.n_ops
        moves = [(m, self.job_machine[m], self._mach[m][self.next_op[m]]) for m in members]
        for m, _src, _ in moves:
            k = self.next_op[m]
            self._t_leave[m * K + k - 1] = t
            self._status[m * K + k - 1] = OP_DONE
        for m, _, target in moves:
            self._start(m, target, self.next_op[m])
        self.n_swaps += 1
        return True

    def _settle(self) -> None:
        """Apply everything that happens at time t without a choice."""
        t = self.t
        events, dirty = self._events, self._dirty
        while True:
            while events and events[0][0] <= t:
                _, job = heapq.heappop(events)
                self._complete(job)
            if not dirty:
                if events and events[0][0] <= t:
                    continue
                return
            i = dirty.pop()
            if self.holder[i] >= 0:
                self._decide.discard(i)
                continue
            waiting = self.waiting[i]
            if not waiting:
                self._decide.discard(i)
                self._repair_wait.pop(i, None)
                continue
            r = self.shutdowns.down_until(i, t)
            if r >= 0:
                self._repair_wait[i] = r
                self._decide.discard(i)
                continue
            self._repair_wait.pop(i, None)
            if len(waiting) == 1:
                self._move(next(iter(waiting)), i)
            else:
                self._decide.add(i)

    def _advance(self) -> None:
        """Run events until a decision is needed or the episode ends."""
        while True:
            if self._pending_cycles and min(w for w, _ in self._pending_cycles) <= self.t:
                pending, self._pending_cycles = self._pending_cycles, []
                for wake, members in pending:
                    if wake > self.t:
                        self._pending_cycles.append((wake, members))
                    elif all(self.job_state[m] == BLOCKED for m in members):
                        self._try_cycle(members[0])
            self._settle()
            if self._decide:
                return
            if self.n_done == self.n_jobs:
                self.done = True
                return
            t_next = self._events[0][0] if self._events else None
            for r in self._repair_wait.values():
                if t_next is None or r < t_next:
                    t_next = r
            for wake, _ in self._pending_cycles:
                if t_next is None or wake < t_next:
                    t_next = wake
            if t_next is None:
                self.done = True
                self.deadlock = True
                return
            self.t = t_next
            for i, r in list(self._repair_wait.items()):
                if r <= t_next:
                    self._dirty.add(i)
