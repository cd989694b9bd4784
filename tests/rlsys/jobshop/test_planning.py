import time

import numpy as np
import pytest

from envs.jobshop.instance import load_instance, random_instance
from envs.jobshop.schedule import validate
from envs.jobshop.sim import Simulator
from rlsys.jobshop.evaluate import run_policy
from rlsys.jobshop.planning import (
    _ROLLOUT_TAG,
    PlanSpec,
    RolloutPlanner,
    significant_improvement,
)
from rlsys.jobshop.policies import PRETRAINED, make_policy
from rlsys.jobshop.policy import JobShopGNNPolicy
from rlsys.jobshop.rules import RULES, run_rule

INSTANCES = [random_instance(8, 5, seed=s) for s in range(3)] + [load_instance("ft06")]


@pytest.fixture(scope="module")
def policy():
    return JobShopGNNPolicy.load(PRETRAINED)


@pytest.mark.parametrize(
    "text", ["sample", "sample:0", "beam:4", "rollout:x", "rollout:-2", "follow:0", "follow:4:z=1"]
)
def test_bad_plan_is_a_one_line_error(text):
    with pytest.raises(
        ValueError, match="bad plan .*(sample:N, follow:N or rollout:N|rollout:N takes)"
    ):
        PlanSpec.parse(text)


def test_rollout_options_parse():
    spec = PlanSpec.parse("rollout:8:z=1.5:gate=0.9:top=3")
    assert (spec.kind, spec.n, spec.z, spec.gate, spec.top) == ("rollout", 8, 1.5, 0.9, 3)
    assert PlanSpec.parse("rollout:8") == PlanSpec("rollout", 8, z=0.0, gate=1.0, top=0)
    assert PlanSpec.parse("rollout:8:top=3:time=2.5").time == 2.5
    assert PlanSpec.parse("rollout:8").depth is None
    truncated = PlanSpec.parse("rollout:8:depth=0:finish=mwkr")
    assert (truncated.depth, truncated.finish) == (0, "MWKR")
    assert PlanSpec.parse("rollout:8:depth=5").finish == "LOR"


def test_a_spent_time_budget_leaves_the_greedy_policy(policy):
    inst = INSTANCES[1]
    greedy = run_policy(inst, "pretrained", 0.1, 2)
    # a budget spent before the first decision: no lookahead anywhere
    spent = run_policy(inst, "pretrained@rollout:4:time=1e-9", 0.1, 2)
    assert spent.schedule() == greedy.schedule()
    # a budget no schedule of this size spends: the unbudgeted planner's schedule
    planned = run_policy(inst, "pretrained@rollout:4", 0.1, 2)
    assert planned.schedule() != greedy.schedule()  # else this test could not fail
    assert run_policy(inst, "pretrained@rollout:4:time=3600", 0.1, 2).schedule() == (
        planned.schedule()
    )
    planner = RolloutPlanner(policy, n=2, seed=0, budget=1e-9)
    planner.run(Simulator(inst, 0.1, seed=2))
    sim = Simulator(inst, 0.1, seed=2)
    while len(sim.candidates) < 2:
        sim.step(sim.candidates[0])
    planner(sim, sim.candidates)  # called directly, outside run(): no budget applies
    assert len(planner.last_scores) >= 2


