"""Compiled (numba) event loop of the ISBJSSP simulator and its graph observation.

``sim.py`` (the contract, the public API, forks) and ``shutdowns.py`` (the random
downtime paths, drawn with numpy's generators) own the state; the functions here only
read and write its arrays. The rules are those of the pure-Python loop they replace,
statement for statement, and ``tests/envs/jobshop/test_sim_golden.py`` pins them to
traces recorded with it: the same decisions, schedules and observations bit for bit.

State layout (all int64 unless noted; n jobs, K operations per job, m machines):

- ``js`` (5, n): rows ``NEXT_OP`` (each job's next operation), ``STATE`` (WAITING ...
  DONE), ``MACHINE`` (the machine a job holds, -1 if none), ``READY`` (when its next
  operation became ready) and ``WAITS`` (1 while it waits for its next machine: a job
  waits for at most one machine, so the per-machine waiting sets are a per-job flag).
- ``ms`` (8, m): ``HOLDER`` (-1 if free), ``N_WAIT`` and ``SUM_WAIT`` (count and sum of
  the waiting jobs' ids: with one waiting job the sum is that job), ``DECIDE`` (free and
  up with >= 2 waiting; ``reserve`` model: or one waiting and one on its way),
  ``REPAIR_WAIT`` (repair end of a free, down machine with waiting jobs, else -1),
  ``DIRTY`` (queued for re-examination), ``N_INCOMING`` (jobs in process whose next
  operation is on the machine), ``RESERVED`` (``reserve`` model: the job a free machine
  is kept for, else -1) and ``PLAN_NEXT`` (following a plan: how many of the machine's
  planned operations have started).
- ``ops`` (4, n*K): start, end, leave time per operation (-1 = not yet) and ``RANK``
  (following a plan: the operation's place in its machine's planned sequence, else -1);
  ``status`` (uint8, n*K).
- ``heap`` (n): operation completions as a binary min-heap of ``end * n + job`` (the
  order of the tuples (end, job)); ``dirty`` (m): a stack of queued machines.
- ``pend`` (3, 2n) and ``pool`` (2n): cycles waiting for a repair (wake, offset, length)
  and their members.
- ``sc`` (``N_SCALARS``): the clock and the counters below.
- downtime: ``starts``, ``ends`` (m, capacity), ``count`` and ``ptr`` (m) from
  ``ShutdownProcess``, and ``sc[SAFE]``: the loop never runs past it (see
  ``ShutdownProcess.safe_until``); it returns ``NEED_INTERVALS`` there instead, the caller
  draws more intervals and calls again (every stop point is a consistent state).

Dirty machines are examined in stack order, not in the Python set's order: settling is
confluent (a forced move on one machine changes no other machine's waiting jobs), so the
order changes nothing, which the golden traces confirm, zero-length operations included.
"""

from __future__ import annotations

import numba
import numpy as np

# Job states, operation states (shared with sim.py)
WAITING, PROCESSING, BLOCKED, DONE = 0, 1, 2, 3
OP_WAITING, OP_READY, OP_PROCESSING, OP_BLOCKING, OP_DONE = 0, 1, 2, 3, 4

# js rows
NEXT_OP, STATE, MACHINE, READY, WAITS = 0, 1, 2, 3, 4
# ms rows
HOLDER, N_WAIT, SUM_WAIT, DECIDE, REPAIR_WAIT, DIRTY, N_INCOMING, RESERVED, PLAN_NEXT = range(9)
N_MACHINE_ROWS = 9
# ops rows
START, END, LEAVE, RANK = 0, 1, 2, 3
N_OP_ROWS = 4
# sc entries
T, HEAP_SIZE, DIRTY_TOP, N_DONE, N_DECISIONS, N_SWAPS = 0, 1, 2, 3, 4, 5
IS_DONE, DEADLOCK, N_PENDING, POOL_USED, ACTIVE, RESUME, SWAPS, SAFE = 6, 7, 8, 9, 10, 11, 12, 13
RESERVE = 14  # 1: the ``reserve`` decision model (see sim.py), 0: non-delay, 2: a plan
PLAN = 2  # sc[RESERVE] when the machines follow a plan's sequences (no decisions)
N_SCALARS = 15
# advance() results
OK, NEED_INTERVALS = 0, 1
# finish_with_rule() rules, in the order of rlsys.jobshop.rules.RULES
SPT, LPT, MWKR, LWKR, MOR, LOR, FIFO = range(7)

