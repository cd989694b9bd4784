"""Following a plan (``Simulator(plan=...)``): the machines take their operations in the
plan's order, the times follow the disruptions, and no decision is asked."""

import numpy as np
import pytest

from envs.jobshop.instance import Instance, load_instance, random_instance
from envs.jobshop.schedule import validate
from envs.jobshop.shutdowns import ShutdownProcess
from envs.jobshop.sim import Simulator, plan_ranks
from rlsys.jobshop.cpsat import solve_bws
from rlsys.jobshop.rules import make_rule, run_rule


def _times(schedule):
    return [
        (o["job"], o["index"], o["start"], o["end"], o["leave"]) for o in schedule["operations"]
    ]


def _sequences(schedule):
    """Per machine, its operations in the order they start."""
    out = {}
    for o in sorted(schedule["operations"], key=lambda o: (o["start"], o["leave"], o["job"])):
        out.setdefault(o["machine"], []).append((o["job"], o["index"]))
    return out


def _random_reserve_run(inst, p, seed):
    """A reserve-model episode with random choices: it keeps machines for jobs on their way."""
    rng = np.random.default_rng(seed)
    sim = Simulator(inst, p, seed, decisions="reserve")
    while not sim.done:
        sim.step(int(rng.choice(sim.candidates)))
    return sim


@pytest.mark.parametrize("p", [0.0, 0.05, 0.1])
def test_a_plan_made_on_the_same_disruptions_is_replayed_exactly(p):
    for seed in range(6):
        inst = random_instance(6 + seed, 3 + seed % 4, seed=seed)
        for run in (
            run_rule(Simulator(inst, p, seed), make_rule("MWKR")),
            run_rule(Simulator(inst, p, seed), make_rule("LOR")),
            _random_reserve_run(inst, p, seed),
        ):
            plan = run.schedule()
            follow = Simulator(inst, p, seed, plan=plan)
            assert follow.done and not follow.deadlock
            assert follow.n_decisions == 0
            assert _times(follow.schedule()) == _times(plan)
            assert follow.schedule()["decisions"] == "plan"


def test_the_cpsat_optimum_with_swaps_is_replayed():
    inst = load_instance("ft06")
    res = solve_bws(inst, time_limit=20)
    assert res.status == "optimal"
    follow = Simulator(inst, plan=res.schedule)
    validate(follow.schedule(), inst)
    assert follow.makespan == res.makespan == 63
    assert follow.n_swaps > 0  # the optimum moves blocked jobs in cycles
    assert _sequences(follow.schedule()) == _sequences(res.schedule)


def test_idle_time_the_order_does_not_need_is_removed():
    inst = random_instance(8, 4, seed=3)
    plan = run_rule(Simulator(inst), make_rule("SPT")).schedule()
    late = {**plan, "operations": [dict(o) for o in plan["operations"]]}
    for o in late["operations"]:  # everything 25 units later: still valid, 25 longer
        o["start"], o["end"], o["leave"] = o["start"] + 25, o["end"] + 25, o["leave"] + 25
    follow = Simulator(inst, plan=late)
    assert follow.makespan == plan["makespan"]
    assert _times(follow.schedule()) == _times(plan)


@pytest.mark.parametrize("p", [0.02, 0.1])
def test_under_shutdowns_the_order_is_kept_and_the_times_shift(p):
    inst = load_instance("la01")
    plan = solve_bws(
        inst, time_limit=5, hint=run_rule(Simulator(inst), make_rule("MWKR")).schedule()
    )
    assert plan.schedule is not None
    longer = 0
    for seed in range(5):
        follow = Simulator(inst, p, seed, plan=plan.schedule)
        assert follow.done and not follow.deadlock and follow.n_decisions == 0
        schedule = follow.schedule()
        validate(schedule, inst)  # against this seed's downtime, which it carries
        assert schedule["downtime"]
        assert _sequences(schedule) == _sequences(plan.schedule)
        longer += follow.makespan > plan.makespan
    assert longer >= 4  # the disruptions push the plan out


