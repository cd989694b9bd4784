from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from envs.jobshop.instance import Instance, load_instance, random_instance
from rlsys.jobshop.cpsat import SolveResult, solve_bws

# ---------------------------------------------------------------------------------------
# Independent checks (no dependency on the simulator or a validator module)
# ---------------------------------------------------------------------------------------


def check_schedule(inst: Instance, schedule: dict) -> None:
    """Assert that ``schedule`` is a valid p = 0 blocking schedule of ``inst`` in the
    schedule-JSON contract (swaps allowed)."""
    assert schedule["instance"] == inst.name
    assert (schedule["n_jobs"], schedule["n_machines"]) == (inst.n_jobs, inst.n_machines)
    assert schedule["downtime"] == []
    json.dumps(schedule)  # plain Python types only
    ops = {(op["job"], op["index"]): op for op in schedule["operations"]}
    assert len(ops) == len(schedule["operations"]) == inst.n_jobs * inst.n_ops
    for (j, k), op in ops.items():
        assert all(type(op[key]) is int for key in ("job", "index", "machine", "start", "end"))
        assert type(op["leave"]) is int
        assert op["machine"] == inst.machines[j, k]
        assert op["start"] >= 0
        assert op["end"] - op["start"] == inst.times[j, k]
        if k + 1 < inst.n_ops:
            assert ops[j, k + 1]["start"] == op["leave"]
        else:
            assert op["leave"] == op["end"]
    for machine in range(inst.n_machines):
        spans = sorted(
            (op["start"], op["leave"]) for op in ops.values() if op["machine"] == machine
        )
        for (_, leave_a), (start_b, _) in itertools.pairwise(spans):
            assert leave_a <= start_b, f"machine {machine}: {spans}"
    assert schedule["makespan"] == max(op["leave"] for op in ops.values())


def has_swap(schedule: dict) -> bool:
    """True when some jobs move in a cycle at one instant (a swap).

    Hand-over arc: job b arrives on machine M at the instant job a leaves M for its next
    operation; it goes from a's arrival there to b's arrival on M. A swap is a cycle."""
    ops = {(op["job"], op["index"]): op for op in schedule["operations"]}
    arcs: dict[tuple[int, int], list[tuple[int, int]]] = {}
    by_machine: dict[int, list[dict]] = {}
    for op in ops.values():
        by_machine.setdefault(op["machine"], []).append(op)
    for seq in by_machine.values():
        seq.sort(key=lambda op: op["start"])
        for a, b in itertools.pairwise(seq):
            departs = (a["job"], a["index"] + 1)
            if departs in ops and b["index"] > 0 and b["start"] == a["leave"]:
                arcs.setdefault(departs, []).append((b["job"], b["index"]))
    state: dict[tuple[int, int], int] = {}  # 1 = on the DFS stack, 2 = done

    def cyclic(node) -> bool:
        state[node] = 1
        for nxt in arcs.get(node, []):
            if state.get(nxt) == 1 or (nxt not in state and cyclic(nxt)):
                return True
        state[node] = 2
        return False

    return any(node not in state and cyclic(node) for node in list(arcs))


def brute_force_optimum(inst: Instance, swaps: bool) -> int:
    """Optimal makespan by enumerating every job order on every machine.

    For a fixed order the earliest schedule is a longest path in a graph with job arcs
    (j, k) -> (j, k+1) of weight p and blocking arcs "b starts after a leaves" of weight
    0 (a's next start) or p (a's last operation). With p > 0 a zero-weight cycle is made
    of hand-overs only, i.e. a swap: BWS needs no positive cycle, BNS no cycle at all."""
    assert (inst.times > 0).all()
    n, n_ops = inst.n_jobs, inst.n_ops
    nodes = [(j, k) for j in range(n) for k in range(n_ops)]
    job_arcs = [
        ((j, k), (j, k + 1), int(inst.times[j, k])) for j in range(n) for k in range(n_ops - 1)
    ]
    op_on = {(j, int(inst.machines[j, k])): k for j in range(n) for k in range(n_ops)}
    best = None
    for orders in itertools.product(itertools.permutations(range(n)), repeat=inst.n_machines):
        arcs = list(job_arcs)
        for machine, order in enumerate(orders):
            for a, b in itertools.pairwise(order):
                ka, kb = op_on[a, machine], op_on[b, machine]
                if ka + 1 < n_ops:
                    arcs.append(((a, ka + 1), (b, kb), 0))
                else:
                    arcs.append(((a, ka), (b, kb), int(inst.times[a, ka])))
        start = dict.fromkeys(nodes, 0)
        for _ in range(len(nodes) + 1):
            changed = False
            for u, v, w in arcs:
                if start[u] + w > start[v]:
                    start[v], changed = start[u] + w, True
            if not changed:
                break
        if changed:
            continue  # positive cycle: infeasible even with swaps
        if not swaps and _has_cycle(nodes, arcs):
            continue
        makespan = max(start[j, n_ops - 1] + int(inst.times[j, n_ops - 1]) for j in range(n))
        best = makespan if best is None else min(best, makespan)
    return best


