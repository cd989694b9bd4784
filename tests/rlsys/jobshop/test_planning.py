import pytest

from envs.jobshop.instance import load_instance, random_instance
from envs.jobshop.schedule import validate
from envs.jobshop.sim import Simulator
from rlsys.jobshop.evaluate import run_policy
from rlsys.jobshop.planning import PlanSpec, RolloutPlanner
from rlsys.jobshop.policies import PRETRAINED, make_policy
from rlsys.jobshop.policy import JobShopGNNPolicy

INSTANCES = [random_instance(8, 5, seed=s) for s in range(3)] + [load_instance("ft06")]


@pytest.fixture(scope="module")
def policy():
    return JobShopGNNPolicy.load(PRETRAINED)


@pytest.mark.parametrize("text", ["sample", "sample:0", "beam:4", "rollout:x", "rollout:-2"])
def test_bad_plan_is_a_one_line_error(text):
    with pytest.raises(ValueError, match="sample:N or rollout:N"):
        PlanSpec.parse(text)


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