def test_a_plan_with_swaps_deadlocks_without_them():
    inst = load_instance("ft06")
    plan = solve_bws(inst, time_limit=20).schedule
    follow = Simulator(inst, swaps=False, plan=plan)
    assert follow.done and follow.deadlock and follow.makespan is None


def test_bad_plans_are_refused_with_the_reason():
    inst = load_instance("ft06")
    plan = run_rule(Simulator(inst), make_rule("MWKR")).schedule()
    with pytest.raises(ValueError, match="for 'ft06', not 'la01'"):
        Simulator(load_instance("la01"), plan=plan)
    with pytest.raises(ValueError, match="needs 36 operations, got 35"):
        Simulator(inst, plan={**plan, "operations": plan["operations"][:-1]})
    moved = [dict(o) for o in plan["operations"]]
    moved[0]["machine"] = (moved[0]["machine"] + 1) % inst.n_machines
    with pytest.raises(ValueError, match=r"plan puts \(0, 0\) on machine"):
        Simulator(inst, plan={**plan, "operations": moved})
    twice = [dict(o) for o in plan["operations"]]
    twice[1] = dict(twice[0])
    with pytest.raises(ValueError, match="out of range or repeated"):
        Simulator(inst, plan={**plan, "operations": twice})
    no_start = [dict(o) for o in plan["operations"]]
    del no_start[3]["start"]
    with pytest.raises(ValueError, match="needs integer job, index and start"):
        Simulator(inst, plan={**plan, "operations": no_start})


def test_plan_ranks_order_each_machine_by_planned_start():
    inst = load_instance("ft06")
    plan = run_rule(Simulator(inst), make_rule("SPT")).schedule()
    ranks = plan_ranks(inst, plan)
    for machine, seq in _sequences(plan).items():
        assert [ranks[j * inst.n_ops + k] for j, k in seq] == list(range(len(seq))), machine


def test_a_swap_the_plan_does_not_have_is_not_made():
    # Jobs 0 and 1 block each other after one unit (0 holds M0 and wants M1, 1 the
    # reverse): a swap frees them. The plan puts job 2 on M0 before job 1, so the swap
    # would break M0's order; the plan cannot be followed and the run deadlocks instead.
    inst = Instance("cross", np.array([[0, 1], [1, 0], [0, 1]]), np.ones((3, 2), dtype=int))
    starts = {(0, 0): 0, (1, 0): 0, (0, 1): 1, (2, 0): 1, (1, 1): 2, (2, 1): 2}
    plan = {
        "instance": "cross",
        "operations": [
            {"job": j, "index": k, "machine": int(inst.machines[j, k]), "start": s, "leave": s + 1}
            for (j, k), s in starts.items()
        ],
    }
    follow = Simulator(inst, plan=plan)
    assert follow.deadlock and follow.n_swaps == 0
    # the same two jobs with job 2 planned last on M0: the swap is in the plan
    starts[(2, 0)], starts[(1, 1)] = 2, 1
    plan["operations"] = [
        {"job": j, "index": k, "machine": int(inst.machines[j, k]), "start": s, "leave": s + 1}
        for (j, k), s in starts.items()
    ]
    follow = Simulator(inst, plan=plan)
    assert not follow.deadlock and follow.n_swaps == 1


def test_the_clairvoyant_optimum_followed_on_its_own_downtime_keeps_its_makespan():
    # Two models of the same shop agree: the simulator, following the order of CP-SAT's
    # hindsight-optimal schedule against that seed's downtime, makes exactly its makespan,
    # and the p = 0 optimum followed on the same downtime makes no less.
    inst = load_instance("ft06")
    downtime = ShutdownProcess(inst.n_machines, 0.1, 0)
    hindsight = solve_bws(inst, time_limit=60, downtime=downtime)
    assert hindsight.status == "optimal"
    follow = Simulator(inst, 0.1, 0, plan=hindsight.schedule)
    validate(follow.schedule(), inst)
    assert follow.makespan == hindsight.makespan
    p0_plan = solve_bws(inst, time_limit=20).schedule
    assert Simulator(inst, 0.1, 0, plan=p0_plan).makespan >= hindsight.makespan