def _has_cycle(nodes, arcs) -> bool:
    indegree = dict.fromkeys(nodes, 0)
    out: dict = {u: [] for u in nodes}
    for u, v, _ in arcs:
        out[u].append(v)
        indegree[v] += 1
    ready = [u for u in nodes if indegree[u] == 0]
    seen = 0
    while ready:
        u = ready.pop()
        seen += 1
        for v in out[u]:
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    return seen < len(nodes)


def permutation_schedule(inst: Instance) -> dict:
    """Jobs run one after another: always feasible, makespan = sum of all times."""
    ops, t = [], 0
    for j in range(inst.n_jobs):
        for k in range(inst.n_ops):
            p = int(inst.times[j, k])
            ops.append(
                {"job": j, "index": k, "machine": int(inst.machines[j, k])}
                | {"start": t, "end": t + p, "leave": t + p}
            )
            t += p
    return {
        "instance": inst.name,
        "n_jobs": inst.n_jobs,
        "n_machines": inst.n_machines,
        "makespan": t,
        "operations": ops,
        "downtime": [],
    }


# 2 jobs crossing over 2 machines: with a swap both run at once (makespan 2); without,
# one job must wait until the other has left its machine for good (makespan 4).
CROSSING = Instance("crossing", np.array([[0, 1], [1, 0]]), np.array([[1, 1], [1, 1]]))


# ---------------------------------------------------------------------------------------
# The checkers themselves must be able to fail
# ---------------------------------------------------------------------------------------


def test_checkers_reject_broken_schedules():
    inst = load_instance("ft06")
    good = permutation_schedule(inst)
    check_schedule(inst, good)
    assert not has_swap(good)

    overlap = json.loads(json.dumps(good))
    first = overlap["operations"][inst.n_ops]  # job 1 arrives at 0, while job 0 runs
    first["start"], first["end"] = 0, int(inst.times[1, 0])
    with pytest.raises(AssertionError):
        check_schedule(inst, overlap)

    gap = json.loads(json.dumps(good))
    gap["operations"][0]["leave"] += 1  # leave no longer equals the next start
    with pytest.raises(AssertionError):
        check_schedule(inst, gap)

    swapped = solve_bws(CROSSING, time_limit=10).schedule
    assert has_swap(swapped)


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------


def test_ft06_reaches_and_proves_bws_optimum():
    inst = load_instance("ft06")
    result = solve_bws(inst, time_limit=60)
    assert isinstance(result, SolveResult)
    assert (result.status, result.makespan, result.lower_bound) == ("optimal", 63, 63)
    assert result.wall_time > 0
    check_schedule(inst, result.schedule)
    assert result.schedule["makespan"] == 63


def test_la01_reaches_and_proves_bws_optimum():
    # About 1 s on one idle core; the limit leaves room for a loaded 2-core machine.
    inst = load_instance("la01")
    result = solve_bws(inst, time_limit=60)
    assert (result.status, result.makespan, result.lower_bound) == ("optimal", 793, 793)
    check_schedule(inst, result.schedule)


def test_swaps_are_what_makes_the_crossing_fast():
    bws = solve_bws(CROSSING, time_limit=10)
    bns = solve_bws(CROSSING, time_limit=10, swaps=False)
    assert (bws.status, bws.makespan) == ("optimal", 2)
    assert (bns.status, bns.makespan) == ("optimal", 4)
    check_schedule(CROSSING, bws.schedule)
    check_schedule(CROSSING, bns.schedule)
    assert has_swap(bws.schedule) and not has_swap(bns.schedule)


