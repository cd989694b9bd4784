import copy
import json

import pytest

from envs.jobshop.instance import random_instance
from envs.jobshop.schedule import ScheduleError, load_schedule, validate, violations
from envs.jobshop.sim import Simulator
from rlsys.jobshop.rules import make_rule, run_rule


@pytest.fixture(scope="module")
def case():
    inst = random_instance(6, 4, seed=5)
    sched = run_rule(Simulator(inst, 0.1, seed=1), make_rule("MWKR")).schedule()
    assert violations(sched, inst) == []
    return inst, sched


def _op(sched, j, k):
    return next(o for o in sched["operations"] if o["job"] == j and o["index"] == k)


def _first(sched, inst):
    found = violations(sched, inst, limit=1)
    assert found, "the validator missed a broken schedule"
    return found[0]


def test_overlap_on_a_machine(case):
    inst, sched = case
    s = copy.deepcopy(sched)
    # move job 1's first operation onto job 0's first occupancy of the same machine
    target = _op(s, 0, 0)
    other = next(o for o in s["operations"] if o["machine"] == target["machine"] and o["job"] != 0)
    shift = target["start"] - other["start"]
    for o in s["operations"]:
        if o["job"] == other["job"]:
            o["start"] += shift
            o["end"] += shift
            o["leave"] += shift
    s["downtime"] = []
    msg = _first(s, inst)
    assert "overlaps" in msg or "processed" in msg or "starts at" in msg


def test_next_start_must_equal_leave(case):
    inst, sched = case
    s = copy.deepcopy(sched)
    _op(s, 2, 0)["leave"] += 1
    assert "leaves at" in _first(s, inst)


def test_processing_time_counts_downtime(case):
    inst, sched = case
    s = copy.deepcopy(sched)
    s["downtime"] = []  # without the downtime, interrupted operations look too long
    assert "processed" in _first(s, inst)


def test_start_while_down(case):
    inst, sched = case
    s = copy.deepcopy(sched)
    o = _op(s, 0, 0)
    m, t = o["machine"], o["start"]
    s["downtime"] = [
        d for d in s["downtime"] if d["machine"] != m or d["end"] <= t - 1 or d["start"] > t + 1
    ]
    s["downtime"].append({"machine": m, "start": t, "end": t + 1})
    assert any("starts at" in v for v in violations(s, inst))


def test_makespan_and_missing_op(case):
    inst, sched = case
    s = copy.deepcopy(sched)
    s["makespan"] -= 1
    assert "makespan" in _first(s, inst)
    s = copy.deepcopy(sched)
    s["operations"].pop()
    assert "missing" in _first(s, inst)
    s = copy.deepcopy(sched)
    _op(s, 1, 1)["machine"] = (_op(s, 1, 1)["machine"] + 1) % 4
    assert "instance says" in _first(s, inst)


def test_validate_raises_one_line(case, tmp_path):
    inst, sched = case
    s = copy.deepcopy(sched)
    s["n_jobs"] = 99
    with pytest.raises(ScheduleError) as err:
        validate(s, inst)
    assert "\n" not in str(err.value)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(sched))
    assert load_schedule(path) == sched
    path.write_text("{not json")
    with pytest.raises(ScheduleError, match="not JSON"):
        load_schedule(path)
