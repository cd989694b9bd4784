"""Scripted preference teachers (B-Pref, Lee et al. 2021): who labels the queries.

A query is two segments of equal length L; the teacher sees their true per-step rewards
``r0, r1`` ([Q, L]) and answers a label per query: 1.0 (segment 0 preferred), 0.0
(segment 1), 0.5 (equally preferable) or NaN (skipped: no label, the query costs budget
but gives no data). The six kinds, each one B-Pref teacher:

    oracle   the segment with the larger true return (0.5 on an exact tie)
    noisy    Bradley-Terry: P(0 preferred) = sigmoid(beta * (R0 - R1)); beta is the
             rationality (large: oracle, small: coin flip)
    myopic   the oracle on returns that weight step t by gamma^(L - 1 - t) (the end of
             the segment counts most)
    skip     the oracle, but skips queries whose two returns are both below skip_below
    equal    the oracle, but 0.5 when |R0 - R1| < equal_margin
    mistake  the oracle, with its label flipped with probability mistake_prob

``probability`` is the exact chance of label 1 (what the tabular task integrates);
``label`` draws from it with the teacher's own seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from rlsys.config import Config, config_field

TEACHERS = ("oracle", "noisy", "myopic", "skip", "equal", "mistake")


@dataclass
class TeacherConfig(Config):
    """A scripted teacher (B-Pref's SimTeacher presets)."""

    kind: Literal["oracle", "noisy", "myopic", "skip", "equal", "mistake"] = "oracle"
    """which teacher (see the module docstring)"""
    beta: float = config_field(1.0, gt=0)
    """noisy: rationality of the Bradley-Terry choice (per unit of segment return)"""
    gamma: float = config_field(0.9, gt=0, le=1)
    """myopic: weight gamma^(L - 1 - t) of step t of a segment of length L"""
    skip_below: float = 0.0
    """skip: a query is skipped when both segment returns are below this"""
    equal_margin: float = config_field(0.1, ge=0)
    """equal: returns closer than this are labelled 0.5"""
    mistake_prob: float = config_field(0.1, ge=0, le=1)
    """mistake: probability of flipping the oracle's label"""


def _oracle(ret0: np.ndarray, ret1: np.ndarray) -> np.ndarray:
    return np.where(ret0 > ret1, 1.0, np.where(ret0 < ret1, 0.0, 0.5))


class Teacher:
    """Labels queries from true per-step rewards (see the module docstring)."""

    def __init__(self, cfg: TeacherConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)

    def returns(self, rewards: np.ndarray) -> np.ndarray:
        """[Q, L] per-step rewards -> [Q] segment returns as this teacher sees them."""
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.cfg.kind == "myopic":
            length = rewards.shape[-1]
            weights = self.cfg.gamma ** np.arange(length - 1, -1, -1)
            return rewards @ weights
        return rewards.sum(-1)

    def probability(self, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
        """[Q] chance that the label is 1 (segment 0 preferred); NaN where skipped."""
        cfg = self.cfg
        ret0, ret1 = self.returns(r0), self.returns(r1)
        if cfg.kind == "noisy":
            return 1.0 / (1.0 + np.exp(-cfg.beta * (ret0 - ret1)))
        p = _oracle(ret0, ret1)
        if cfg.kind == "skip":
            p = np.where((ret0 < cfg.skip_below) & (ret1 < cfg.skip_below), np.nan, p)
        elif cfg.kind == "equal":
            p = np.where(np.abs(ret0 - ret1) < cfg.equal_margin, 0.5, p)
        elif cfg.kind == "mistake":
            p = (1 - cfg.mistake_prob) * p + cfg.mistake_prob * (1 - p)
        return p

    def label(self, r0: np.ndarray, r1: np.ndarray) -> np.ndarray:
        """[Q] labels in {1, 0, 0.5} or NaN (skipped), drawn from ``probability``.

        Deterministic answers (an oracle's 1, 0 or 0.5) are returned as they are; only
        a probability strictly between 0 and 1 other than an oracle tie is a coin flip.
        """
        p = self.probability(r0, r1)
        u = self.rng.random(p.shape)
        tie = p == 0.5
        if self.cfg.kind == "noisy":
            tie = np.zeros_like(tie)  # a Bradley-Terry 0.5 is a fair coin, not "equal"
        drawn = np.where(u < p, 1.0, 0.0)
        return np.where(np.isnan(p), np.nan, np.where(tie, 0.5, drawn))
