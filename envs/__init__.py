"""Simulators and environments. Nothing here imports from `rlsys`."""
