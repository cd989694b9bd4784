import numpy as np
import pytest

from envs.jobshop.instance import Instance
from envs.jobshop.sim import Simulator
from rlsys.jobshop.rules import RULE_NAMES, make_rule


def _sim():
    # three jobs wait for machine 0 at t=0; their next operations differ
    machines = np.array([[0, 1, 2], [0, 2, 1], [0, 1, 2]])
    times = np.array([[5, 1, 1], [2, 9, 9], [8, 1, 1]])
    sim = Simulator(Instance("r", machines, times))
    assert sim.candidates == [0, 1, 2]
    return sim


@pytest.mark.parametrize(
    "rule, expected",
    [("SPT", 1), ("LPT", 2), ("MWKR", 1), ("LWKR", 0), ("MOR", 0), ("LOR", 0), ("FIFO", 0)],
)
def test_rule_picks(rule, expected):
    sim = _sim()
    assert make_rule(rule)(sim, sim.candidates) == expected


def test_random_is_seeded_and_legal():
    picks = [make_rule("RANDOM", s)(_sim(), [0, 1, 2]) for s in range(20)]
    assert set(picks) == {0, 1, 2}
    assert picks == [make_rule("random", s)(_sim(), [0, 1, 2]) for s in range(20)]


def test_unknown_rule():
    with pytest.raises(ValueError, match="unknown policy 'XYZ'"):
        make_rule("XYZ")
    assert len(RULE_NAMES) == 8


def test_no_rule_beats_the_cpsat_optimum():
    """At p = 0 the simulator's rule schedules are feasible BWS schedules, so none may be
    shorter than the proven CP-SAT optimum (a wrong simulator could cut corners)."""
    from envs.jobshop.instance import load_instance, random_instance
    from rlsys.jobshop.cpsat import solve_bws
    from rlsys.jobshop.rules import run_rule

    instances = [random_instance(5, 4, seed=s) for s in range(4)] + [load_instance("ft06")]
    for inst in instances:
        res = solve_bws(inst, time_limit=30)
        assert res.status == "optimal"
        for rule in RULE_NAMES:
            sim = run_rule(Simulator(inst), make_rule(rule, 0))
            assert sim.makespan >= res.makespan, (inst.name, rule)
    assert solve_bws(load_instance("ft06"), time_limit=30).makespan == 63


@pytest.mark.parametrize("prob", [0.0, 0.1])
def test_waiting_only_rules_in_the_reserve_model_schedule_as_non_delay(prob):
    """Offered only the jobs that wait, a rule in the ``reserve`` model never keeps a
    machine idle, so its schedule is the non-delay model's; offered every candidate it may
    keep machines for jobs on their way and schedule differently."""
    from envs.jobshop.instance import load_instance
    from rlsys.jobshop.rules import RULES, run_rule

    inst = load_instance("la01")
    differs = 0
    for name, rule in RULES.items():
        non_delay = run_rule(Simulator(inst, prob, 3), rule).schedule()["operations"]
        waiting = run_rule(Simulator(inst, prob, 3, decisions="reserve"), rule, waiting_only=True)
        assert waiting.schedule()["operations"] == non_delay, name
        every = run_rule(Simulator(inst, prob, 3, decisions="reserve"), rule)
        every = every.schedule()["operations"]
        differs += every != non_delay
    assert differs > 0  # the candidates on their way change schedules, so the filter matters


@pytest.mark.parametrize("decisions", ["non_delay", "reserve"])
@pytest.mark.parametrize("prob", [0.0, 0.05, 0.2])
def test_the_compiled_rule_loop_schedules_as_the_python_rules(decisions, prob):
    """``run_rule`` runs the rules of RULES in the simulator's compiled loop; stepping their
    Python functions must give the same schedule, decision count and deadlock flag."""
    from envs.jobshop import kernels
    from envs.jobshop.instance import load_instance, random_instance
    from rlsys.jobshop.rules import _CODES, RULES

    assert set(_CODES) == set(RULES.values())  # run_rule takes the compiled loop for each

    for inst in [load_instance("ft06"), load_instance("la16"), random_instance(12, 6, seed=4)]:
        for seed in (0, 1):
            for name, rule in RULES.items():
                for waiting_only in [False, True] if decisions == "reserve" else [False]:
                    fast = Simulator(inst, prob, seed, decisions=decisions)
                    fast.finish_with_rule(getattr(kernels, name), waiting_only)
                    slow = Simulator(inst, prob, seed, decisions=decisions)
                    while not slow.done:
                        cands = slow.candidates
                        if waiting_only:
                            cands = [j for j in cands if slow.job_waits[j]] or cands
                        slow.step(rule(slow, cands))
                    case = (inst.name, seed, name, waiting_only)
                    assert fast.deadlock == slow.deadlock, case
                    assert fast.n_decisions == slow.n_decisions, case
                    if not slow.deadlock:
                        assert fast.schedule() == slow.schedule(), case