_jit = numba.njit(cache=True, nogil=True)


# --------------------------------------------------------------------------- downtime
@_jit
def down_until(starts, ends, count, ptr, i, t):
    """Repair time of machine i if it is down at t, else -1; moves ptr[i] forward.

    Needs an interval of machine i that ends after t (``t < ends[i, count[i] - 1]``)."""
    p = ptr[i]
    if ends[i, p] <= t:
        while p < count[i] and ends[i, p] <= t:
            p += 1
        ptr[i] = p
    return ends[i, p] if starts[i, p] <= t else -1


@_jit
def finish_time(starts, ends, count, ptr, i, start, work, resume):
    """When ``work`` units started at ``start`` on machine i end, or -1 if the known
    intervals do not reach that far (never inside the loop: see SAFE)."""
    if work == 0:
        return start
    k = ptr[i]
    cur = start
    rem = work
    while k < count[i]:
        a = starts[i, k]
        b = ends[i, k]
        k += 1
        if b <= cur:
            continue
        if cur + rem <= a:
            return cur + rem
        if resume:
            rem -= a - cur
        cur = b
    return -1


@_jit
def safe_until(starts, ends, count, work, resume):
    """Latest time t such that on every machine the drawn intervals answer down_until at
    t and finish_time of ``work`` units started at any s <= t (see ShutdownProcess).

    resume: the up-time in [t, last start) must be >= work; restart: an up gap of length
    >= work must begin at or after t. The gap before the first interval is unbounded."""
    safe = np.iinfo(np.int64).max
    for i in range(starts.shape[0]):
        acc = 0  # resume: up-time from the gap after k to the last start
        best = -1
        found = False
        for k in range(count[i] - 1, 0, -1):
            gap = starts[i, k] - ends[i, k - 1]
            if resume:
                if acc + gap >= work:
                    best, found = starts[i, k] - (work - acc), True
                    break
                acc += gap
            elif gap >= work:
                best, found = starts[i, k] - work, True
                break
        if not found:  # the unbounded gap before the first interval
            best = starts[i, 0] - (work - acc if resume else work)
        safe = min(safe, best)
    return safe


# --------------------------------------------------------------------------- heap
@_jit
def _heap_push(heap, sc, key):
    k = sc[HEAP_SIZE]
    sc[HEAP_SIZE] = k + 1
    while k > 0:
        parent = (k - 1) >> 1
        if heap[parent] <= key:
            break
        heap[k] = heap[parent]
        k = parent
    heap[k] = key


@_jit
def _heap_pop(heap, sc):
    top = heap[0]
    size = sc[HEAP_SIZE] - 1
    sc[HEAP_SIZE] = size
    if size > 0:
        last = heap[size]
        k = 0
        while True:
            child = 2 * k + 1
            if child >= size:
                break
            if child + 1 < size and heap[child + 1] < heap[child]:
                child += 1
            if heap[child] >= last:
                break
            heap[k] = heap[child]
            k = child
        heap[k] = last
    return top


# --------------------------------------------------------------------------- helpers
@_jit
def _mark_dirty(ms, dirty, sc, i):
    if ms[DIRTY, i] == 0:
        ms[DIRTY, i] = 1
        dirty[sc[DIRTY_TOP]] = i
        sc[DIRTY_TOP] += 1


@_jit
def _add_waiting(js, ms, j, i):
    js[WAITS, j] = 1
    ms[N_WAIT, i] += 1
    ms[SUM_WAIT, i] += j


