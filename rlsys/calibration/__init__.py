"""Calibration of the transport simulation's mode-choice constants (ASCs).

Find the ASCs of the seven non-car modes for which the agent-based simulation of
``envs.transport`` reproduces target mode shares, measured by the L1 distance in
percentage points (Chhatre et al., 2022). Methods: ``bohb`` (hpbandster's BOHB through
the central tuner, budget = simulation iterations, promoted runs continue from their
saved state), ``random``, ``fixed-point`` (ASC_m += damping * ln(target_m / sim_m)) and
``hybrid`` (a multi-fidelity quasi-Newton fixed point). Every evaluation is a Ray Tune
trial on one CPU of the Ray cluster.

Modules: ``objective`` (targets, L1, update rules), ``trainables`` (what runs on the
workers), ``calibrate`` (one run, end to end), ``report`` (CSV, YAML, plots), ``cli``.
"""
