"""Scripted teachers: label statistics against their definitions."""

import numpy as np
import pytest

from rlsys.config import ConfigError
from rlsys.parl.teachers import TEACHERS, Teacher, TeacherConfig

N = 20_000


def _segments(seed=0, length=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, length)), rng.normal(size=(N, length))


def test_oracle_prefers_the_larger_true_return_and_ties_are_equal():
    r0, r1 = _segments()
    labels = Teacher(TeacherConfig("oracle")).label(r0, r1)
    np.testing.assert_array_equal(labels, (r0.sum(1) > r1.sum(1)).astype(float))
    tie = Teacher(TeacherConfig("oracle")).label(np.ones((3, 2)), np.ones((3, 2)))
    assert tie.tolist() == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("beta", [0.3, 1.0, 5.0])
def test_noisy_matches_bradley_terry_in_each_return_difference_bin(beta):
    r0, r1 = _segments(1)
    labels = Teacher(TeacherConfig("noisy", beta=beta), seed=2).label(r0, r1)
    diff = r0.sum(1) - r1.sum(1)
    for lo, hi in [(-3, -1), (-1, 0), (0, 1), (1, 3)]:
        sel = (diff >= lo) & (diff < hi)
        expected = np.mean(1 / (1 + np.exp(-beta * diff[sel])))
        stderr = np.sqrt(expected * (1 - expected) / sel.sum())
        assert abs(labels[sel].mean() - expected) < 4 * stderr + 1e-9


def test_mistake_flips_the_oracle_with_its_probability():
    r0, r1 = _segments(3)
    oracle = Teacher(TeacherConfig("oracle")).label(r0, r1)
    labels = Teacher(TeacherConfig("mistake", mistake_prob=0.2), seed=4).label(r0, r1)
    flipped = np.mean(labels != oracle)
    assert abs(flipped - 0.2) < 4 * np.sqrt(0.2 * 0.8 / N)


def test_myopic_weights_the_end_of_the_segment():
    # same total return; segment 0 earns it at the end, segment 1 at the start
    r0 = np.array([[0.0, 0.0, 1.0]])
    r1 = np.array([[1.0, 0.0, 0.0]])
    teacher = Teacher(TeacherConfig("myopic", gamma=0.5))
    np.testing.assert_allclose(teacher.returns(r0), [1.0])
    np.testing.assert_allclose(teacher.returns(r1), [0.25])
    assert teacher.label(r0, r1).tolist() == [1.0]
    assert Teacher(TeacherConfig("oracle")).label(r0, r1).tolist() == [0.5]


def test_skip_and_equal_answer_only_where_their_rule_says():
    r0, r1 = _segments(5)
    ret0, ret1 = r0.sum(1), r1.sum(1)
    skip = Teacher(TeacherConfig("skip", skip_below=-0.5)).label(r0, r1)
    both_low = (ret0 < -0.5) & (ret1 < -0.5)
    assert np.isnan(skip[both_low]).all() and not np.isnan(skip[~both_low]).any()
    assert 0.05 < both_low.mean() < 0.5
    equal = Teacher(TeacherConfig("equal", equal_margin=0.3)).label(r0, r1)
    close = np.abs(ret0 - ret1) < 0.3
    assert (equal[close] == 0.5).all() and (equal[~close] != 0.5).all()


@pytest.mark.parametrize("kind", TEACHERS)
def test_every_teacher_is_reproducible_under_its_seed(kind):
    r0, r1 = _segments(6)
    a = Teacher(TeacherConfig(kind), seed=9).label(r0, r1)
    b = Teacher(TeacherConfig(kind), seed=9).label(r0, r1)
    np.testing.assert_array_equal(a, b)


def test_bad_teacher_config_is_a_one_line_error():
    with pytest.raises(ConfigError, match="beta must be > 0"):
        TeacherConfig("noisy", beta=0)
    with pytest.raises(ConfigError, match="kind must be one of"):
        TeacherConfig("psychic")