@_jit
def _start(js, ms, ops, status, heap, sc, mach, times, starts, ends, count, ptr, job, target, k):
    t = sc[T]
    n = js.shape[1]
    n_ops = mach.shape[1]
    if js[WAITS, job] == 1:  # leaves the machine's waiting jobs
        js[WAITS, job] = 0
        ms[N_WAIT, target] -= 1
        ms[SUM_WAIT, target] -= job
    ms[HOLDER, target] = job
    js[MACHINE, job] = target
    js[STATE, job] = PROCESSING
    if sc[RESERVE] == PLAN:
        ms[PLAN_NEXT, target] += 1
    if sc[ACTIVE]:
        end = finish_time(starts, ends, count, ptr, target, t, times[job, k], sc[RESUME] == 1)
        if end < 0:
            raise RuntimeError("downtime intervals exhausted inside the loop (SAFE is wrong)")
    else:
        end = t + times[job, k]
    node = job * n_ops + k
    ops[START, node] = t
    ops[END, node] = end
    status[node] = OP_PROCESSING
    js[NEXT_OP, job] = k + 1
    if k + 1 < n_ops:
        ms[N_INCOMING, mach[job, k + 1]] += 1
    _heap_push(heap, sc, end * n + job)


@_jit
def move(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
         pend, pool, job, target):  # fmt: skip
    """Job leaves its machine (if any) and starts its next operation on ``target``
    (``pend`` and ``pool`` unused: the state arguments are those of ``advance``)."""
    n_ops = mach.shape[1]
    k = js[NEXT_OP, job]
    src = js[MACHINE, job]
    if src >= 0:
        ops[LEAVE, job * n_ops + k - 1] = sc[T]
        status[job * n_ops + k - 1] = OP_DONE
        ms[HOLDER, src] = -1
        _mark_dirty(ms, dirty, sc, src)
    _start(js, ms, ops, status, heap, sc, mach, times, starts, ends, count, ptr, job, target, k)


@_jit
def _append_pending(pend, pool, sc, wake, members, n_members):
    c = sc[N_PENDING]
    off = sc[POOL_USED]
    if c >= pend.shape[1] or off + n_members > pool.shape[0]:
        raise RuntimeError("pending-cycle table full")
    pend[0, c] = wake
    pend[1, c] = off
    pend[2, c] = n_members
    pool[off : off + n_members] = members[:n_members]
    sc[N_PENDING] = c + 1
    sc[POOL_USED] = off + n_members


@_jit
def _try_cycle(js, ms, ops, status, heap, sc, mach, times, starts, ends, count, ptr,
               pend, pool, job):  # fmt: skip
    """Swap the cycle of blocked jobs through ``job`` if there is one and all its
    machines are up; remember it until a repair if one is down."""
    n = js.shape[1]
    n_ops = mach.shape[1]
    members = np.empty(n, dtype=np.int64)
    members[0] = job
    n_members = 1
    cur = job
    while True:
        h = ms[HOLDER, mach[cur, js[NEXT_OP, cur]]]
        if h < 0 or js[STATE, h] != BLOCKED:
            return False
        if h == job:
            break
        for q in range(1, n_members):  # a cycle not through `job`: found from its own member
            if members[q] == h:
                return False
        members[n_members] = h
        n_members += 1
        cur = h
    if sc[RESERVE] == PLAN:  # each member must be the next planned job of its machine
        for q in range(n_members):
            m = members[q]
            k = js[NEXT_OP, m]
            if ops[RANK, m * n_ops + k] != ms[PLAN_NEXT, mach[m, k]]:
                return False
    wake = -1
    if sc[ACTIVE]:
        for q in range(n_members):
            m = members[q]
            wake = max(wake, down_until(starts, ends, count, ptr, js[MACHINE, m], sc[T]))
    if wake >= 0:  # retry when the last of its down machines is repaired
        _append_pending(pend, pool, sc, wake, members, n_members)
        return False
    t = sc[T]
    targets = np.empty(n_members, dtype=np.int64)
    for q in range(n_members):
        m = members[q]
        k = js[NEXT_OP, m]
        targets[q] = mach[m, k]
        ops[LEAVE, m * n_ops + k - 1] = t
        status[m * n_ops + k - 1] = OP_DONE
    for q in range(n_members):
        m = members[q]
        _start(js, ms, ops, status, heap, sc, mach, times, starts, ends, count, ptr,
               m, targets[q], js[NEXT_OP, m])  # fmt: skip
    sc[N_SWAPS] += 1
    return True


