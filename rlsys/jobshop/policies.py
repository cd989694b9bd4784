"""Policies by name: a dispatching rule (SPT, MWKR, ..., RANDOM).

A policy is a callable ``(sim, candidates) -> job``.
"""

from __future__ import annotations

from rlsys.jobshop.rules import Rule, make_rule


def make_policy(name: str, seed: int = 0) -> Rule:
    """The policy called ``name``; ``seed`` only feeds RANDOM's own stream."""
    return make_rule(name, seed=seed)
