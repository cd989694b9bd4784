"""Calibration of the transport simulation's mode-choice constants."""