@_jit
def _complete(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
              pend, pool, job):  # fmt: skip
    n_ops = mach.shape[1]
    k = js[NEXT_OP, job] - 1
    i = js[MACHINE, job]
    node = job * n_ops + k
    if k == n_ops - 1:
        ops[LEAVE, node] = ops[END, node]
        status[node] = OP_DONE
        ms[HOLDER, i] = -1
        js[MACHINE, job] = -1
        js[STATE, job] = DONE
        sc[N_DONE] += 1
        _mark_dirty(ms, dirty, sc, i)
        return
    js[STATE, job] = BLOCKED
    status[node] = OP_BLOCKING
    status[node + 1] = OP_READY
    js[READY, job] = sc[T]
    target = mach[job, k + 1]
    ms[N_INCOMING, target] -= 1
    _add_waiting(js, ms, job, target)
    _mark_dirty(ms, dirty, sc, target)
    h = ms[HOLDER, target]
    if sc[SWAPS] and h >= 0 and js[STATE, h] == BLOCKED:
        _try_cycle(js, ms, ops, status, heap, sc, mach, times, starts, ends, count, ptr,
                   pend, pool, job)  # fmt: skip


@_jit
def _settle(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
            pend, pool):  # fmt: skip
    """Apply everything that happens at time t without a choice."""
    t = sc[T]
    n = js.shape[1]
    while True:
        while sc[HEAP_SIZE] > 0 and heap[0] // n <= t:
            job = _heap_pop(heap, sc) % n
            _complete(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count,
                      ptr, pend, pool, job)  # fmt: skip
        if sc[DIRTY_TOP] == 0:
            if sc[HEAP_SIZE] > 0 and heap[0] // n <= t:
                continue
            return
        sc[DIRTY_TOP] -= 1
        i = dirty[sc[DIRTY_TOP]]
        ms[DIRTY, i] = 0
        if ms[HOLDER, i] >= 0:
            ms[DECIDE, i] = 0
            continue
        if ms[N_WAIT, i] == 0:
            ms[DECIDE, i] = 0
            ms[REPAIR_WAIT, i] = -1
            continue
        r = down_until(starts, ends, count, ptr, i, t) if sc[ACTIVE] else -1
        if r >= 0:
            ms[REPAIR_WAIT, i] = r
            ms[DECIDE, i] = 0
            continue
        ms[REPAIR_WAIT, i] = -1
        held = ms[RESERVED, i]
        if sc[RESERVE] == PLAN:  # only the machine's next planned job may take it
            ms[DECIDE, i] = 0
            want = ms[PLAN_NEXT, i]
            n_ops = mach.shape[1]
            for j in range(n):
                k = js[NEXT_OP, j]
                if js[WAITS, j] == 1 and mach[j, k] == i and ops[RANK, j * n_ops + k] == want:
                    move(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends,
                         count, ptr, pend, pool, j, i)  # fmt: skip
                    break
        elif held >= 0:  # kept for a job: it goes once it waits here, the others wait
            ms[DECIDE, i] = 0
            if js[WAITS, held] == 1:
                ms[RESERVED, i] = -1
                move(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count,
                     ptr, pend, pool, held, i)  # fmt: skip
        elif ms[N_WAIT, i] == 1 and (sc[RESERVE] == 0 or ms[N_INCOMING, i] == 0):
            move(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
                 pend, pool, ms[SUM_WAIT, i], i)  # fmt: skip
        else:
            ms[DECIDE, i] = 1


