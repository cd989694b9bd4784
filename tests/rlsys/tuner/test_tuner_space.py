"""Typed search spaces (rlsys/tuner/space.py): parsing, sampling, grids, ConfigSpace."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlsys.tuner.space import (
    cast,
    config_space,
    grid,
    parse_space,
    sample,
    space_data,
    to_configspace_values,
    tune_domains,
)

DATA = {
    "train.ppo.learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
    "train.ppo.ent_coef": {"type": "uniform", "low": 0.0, "high": 0.05, "grid": 2},
    "policy.layers": {"type": "int", "low": 2, "high": 4},
    "policy.hidden": {"type": "choice", "values": [32, 64]},
    "train.seed": {"type": "fixed", "value": 7},
}


def test_round_trip_and_samples_in_range():
    space = parse_space(DATA)
    assert space_data(space) == DATA
    rng = np.random.default_rng(0)
    draws = [sample(space, rng) for _ in range(400)]
    lr = np.array([d["train.ppo.learning_rate"] for d in draws])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-2
    # log-uniform: about half the draws below the geometric middle
    assert 0.4 < np.mean(lr < math.sqrt(1e-4 * 1e-2)) < 0.6
    assert {d["policy.layers"] for d in draws} == {2, 3, 4}
    assert {d["policy.hidden"] for d in draws} == {32, 64}
    assert {d["train.seed"] for d in draws} == {7}
    assert all(isinstance(d["policy.layers"], int) for d in draws)


def test_grid_enumerates_every_combination_in_a_fixed_order():
    points = grid(parse_space(DATA))
    assert len(points) == 3 * 2 * 3 * 2 * 1
    assert points == grid(parse_space(DATA))
    assert sorted({p["train.ppo.learning_rate"] for p in points}) == pytest.approx(
        [1e-4, 1e-3, 1e-2]
    )
    assert {p["train.ppo.ent_coef"] for p in points} == {0.0, 0.05}
    with pytest.raises(ValueError, match="more than 16 values"):
        grid(parse_space({"n": {"type": "int", "low": 0, "high": 100}}))


def test_configspace_values_come_back_as_config_types():
    space = parse_space(DATA)
    cs = config_space(space, seed=1)
    assert set(cs) == set(DATA) - {"train.seed"}
    for _ in range(20):
        values = cast(space, dict(cs.sample_configuration()))
        assert isinstance(values["policy.hidden"], int) and values["policy.hidden"] in (32, 64)
        assert isinstance(values["policy.layers"], int) and values["train.seed"] == 7
        # the inverse is what the ConfigSpace holds (choices as strings)
        back = to_configspace_values(space, values)
        assert back["policy.hidden"] in ("32", "64") and "train.seed" not in back
    assert set(tune_domains(space)) == set(DATA)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"a": {"type": "uniform", "low": 1.0, "high": 1.0}}, "a: empty range"),
        ({"a": {"type": "loguniform", "low": 0.0, "high": 1.0}}, "needs low > 0"),
        ({"a": {"type": "normal", "low": 0.0, "high": 1.0}}, "a.type must be one of"),
        ({"a": {"type": "choice", "values": []}}, "non-empty list"),
        ({"a": {"type": "int", "low": 1.5, "high": 3}}, "must be integers"),
        ({"a": {"type": "uniform", "low": 0, "high": 1, "step": 2}}, "unknown key"),
        ({"a": {"type": "uniform", "low": 0}}, "missing high"),
        ({"a": {"type": "uniform", "low": "x", "high": 1}}, "finite number"),
        ({"a": [1, 2]}, "must be a mapping"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_spaces_are_one_line_errors(data, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_space(data, source="space.yaml")
    assert str(info.value).startswith("space.yaml") and "\n" not in str(info.value)