# Tiny shapes whose every machine order can be enumerated (the 4x3 ones take ~1 s each);
# times in 1..3 make simultaneous hand-overs, and so swaps, common.
BRUTE_FORCE = [(3, 3, s) for s in range(6)] + [(3, 4, s) for s in range(6)] + [(4, 3, 0)]


@pytest.mark.parametrize(("n_jobs", "n_machines", "seed"), BRUTE_FORCE)
def test_optimum_matches_brute_force(n_jobs, n_machines, seed):
    inst = random_instance(n_jobs, n_machines, seed=seed, low=1, high=3)
    for swaps in (True, False):
        result = solve_bws(inst, time_limit=30, swaps=swaps)
        assert result.status == "optimal"
        assert result.makespan == result.lower_bound
        assert result.makespan == brute_force_optimum(inst, swaps=swaps), swaps
        check_schedule(inst, result.schedule)
        if not swaps:
            assert not has_swap(result.schedule)


def test_brute_force_sees_swaps_matter():
    # Guards the test above: on most of its instances forbidding swaps costs time.
    gaps = [
        brute_force_optimum(inst, swaps=False) - brute_force_optimum(inst, swaps=True)
        for inst in (random_instance(3, 3, seed=s, low=1, high=3) for s in range(6))
    ]
    assert min(gaps) >= 0 and sum(g > 0 for g in gaps) >= 3


def test_bns_ft06_is_valid_and_no_better_than_bws():
    inst = load_instance("ft06")
    result = solve_bws(inst, time_limit=60, swaps=False)
    assert result.status == "optimal" and result.makespan >= 63
    check_schedule(inst, result.schedule)
    assert not has_swap(result.schedule)


def test_hint_is_accepted_and_keeps_the_best():
    inst = load_instance("ft06")
    result = solve_bws(inst, time_limit=60, hint=permutation_schedule(inst))
    assert (result.status, result.makespan) == ("optimal", 63)
    check_schedule(inst, result.schedule)


def test_hint_warm_starts_a_short_solve():
    # On this 15x10 instance a cold 0.5-1 s solve ends 5-15% above what 2 s reach; with
    # that 2 s schedule as hint, a 1 s solve must start from it and so do no worse.
    inst = random_instance(15, 10, seed=1)
    reference = solve_bws(inst, time_limit=2)
    assert reference.schedule is not None
    warm = solve_bws(inst, time_limit=1, hint=reference.schedule)
    assert warm.makespan is not None and warm.makespan <= reference.makespan
    check_schedule(inst, warm.schedule)


def test_bad_inputs_are_refused():
    other = load_instance("la01")
    with pytest.raises(ValueError, match="lacks"):
        solve_bws(load_instance("ft06"), time_limit=1, hint=permutation_schedule(other))
    zero = Instance("zero", np.array([[0, 1], [1, 0]]), np.array([[1, 0], [1, 1]]))
    assert solve_bws(zero, time_limit=5).status == "optimal"
    with pytest.raises(ValueError, match="times > 0"):
        solve_bws(zero, time_limit=5, swaps=False)


@pytest.mark.parametrize("seed", [0, 1])
def test_clairvoyant_solve_is_valid_and_bounds_every_policy_on_its_seed(seed):
    """Against seed s's downtime known in advance (p = 0.05): a valid schedule (the
    independent validator, downtime included), optimal, no worse than any dispatching
    rule on the same seed and no better than the p = 0 optimum."""
    from envs.jobshop.schedule import validate
    from envs.jobshop.shutdowns import ShutdownProcess
    from envs.jobshop.sim import Simulator
    from rlsys.jobshop.rules import RULES, run_rule

    inst = load_instance("ft06")
    downtime = ShutdownProcess(inst.n_machines, 0.05, seed)
    result = solve_bws(inst, time_limit=30, downtime=downtime)
    assert result.status == "optimal" and result.makespan == result.lower_bound
    validate(result.schedule, inst)
    assert result.schedule["downtime"] and result.schedule["clairvoyant"]
    interrupted = [
        op for op in result.schedule["operations"]
        if op["end"] - op["start"] > inst.times[op["job"], op["index"]]
    ]  # fmt: skip
    assert interrupted, "no operation overlapped a repair: the test would not see the tables"
    rules = [run_rule(Simulator(inst, 0.05, seed), rule).makespan for rule in RULES.values()]
    assert result.makespan <= min(rules)
    assert result.makespan >= solve_bws(inst, time_limit=30).makespan


