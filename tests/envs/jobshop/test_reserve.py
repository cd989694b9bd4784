"""The ``reserve`` decision model (``Simulator(decisions="reserve")``): a free machine may be
kept idle for a job that is still in process elsewhere."""

import numpy as np
import pytest

from envs.jobshop import kernels as K_
from envs.jobshop.instance import Instance, random_instance
from envs.jobshop.schedule import validate, violations
from envs.jobshop.sim import Simulator
from rlsys.jobshop.rules import make_rule, run_rule

# Job 0: machine 1 (10), machine 2 (1), machine 0 (1); job 1: machine 0 (1), machine 1 (1),
# machine 2 (10). Job 1 is the critical one: machine 1 should wait one unit for it.
IDLE_PAYS = Instance("idle", np.array([[1, 2, 0], [0, 1, 2]]), np.array([[10, 1, 1], [1, 1, 10]]))


def _ops(sim):
    return {
        (o["job"], o["index"]): (o["start"], o["end"], o["leave"])
        for o in sim.schedule()["operations"]
    }


def _ready_only(rule):
    """``rule`` restricted to the jobs that wait now (it never keeps a machine)."""

    def choose(sim, cands):
        return rule(sim, [j for j in cands if sim.job_state[j] != K_.PROCESSING])

    return choose


def test_non_delay_cannot_idle_and_pays_for_it():
    sim = Simulator(IDLE_PAYS)
    assert sim.done and sim.n_decisions == 0  # every machine has one job at a time
    assert sim.makespan == 21
    ops = _ops(sim)
    assert (
        ops[(0, 0)] == (0, 10, 10) and ops[(1, 1)] == (10, 11, 11) and ops[(1, 2)] == (11, 21, 21)
    )


def test_keeping_the_machine_for_a_job_on_its_way():
    sim = Simulator(IDLE_PAYS, decisions="reserve")
    # job 1 started on machine 0 (its only job); machine 1 has job 0 waiting and job 1 coming
    assert (sim.t, sim.candidates) == (0, [0, 1])
    assert sim.job_state[1] == K_.PROCESSING
    sim.step(1)
    assert sim.done and sim.makespan == 14
    ops = _ops(sim)
    assert ops[(1, 1)] == (1, 2, 2)  # machine 1 idled over [0, 1) and took job 1 on arrival
    assert ops[(0, 0)] == (2, 12, 12)  # job 0 waited outside the shop
    assert ops[(1, 2)] == (2, 12, 12) and ops[(0, 2)] == (13, 14, 14)
    validate(sim.schedule(), IDLE_PAYS)
    assert sim.schedule()["decisions"] == "reserve"


def test_choosing_the_waiting_job_is_the_non_delay_schedule():
    sim = Simulator(IDLE_PAYS, decisions="reserve")
    sim.step(0)
    assert sim.done and sim.makespan == 21
    assert _ops(sim) == _ops(Simulator(IDLE_PAYS))


@pytest.mark.parametrize("p", [0.0, 0.05, 0.1])
@pytest.mark.parametrize("rule", ["MWKR", "SPT", "LOR"])
def test_a_policy_that_never_keeps_a_machine_reproduces_non_delay(p, rule):
    for seed in range(8):
        inst = random_instance(8 + seed % 5, 4 + seed % 4, seed=seed)
        a = run_rule(Simulator(inst, p, seed), make_rule(rule))
        b = run_rule(Simulator(inst, p, seed, decisions="reserve"), _ready_only(make_rule(rule)))
        assert b.n_decisions >= a.n_decisions
        assert a.schedule()["operations"] == b.schedule()["operations"]


@pytest.mark.parametrize("p", [0.0, 0.1])
def test_random_reservations_give_valid_reproducible_schedules(p):
    kept_total = 0
    for seed in range(10):
        inst = random_instance(10, 5, seed=seed)
        runs = []
        for _ in range(2):
            rng = np.random.default_rng(seed)
            sim = Simulator(inst, p, seed, decisions="reserve")
            kept = []  # (machine, job, time kept)
            while not sim.done:
                cands = sim.candidates
                assert cands and sim.action_mask().sum() == len(cands)
                job = int(rng.choice(cands))
                if sim.job_state[job] == K_.PROCESSING:
                    kept.append((int(inst.machines[job, sim.next_op[job]]), job, sim.t))
                sim.step(job)
            assert not sim.deadlock and not violations(sim.schedule(), inst)
            # a kept machine takes no other job before its job arrives
            starts = {(o["machine"], o["job"]): o["start"] for o in sim.schedule()["operations"]}
            for machine, job, t in kept:
                arrival = starts[machine, job]
                assert not any(
                    t <= s < arrival for (i, j), s in starts.items() if i == machine and j != job
                )
            runs.append((sim.makespan, len(kept), sim.schedule()["operations"]))
        assert runs[0] == runs[1]
        kept_total += runs[0][1]
    assert kept_total > 10  # the random policy did keep machines


def test_a_kept_machine_waits_out_a_repair():
    # keep machine 1 for job 1 under frequent shutdowns: still valid, job 1 goes first there
    for seed in range(20):
        sim = Simulator(IDLE_PAYS, shutdown_prob=0.2, seed=seed, decisions="reserve")
        if sim.done or 1 not in sim.candidates:
            continue
        sim.step(1)
        while not sim.done:
            sim.step(sim.candidates[0])
        validate(sim.schedule(), IDLE_PAYS)
        ops = _ops(sim)
        assert ops[(1, 1)][0] < ops[(0, 0)][0]


def test_unknown_decision_model_is_one_line():
    with pytest.raises(ValueError, match="unknown decision model 'delay'"):
        Simulator(IDLE_PAYS, decisions="delay")


def test_fork_keeps_reservations():
    sim = Simulator(IDLE_PAYS, decisions="reserve")
    copy = sim.fork()
    copy.step(1)
    sim.step(1)
    assert copy.makespan == sim.makespan == 14
