import numpy as np
import pytest

from envs.jobshop.instance import Instance, random_instance
from envs.jobshop.schedule import validate, violations
from envs.jobshop.sim import Deadlock, Simulator
from rlsys.jobshop.rules import RULE_NAMES, make_rule, run_rule


def _inst(jobs, name="t"):
    machines = [[m for m, _ in job] for job in jobs]
    times = [[p for _, p in job] for job in jobs]
    return Instance(name, np.array(machines), np.array(times))


def _ops(sched):
    return {(o["job"], o["index"]): (o["start"], o["end"], o["leave"]) for o in sched["operations"]}


def test_hand_computed_blocking_schedule():
    inst = _inst([[(0, 3), (1, 2)], [(0, 2), (1, 4)]])
    sim = Simulator(inst)
    assert sim.candidates == [0, 1] and sim.t == 0  # both jobs want machine 0
    sim.step(0)
    assert sim.done
    ops = _ops(sim.schedule())
    assert ops[(0, 0)] == (0, 3, 3)
    assert ops[(0, 1)] == (3, 5, 5)
    assert ops[(1, 0)] == (3, 5, 5)
    assert ops[(1, 1)] == (5, 9, 9)
    assert sim.makespan == 9 and sim.n_decisions == 1


def test_swap_is_the_only_way_forward():
    # job 0 blocks machine 0 from t=1 waiting for machine 1; job 1 finishes on machine 1
    # at t=3 and waits for machine 0: a 2-cycle that only a swap resolves.
    inst = _inst([[(0, 1), (1, 5)], [(1, 3), (0, 1)]])
    bws = Simulator(inst, swaps=True)
    assert bws.done and not bws.deadlock and bws.n_swaps == 1
    sched = bws.schedule()
    validate(sched, inst)
    ops = _ops(sched)
    assert ops[(0, 0)] == (0, 1, 3)  # blocked on machine 0 from 1 to 3
    assert ops[(0, 1)] == (3, 8, 8)
    assert ops[(1, 0)] == (0, 3, 3)
    assert ops[(1, 1)] == (3, 4, 4)
    bns = Simulator(inst, swaps=False)
    assert bns.done and bns.deadlock and bns.makespan is None
    with pytest.raises(Deadlock):
        bns.schedule()


def test_swap_waits_for_repair():
    inst = _inst([[(0, 1), (1, 5)], [(1, 3), (0, 1)]])
    sim = Simulator(inst, shutdown_prob=0.3, seed=4)
    assert sim.done and not sim.deadlock
    validate(sim.schedule(), inst)


@pytest.mark.parametrize("p", [0.0, 0.05, 0.2])
@pytest.mark.parametrize("swaps", [True, False])
def test_every_rule_gives_valid_schedules(p, swaps):
    deadlocks = 0
    for seed in range(4):
        inst = random_instance(6 + seed, 4 + seed % 3, seed=100 + seed)
        for rule in RULE_NAMES:
            sim = run_rule(Simulator(inst, p, seed, swaps=swaps), make_rule(rule, seed))
            if sim.deadlock:
                assert not swaps, "deadlock is impossible with swaps"
                deadlocks += 1
                continue
            sched = sim.schedule()
            assert violations(sched, inst) == []
            assert sim.makespan >= inst.times.sum(axis=1).max()
            if swaps is False:
                assert sim.n_swaps == 0
    if swaps:
        assert deadlocks == 0


def test_decisions_have_two_or_more_candidates():
    inst = random_instance(10, 5, seed=1)
    sim = Simulator(inst, 0.05, seed=2)
    rule = make_rule("RANDOM", 0)
    while not sim.done:
        cands = sim.candidates
        assert len(cands) >= 2
        assert sim.action_mask().nonzero()[0].tolist() == cands
        sim.step(rule(sim, cands))


def test_illegal_job_is_refused():
    inst = random_instance(8, 4, seed=0)
    sim = Simulator(inst)
    bad = next(j for j in range(8) if j not in sim.candidates)
    with pytest.raises(ValueError, match="cannot move now"):
        sim.step(bad)