def test_the_time_budget_is_paced_by_the_operations_started(policy):
    inst = load_instance("ft06")  # 36 operations
    planner = RolloutPlanner(policy, n=2, seed=0, budget=36.0)  # 1 s per operation
    sim = Simulator(inst, 0.0, seed=0)
    assert int(sim.next_op.sum()) == 0
    planner._started = time.perf_counter() - 0.5  # allowed: 1 s (one operation's share)
    assert not planner._over_budget(sim)
    planner._started = time.perf_counter() - 3.0
    assert planner._over_budget(sim)
    while int(sim.next_op.sum()) < 17:
        sim.step(sim.candidates[0])
    started = int(sim.next_op.sum())
    planner._started = time.perf_counter() - (started - 2.0)  # allowed: started + 1 s
    assert not planner._over_budget(sim)
    planner._started = time.perf_counter() - (started + 3.0)
    assert planner._over_budget(sim)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("sample:8:z=1", "bad plan option 'z=1'"),
        ("rollout:8:width=2", "bad plan option 'width=2'"),
        ("sample:8:depth=2", "bad plan option 'depth=2'"),
        ("rollout:8:depth=-1", "depth needs D >= 0"),
        ("rollout:8:depth=1.5", "not a number"),
        ("rollout:8:finish=LOR", "add depth=D"),
        ("rollout:8:depth=2:finish=RANDOM", "finish takes a deterministic rule"),
        ("rollout:8:depth=2:finish=EDD", "finish takes a deterministic rule"),
        ("rollout:8:z=one", "not a number"),
        ("rollout:8:z=1:z=2", "bad plan option 'z=2'"),
        ("rollout:1:z=1", "N >= 2"),
        ("rollout:8:z=-1", "z >= 0"),
        ("rollout:8:gate=0", "gate is a probability"),
        ("rollout:8:gate=1.5", "gate is a probability"),
        ("rollout:8:top=1", "top needs K >= 2"),
        ("rollout:8:time=0", "time is a budget"),
        ("rollout:8:time=-5", "time is a budget"),
        ("sample:8:time=5", "bad plan option 'time=5'"),
    ],
)
def test_bad_rollout_option_is_a_one_line_error(text, match):
    with pytest.raises(ValueError, match=match):
        PlanSpec.parse(text)


def test_significant_improvement_by_hand():
    # rows: candidates; columns: the same 4 futures; row 0 is the greedy choice
    spans = np.array(
        [
            [100.0, 110.0, 120.0, 130.0],
            [90.0, 100.0, 110.0, 120.0],  # 10 better in every future: se 0, significant
            [60.0, 150.0, 80.0, 170.0],  # as good on average, but all over the place
            [100.0, 110.0, 120.0, 130.0],  # a tie
        ]
    )
    assert significant_improvement(spans, greedy=0, z=1.0) == 1
    # the noisy row's mean is lower than the steady one's, and plain means would take it
    spans[2] -= 15
    assert spans[2].mean() < spans[1].mean()
    assert significant_improvement(spans, greedy=0, z=1.0) == 1
    # diffs of row 2 are (-55, 25, -55, 25): mean -15, se 23.1; z = 0.4 lets it in
    assert significant_improvement(spans, greedy=0, z=0.4) == 2
    assert significant_improvement(spans[[0, 3]], greedy=0, z=1.0) is None  # ties never move
    assert significant_improvement(spans, greedy=1, z=1.0) is None  # nothing beats row 1


def test_significant_improvement_counts_a_deadlock_as_worst():
    spans = np.array([[np.inf, 100.0, np.inf], [50.0, 60.0, 55.0], [np.inf, 90.0, 95.0]])
    assert significant_improvement(spans, greedy=0, z=1.0) == 1  # beats a deadlocking greedy
    assert significant_improvement(spans, greedy=1, z=0.0) is None


def test_planning_needs_a_learned_policy():
    with pytest.raises(ValueError, match="learned policy"):
        make_policy("MWKR@sample:4")


def test_sampling_is_refused_under_shutdowns():
    with pytest.raises(ValueError, match="clairvoyant"):
        run_policy(INSTANCES[0], "pretrained@sample:4", 0.05, 0)