def test_clairvoyant_without_downtime_is_the_plain_solve():
    from envs.jobshop.shutdowns import ShutdownProcess

    inst = random_instance(4, 3, seed=2, low=1, high=5)
    plain = solve_bws(inst, time_limit=30)
    none = solve_bws(inst, time_limit=30, downtime=ShutdownProcess(inst.n_machines, 0.0, 7))
    assert plain.makespan == none.makespan and none.schedule["downtime"] == []


def test_clairvoyant_hint_cuts_the_horizon_only_when_valid_under_the_downtime():
    """A valid hint's makespan becomes the horizon (a far smaller model); a hint that the
    downtime makes invalid, here the p = 0 optimum, shorter than any clairvoyant schedule,
    must not: the solve still proves the same optimum as with the rules' hint."""
    from envs.jobshop.schedule import violations
    from envs.jobshop.shutdowns import ShutdownProcess

    inst = load_instance("ft06")
    reference = solve_bws(inst, time_limit=30, downtime=ShutdownProcess(inst.n_machines, 0.05, 0))
    assert reference.status == "optimal"
    plain = solve_bws(inst, time_limit=30).schedule
    plain_under_downtime = dict(plain, downtime=reference.schedule["downtime"])
    assert plain["makespan"] < reference.makespan and violations(plain_under_downtime, inst)
    for hint in (plain, reference.schedule):
        again = solve_bws(
            inst, time_limit=30, hint=hint, downtime=ShutdownProcess(inst.n_machines, 0.05, 0)
        )
        assert again.status == "optimal" and again.makespan == reference.makespan


def test_delay_runs_rebuild_every_finish_table():
    """The clairvoyant model's runs (one literal each) give back the finish table at every
    valid start, each start in exactly one run, and are far fewer than the start values."""
    from envs.jobshop.shutdowns import ShutdownProcess
    from rlsys.jobshop.cpsat import _delay_runs, _finish_tables

    inst = load_instance("la04")
    horizon = 1500
    up, finish = _finish_tables(inst, ShutdownProcess(inst.n_machines, 0.1, 0), horizon)
    n_runs = n_starts = 0
    for (m, _p), table in finish.items():
        ok = np.flatnonzero(up[m] & (table <= horizon))
        runs = _delay_runs(ok, table[ok] - ok)
        rebuilt = np.full(horizon + 1, -1)
        for lo, hi, delay in runs:
            inside = ok[(ok >= lo) & (ok <= hi)]
            assert (rebuilt[inside] == -1).all(), "a start in two runs"
            rebuilt[inside] = inside + delay
        np.testing.assert_array_equal(rebuilt[ok], table[ok])
        n_runs += len(runs)
        n_starts += len(ok)
    assert n_runs * 3 < n_starts


def test_clairvoyant_solve_returns_the_valid_hint_when_the_search_finds_nothing_in_time():
    """A time limit shorter than presolve (la06, 15x5, p = 0.1) still gives a schedule: the
    rules' best, which the validator accepted against the downtime, not None."""
    from envs.jobshop.schedule import validate
    from envs.jobshop.shutdowns import ShutdownProcess
    from envs.jobshop.sim import Simulator
    from rlsys.jobshop.rules import RULES, run_rule

    inst = load_instance("la06")
    downtime = ShutdownProcess(inst.n_machines, 0.1, 0)
    result = solve_bws(inst, time_limit=0.05, downtime=downtime)
    assert result.status == "feasible" and result.schedule is not None
    validate(result.schedule, inst)
    assert result.schedule["clairvoyant"] and result.schedule["downtime"]
    rules = [
        run_rule(Simulator(inst, 0.1, 0), r).makespan for n, r in RULES.items() if n != "RANDOM"
    ]
    assert result.makespan <= min(rules)
