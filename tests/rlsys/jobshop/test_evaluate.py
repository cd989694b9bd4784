import csv

import pytest

from envs.jobshop.instance import load_instance
from envs.jobshop.schedule import load_schedule, save_schedule, violations
from rlsys.jobshop.evaluate import (
    best_rules,
    evaluate,
    parse_instances,
    parse_probs,
    parse_seeds,
    reference_gaps,
    run_policy,
    summary_table,
    vs_best_rule_table,
    write_csv,
)


def test_parse_seeds_and_probs():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    for bad in ("x", "3-1", "", "-1"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    assert parse_probs("0,0.05") == [0.0, 0.05]
    with pytest.raises(ValueError, match="outside"):
        parse_probs("0,1.2")


def test_evaluate_on_ray_writes_rows_and_schedules(ray_local, tmp_path):
    plans = tmp_path / "plans"  # MWKR's p = 0 schedules, followed as plans
    for name in ("ft06", "la01"):
        save_schedule(
            run_policy(load_instance(name), "MWKR", 0.0, 0).schedule(), plans / f"{name}.json"
        )
    rows = evaluate(
        ["ft06", "la01"],
        ["SPT", "MWKR", "RANDOM", f"plan:{plans}"],
        [0.0, 0.05],
        [0, 1],
        schedules_dir=tmp_path / "s",
        progress=False,
    )
    assert len(rows) == 2 * 4 * 2 * 2
    assert all(r["valid"] == "yes" for r in rows)
    span = {
        (r["instance"], r["policy"], r["shutdown_prob"], r["seed"]): r["makespan"] for r in rows
    }
    for name in ("ft06", "la01"):  # at p = 0 the plan is replayed; shutdowns push it out
        assert span[name, f"plan:{plans}", 0.0, 1] == span[name, "MWKR", 0.0, 0]
        assert span[name, f"plan:{plans}", 0.05, 1] > span[name, "MWKR", 0.0, 0]
    files = sorted((tmp_path / "s").glob("*.json"))
    assert len(files) == len(rows)
    sched = load_schedule(files[0])
    assert violations(sched, load_instance(sched["instance"])) == []
    # common random numbers: same seed -> same makespan when run again
    again = evaluate(["ft06"], ["SPT"], [0.05], [1], progress=False)
    first = next(
        r
        for r in rows
        if (r["instance"], r["policy"], r["shutdown_prob"], r["seed"]) == ("ft06", "SPT", 0.05, 1)
    )
    assert again[0]["makespan"] == first["makespan"]
    path = write_csv(rows, tmp_path / "r.csv")
    assert len(list(csv.DictReader(open(path)))) == len(rows)
    table = summary_table(rows)
    assert "| SPT |" in table and "p=0.05" in table


def test_a_missing_plan_is_refused_before_ray_starts(tmp_path):
    save_schedule(
        run_policy(load_instance("ft06"), "SPT", 0.0, 0).schedule(), tmp_path / "ft06.json"
    )
    with pytest.raises(ValueError, match="no plan for la01"):
        evaluate(["ft06", "la01"], [f"plan:{tmp_path}"], [0.0], [0], progress=False)
    with pytest.raises(ValueError, match="no such schedule file or directory"):
        evaluate(["ft06"], [f"plan:{tmp_path / 'nope'}"], [0.0], [0], progress=False)
    other = run_policy(load_instance("la01"), "SPT", 0.0, 0).schedule()
    save_schedule(other, tmp_path / "la01.json")
    save_schedule(other, tmp_path / "la02.json")  # la01's schedule under la02's name
    with pytest.raises(ValueError, match="for 'la01', not 'la02'"):
        evaluate(["la02"], [f"plan:{tmp_path}"], [0.0], [0], progress=False)


def test_a_plan_folder_may_be_named_like_a_planner(tmp_path):
    folder = tmp_path / "pretrained@sample:8"  # not a learned policy with a planner
    inst = load_instance("ft06")
    plan = run_policy(inst, "LOR", 0.0, 0)
    save_schedule(plan.schedule(), folder / "ft06.json")
    assert run_policy(inst, f"plan:{folder}", 0.0, 0).makespan == plan.makespan


def test_parse_instances_ranges():
    assert parse_instances("ft06, la08-la11,random:25x15:0-2,my-shop.txt,ta71") == [
        "ft06", "la08", "la09", "la10", "la11",
        "random:25x15:0", "random:25x15:1", "random:25x15:2", "my-shop.txt", "ta71",
    ]  # fmt: skip
    assert parse_instances("la01-ft06") == ["la01-ft06"]  # not one family: a file name
    for bad, message in [("la05-la01", "must not be smaller"), (" , ", "no instances")]:
        with pytest.raises(ValueError, match=message):
            parse_instances(bad)


def _row(instance, policy, p, makespan):
    return {
        "instance": instance,
        "policy": policy,
        "shutdown_prob": str(p),
        "makespan": str(makespan),
    }


def test_best_rule_and_gaps_on_hand_made_rows():
    # ft06's BWS reference is 63 (rlsys/jobshop/data/bws_reference.csv)
    rows = [
        _row("ft06", "MWKR", 0, 70),
        _row("x", "MWKR", 0, 110),  # mean 90
        _row("ft06", "LOR", 0, 80),
        _row("x", "LOR", 0, 120),  # mean 100
        _row("ft06", "RANDOM", 0, 10),
        _row("x", "RANDOM", 0, 10),  # not a rule here
        _row("ft06", "gnn", 0, 63),
        _row("x", "gnn", 0, 99),  # mean 81: -10 % vs MWKR
        _row("ft06", "MWKR", 0.1, 100),
        _row("ft06", "LOR", 0.1, 90),
        _row("ft06", "gnn", 0.1, 99),  # +10 % vs LOR
    ]
    assert best_rules(rows) == {0.0: ("MWKR", 90.0), 0.1: ("LOR", 90.0)}
    gaps = reference_gaps(rows)
    assert gaps["gnn"] == [0.0] and gaps["MWKR"] == pytest.approx([100 * 7 / 63])
    assert reference_gaps(rows, {"x": 90})["gnn"] == pytest.approx([10.0])
    table = vs_best_rule_table(rows).splitlines()
    assert (
        table[0]
        == "| mean makespan vs best rule | p=0 (MWKR) | p=0.1 (LOR) | gap to reference, p=0 |"
    )
    assert "| gnn | -10.0 % | +10.0 % | 0.0 % (1) |" in table
    assert "| MWKR | +0.0 % | +11.1 % | 11.1 % (1) |" in table
    with pytest.raises(ValueError, match="no rule schedules at p=0.05"):
        best_rules([_row("ft06", "gnn", 0.05, 70)])