@pytest.mark.parametrize("inst", INSTANCES, ids=lambda i: i.name)
def test_sampling_keeps_the_best_and_one_sample_is_the_greedy_policy(inst):
    greedy = run_policy(inst, "pretrained", 0.0, 0)
    one = run_policy(inst, "pretrained@sample:1", 0.0, 0)
    assert one.schedule() == greedy.schedule()
    best = run_policy(inst, "pretrained@sample:16", 0.0, 3)
    validate(best.schedule(), inst)
    assert best.makespan <= greedy.makespan  # the greedy schedule is one of the 16
    assert run_policy(inst, "pretrained@sample:16", 0.0, 3).makespan == best.makespan  # seeded


def _orders(schedule):
    """Per machine, its operations in the order they start."""
    out = {}
    for o in sorted(schedule["operations"], key=lambda o: (o["start"], o["leave"], o["job"])):
        out.setdefault(o["machine"], []).append((o["job"], o["index"]))
    return out


@pytest.mark.parametrize("inst", INSTANCES[1:], ids=lambda i: i.name)
def test_follow_plans_with_the_sampled_schedule_and_keeps_its_orders(inst):
    plan = run_policy(inst, "pretrained@sample:8", 0.0, 5).schedule()
    at_p0 = run_policy(inst, "pretrained@follow:8", 0.0, 5)
    assert at_p0.makespan == plan["makespan"] and at_p0.n_decisions == 0
    for seed in (5, 6):  # the disruption seed is also the sampler's: seed 6 plans anew
        shut = run_policy(inst, "pretrained@follow:8", 0.1, seed)
        validate(shut.schedule(), inst)
        assert shut.n_decisions == 0 and shut.shutdown_prob == 0.1
        seed_plan = run_policy(inst, "pretrained@sample:8", 0.0, seed).schedule()
        assert _orders(shut.schedule()) == _orders(seed_plan)
    # the plan never depends on the disruptions: the same orders at every p
    assert _orders(run_policy(inst, "pretrained@follow:8", 0.05, 5).schedule()) == _orders(plan)


@pytest.mark.parametrize("inst", INSTANCES, ids=lambda i: i.name)
def test_rollouts_at_p0_never_lose_to_the_greedy_policy(inst):
    # the pilot method follows one path for every N, and the best finished rollout is kept
    spans = [run_policy(inst, "pretrained", 0.0, 0).makespan]
    for plan in ("rollout:1", "rollout:4"):  # greedy completions; + 3 sampled ones
        planned = run_policy(inst, f"pretrained@{plan}", 0.0, 0)
        validate(planned.schedule(), inst)
        spans.append(planned.makespan)
    assert spans == sorted(spans, reverse=True)  # greedy >= rollout:1 >= rollout:4
    assert run_policy(inst, "pretrained@rollout:4", 0.0, 0).schedule() == planned.schedule()


def test_rollouts_under_shutdowns_give_valid_seeded_schedules():
    inst = INSTANCES[1]
    a = run_policy(inst, "pretrained@rollout:3", 0.1, 2)
    validate(a.schedule(), inst)
    assert run_policy(inst, "pretrained@rollout:3", 0.1, 2).schedule() == a.schedule()


def test_rollouts_never_read_the_true_future(policy):
    # Two episodes with the same past but different futures: at the first decision the
    # planner must score every candidate the same in both.
    inst = random_instance(10, 5, seed=4)
    true = Simulator(inst, 0.1, seed=0)
    assert not true.done and len(true.candidates) >= 2
    other = true.fork(true.shutdowns.resampled(true.t, seed=12345))
    assert other.shutdowns.intervals(0, true.t + 400) != true.shutdowns.intervals(0, true.t + 400)
    scores = []
    for sim in (true, other):
        planner = RolloutPlanner(policy, n=4, seed=7)
        planner(sim, sim.candidates)
        scores.append(planner.last_scores)
    assert scores[0] == scores[1] and len(scores[0]) >= 2