def test_same_seed_same_schedule_and_downtime():
    inst = random_instance(8, 5, seed=7)
    a = run_rule(Simulator(inst, 0.1, seed=3), make_rule("RANDOM", 5)).schedule()
    b = run_rule(Simulator(inst, 0.1, seed=3), make_rule("RANDOM", 5)).schedule()
    c = run_rule(Simulator(inst, 0.1, seed=4), make_rule("RANDOM", 5)).schedule()
    assert a == b
    assert a["downtime"] != c["downtime"]


def test_downtime_path_does_not_depend_on_policy():
    inst = random_instance(10, 5, seed=9)
    paths = []
    for rule in ("SPT", "LPT", "MWKR", "RANDOM"):
        sched = run_rule(Simulator(inst, 0.1, seed=21), make_rule(rule, 1)).schedule()
        paths.append(
            (sched["makespan"], {(d["machine"], d["start"], d["end"]) for d in sched["downtime"]})
        )
    horizon = min(mk for mk, _ in paths)
    common = [{d for d in path if d[1] < horizon} for _, path in paths]
    assert all(c == common[0] for c in common) and len(common[0]) > 10
    assert len({mk for mk, _ in paths}) > 1  # the policies did differ


def test_interruptions_stretch_processing():
    inst = random_instance(6, 4, seed=2)
    sched = run_rule(Simulator(inst, 0.2, seed=0), make_rule("SPT")).schedule()
    stretched = [
        o for o in sched["operations"] if o["end"] - o["start"] > inst.times[o["job"], o["index"]]
    ]
    assert stretched, "at p=0.2 some operation must be interrupted"
    resume = run_rule(Simulator(inst, 0.02, seed=0), make_rule("SPT")).schedule()
    restart = run_rule(Simulator(inst, 0.02, seed=0, resume=False), make_rule("SPT")).schedule()
    assert violations(restart, inst) == []
    assert restart != resume
    with pytest.raises(ValueError, match="practically never finish"):
        Simulator(inst, 0.2, seed=0, resume=False)


@pytest.mark.parametrize("p", [-0.01, 1.0, 2.0])
def test_probability_outside_range(p):
    with pytest.raises(ValueError, match="shutdown probability"):
        Simulator(random_instance(3, 3, seed=0), p)


def _run_to_decision(sim, rule, k):
    for _ in range(k):
        if sim.done:
            break
        sim.step(rule(sim, sim.candidates))
    return sim


@pytest.mark.parametrize("p", [0.0, 0.05])
def test_fork_continues_exactly_like_the_original(p):
    inst = random_instance(8, 5, seed=3)
    rule = make_rule("MWKR")
    whole = run_rule(Simulator(inst, p, seed=2), rule).schedule()
    sim = _run_to_decision(Simulator(inst, p, seed=2), rule, 4)
    fork = sim.fork()
    run_rule(fork, make_rule("LPT"))  # the fork's progress must not touch the original
    assert run_rule(sim, rule).schedule() == whole
    again = _run_to_decision(Simulator(inst, p, seed=2), rule, 4).fork()
    assert run_rule(again, rule).schedule() == whole


def test_fork_with_a_resampled_future():
    inst = random_instance(8, 5, seed=1)
    rule = make_rule("MWKR")
    sim = _run_to_decision(Simulator(inst, 0.1, seed=0), rule, 2)
    assert not sim.done
    t = sim.t
    ends = []
    for s in range(6):
        fork = sim.fork(sim.shutdowns.resampled(t, seed=s))
        run_rule(fork, rule)
        sched = fork.schedule()
        validate(sched, inst)  # the past and the sampled future form one valid path
        ops = {(o["job"], o["index"]): o for o in sched["operations"]}
        for j in range(inst.n_jobs):
            for k in range(inst.n_ops):
                if sim.start[j, k] >= 0:  # started before the fork
                    assert ops[(j, k)]["start"] == sim.start[j, k]
        ends.append(fork.makespan)
    assert len(set(ends)) > 1  # different futures, different outcomes
    assert not sim.done and sim.t == t  # the original is untouched
    validate(run_rule(sim, rule).schedule(), inst)


def test_fork_future_needs_the_resume_model():
    inst = random_instance(6, 4, seed=0)
    sim = Simulator(inst, 0.05, seed=0, resume=False)
    with pytest.raises(ValueError, match="resume"):
        sim.fork(sim.shutdowns.resampled(sim.t, seed=1))