@_jit
def advance(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
            pend, pool):  # fmt: skip
    """Run events until a decision is needed or the episode ends (OK), or until the
    clock passes SAFE (NEED_INTERVALS: draw more downtime intervals and call again)."""
    n = js.shape[1]
    m = ms.shape[1]
    while True:
        if sc[ACTIVE] and sc[T] > sc[SAFE]:
            return NEED_INTERVALS
        t = sc[T]
        n_pending = sc[N_PENDING]
        if n_pending > 0:
            earliest = pend[0, 0]
            for c in range(1, n_pending):
                earliest = min(earliest, pend[0, c])
            if earliest <= t:
                # take the list out, keep what still waits, retry the rest in order
                old = pend[:, :n_pending].copy()
                old_pool = pool[: sc[POOL_USED]].copy()
                sc[N_PENDING] = 0
                sc[POOL_USED] = 0
                for c in range(n_pending):
                    wake, off, length = old[0, c], old[1, c], old[2, c]
                    members = old_pool[off : off + length]
                    if wake > t:
                        _append_pending(pend, pool, sc, wake, members, length)
                        continue
                    blocked = True
                    for q in range(length):
                        if js[STATE, members[q]] != BLOCKED:
                            blocked = False
                            break
                    if blocked:
                        _try_cycle(js, ms, ops, status, heap, sc, mach, times, starts, ends,
                                   count, ptr, pend, pool, members[0])  # fmt: skip
        _settle(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
                pend, pool)  # fmt: skip
        for i in range(m):
            if ms[DECIDE, i]:
                return OK
        if sc[N_DONE] == n:
            sc[IS_DONE] = 1
            return OK
        t_next = heap[0] // n if sc[HEAP_SIZE] > 0 else -1
        for i in range(m):
            r = ms[REPAIR_WAIT, i]
            if r >= 0 and (t_next < 0 or r < t_next):
                t_next = r
        for c in range(sc[N_PENDING]):
            wake = pend[0, c]
            if t_next < 0 or wake < t_next:
                t_next = wake
        if t_next < 0:
            sc[IS_DONE] = 1
            sc[DEADLOCK] = 1
            return OK
        sc[T] = t_next
        for i in range(m):
            r = ms[REPAIR_WAIT, i]
            if r >= 0 and r <= t_next:
                _mark_dirty(ms, dirty, sc, i)


@_jit
def dispatch(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
             pend, pool, job):  # fmt: skip
    """Send candidate ``job`` to its next machine (one on its way: keep the machine for
    it); the caller then runs ``advance``."""
    target = mach[job, js[NEXT_OP, job]]
    sc[N_DECISIONS] += 1
    ms[DECIDE, target] = 0
    if js[WAITS, job]:
        move(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
             pend, pool, job, target)  # fmt: skip
    else:  # on its way: the machine waits for it (the settling loop moves it in)
        ms[RESERVED, target] = job


@_jit
def _rule_key(js, times, rule, j):
    """Job j's priority under ``rule`` (lower goes first): the keys of rules.py."""
    k = js[NEXT_OP, j]
    if rule == SPT:
        return times[j, k]
    if rule == LPT:
        return -times[j, k]
    if rule == MWKR or rule == LWKR:
        work = 0
        for q in range(k, times.shape[1]):
            work += times[j, q]
        return -work if rule == MWKR else work
    if rule == MOR:
        return k
    if rule == LOR:
        return -k
    return js[READY, j]  # FIFO


@_jit
def finish_with_rule(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count,
                     ptr, pend, pool, rule, waiting_only):  # fmt: skip
    """Run to the end, every decision by ``rule`` (ties: the lowest job); with
    ``waiting_only`` among the candidates that wait, if any (``Simulator.finish_with_rule``).
    Returns OK at the end, NEED_INTERVALS as ``advance`` does (call again after drawing)."""
    n = js.shape[1]
    while True:
        if advance(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
                   pend, pool) == NEED_INTERVALS:  # fmt: skip
            return NEED_INTERVALS
        if sc[IS_DONE]:
            return OK
        best = -1
        best_key = 0
        for only_waiting in (waiting_only, False):
            for j in range(n):
                if only_waiting and js[WAITS, j] == 0:
                    continue
                if not is_candidate(js, ms, sc, mach, j):
                    continue
                key = _rule_key(js, times, rule, j)
                if best < 0 or key < best_key:
                    best, best_key = j, key
            if best >= 0:
                break
        dispatch(js, ms, ops, status, heap, dirty, sc, mach, times, starts, ends, count, ptr,
                 pend, pool, best)  # fmt: skip