def test_rollout_gate_and_top_cut_the_lookahead(policy):
    inst = INSTANCES[1]
    # a gate no choice falls below: never any lookahead, so the greedy policy's schedule
    assert (
        run_policy(inst, "pretrained@rollout:4:gate=1e-9", 0.1, 2).schedule()
        == run_policy(inst, "pretrained", 0.1, 2).schedule()
    )
    sim = Simulator(inst, 0.1, seed=2)
    while len(sim.candidates) < 3:
        sim.step(sim.candidates[0])
    planner = RolloutPlanner(policy, n=2, seed=0, top=2)
    planner(sim, sim.candidates)
    assert len(planner.last_scores) == 2  # the two most probable candidates only
    z_test = run_policy(inst, "pretrained@rollout:4:z=1:top=3", 0.1, 2)
    validate(z_test.schedule(), inst)
    assert (
        run_policy(inst, "pretrained@rollout:4:z=1:top=3", 0.1, 2).schedule() == z_test.schedule()
    )


@pytest.mark.parametrize("prob", [0.0, 0.1])
def test_truncated_rollouts_are_finished_by_the_rule(policy, prob):
    inst = INSTANCES[1]
    sim = Simulator(inst, prob, seed=2, decisions=policy.config.decisions)
    while len(sim.candidates) < 3:
        sim.step(sim.candidates[0])
    # depth 0: each candidate's score is the rule's completion after it (p = 0, one world)
    # or the mean of the rule's completions against the planner's sampled futures
    planner = RolloutPlanner(policy, n=3, seed=5, depth=0, finish="MWKR")
    planner(sim, sim.candidates)
    futures = np.random.default_rng([5, _ROLLOUT_TAG]).integers(2**62, size=3)
    for job, score in planner.last_scores.items():
        spans = []
        for future in futures if prob > 0 else [None]:
            copy = sim.fork(None if future is None else sim.shutdowns.resampled(sim.t, int(future)))
            copy.step(job)
            spans.append(run_rule(copy, RULES["MWKR"], waiting_only=True).makespan)
        assert score == pytest.approx(np.mean(spans))
    assert len(set(planner.last_scores.values())) >= 2  # else the check above is weak
    # a depth no rollout reaches: the untruncated planner's scores
    deep = RolloutPlanner(policy, n=3, seed=5, depth=10_000)
    full = RolloutPlanner(policy, n=3, seed=5)
    deep(sim, sim.candidates), full(sim, sim.candidates)
    assert deep.last_scores == full.last_scores
    # and the whole schedule under the option, valid and seeded
    name = "pretrained@rollout:3:z=1:top=3:depth=2:finish=LOR"
    planned = run_policy(inst, name, prob, 2)
    validate(planned.schedule(), inst)
    assert run_policy(inst, name, prob, 2).schedule() == planned.schedule()


@pytest.fixture(scope="module")
def reserve_file(policy, tmp_path_factory):
    """The shipped weights as a reserve-model policy (jobs on their way are candidates)."""
    again = JobShopGNNPolicy(hidden=policy.config.hidden, layers=policy.config.layers,
                             decisions="reserve")  # fmt: skip
    again.load_state_dict(policy.state_dict())
    return str(again.save(tmp_path_factory.mktemp("reserve") / "reserve.pt"))


@pytest.mark.parametrize("inst", INSTANCES[:2], ids=lambda i: i.name)
def test_planners_run_a_reserve_policy_in_its_model(reserve_file, inst):
    greedy = run_policy(inst, reserve_file, 0.0, 0)
    planned = run_policy(inst, f"{reserve_file}@rollout:2", 0.0, 0)
    sampled = run_policy(inst, f"{reserve_file}@sample:4", 0.0, 0)
    for sim in (greedy, planned, sampled):
        assert sim.decisions == "reserve"
        validate(sim.schedule(), inst)
    assert planned.makespan <= greedy.makespan and sampled.makespan <= greedy.makespan
    shaken = run_policy(inst, f"{reserve_file}@rollout:2", 0.1, 1)
    assert shaken.decisions == "reserve"
    validate(shaken.schedule(), inst)