@_jit
def queue_first_operations(js, ms, dirty, sc, mach):
    """At t = 0 every job waits for the machine of its first operation."""
    for j in range(js.shape[1]):
        _add_waiting(js, ms, j, mach[j, 0])
        _mark_dirty(ms, dirty, sc, mach[j, 0])


@_jit
def is_candidate(js, ms, sc, mach, j):
    """Job j may be chosen now: it waits for a machine that needs a decision, or
    (``reserve`` model) it is in process and its next machine needs one."""
    k = js[NEXT_OP, j]
    if js[WAITS, j] == 1:
        return ms[DECIDE, mach[j, k]] == 1
    if sc[RESERVE] == 1 and js[STATE, j] == PROCESSING and k < mach.shape[1]:
        return ms[DECIDE, mach[j, k]] == 1
    return False


@_jit
def candidates(js, ms, sc, mach):
    """Jobs the policy may send now, ascending."""
    n = js.shape[1]
    out = np.empty(n, dtype=np.int64)
    c = 0
    for j in range(n):
        if is_candidate(js, ms, sc, mach, j):
            out[c] = j
            c += 1
    return out[:c]


# --------------------------------------------------------------------------- observation
@_jit
def observe_into(js, ms, ops, status, sc, mach, starts, ends, count, ptr,
                 status_rows, status_weight, static, inv_scale, feats, mfeats, mask, alive,
                 job_op, alive_of_status):  # fmt: skip
    """Fill the graph observation's arrays (see env.py): float32 arithmetic where numpy
    does it in float32 (the per-status part), float64 then rounded where numpy rounds a
    Python float into a float32 array (the time features)."""
    n = js.shape[1]
    n_ops = mach.shape[1]
    width = feats.shape[1]
    t = sc[T]
    for node in range(n * n_ops):
        s = status[node]
        alive[node] = alive_of_status[s]
        for c in range(width):
            v = status_rows[s, c] * status_weight[node, c]
            feats[node, c] = v + static[node, c]
    for j in range(n):
        state = js[STATE, j]
        k = js[NEXT_OP, j]
        if state == PROCESSING:  # its operation in progress is next_op - 1
            node = j * n_ops + k - 1
            feats[node, 9] = (ops[END, node] - t) * inv_scale
        elif state != DONE:  # waiting or blocked: its next operation is ready
            feats[j * n_ops + k, 8] = (t - js[READY, j]) * inv_scale
        mask[j] = 0
        if not sc[IS_DONE] and is_candidate(js, ms, sc, mach, j):
            mask[j] = 1
            feats[j * n_ops + k, 10] = 1.0
        job_op[j] = j * n_ops + min(k, n_ops - 1)
    inv_n = 1.0 / n
    for i in range(ms.shape[1]):
        repair_end = down_until(starts, ends, count, ptr, i, t) if sc[ACTIVE] else -1
        h = ms[HOLDER, i]
        mfeats[i, 0] = 1.0 if repair_end >= 0 else 0.0
        mfeats[i, 1] = (repair_end - t) * inv_scale if repair_end >= 0 else 0.0
        # ``reserve`` model: a machine kept for a job counts as occupied (it takes no other)
        mfeats[i, 2] = 1.0 if h >= 0 or ms[RESERVED, i] >= 0 else 0.0
        mfeats[i, 3] = 1.0 if h >= 0 and js[STATE, h] == BLOCKED else 0.0
        mfeats[i, 4] = ms[N_WAIT, i] * inv_n
