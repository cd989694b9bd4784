"""rlsys: Ray-distributed simulation and reinforcement learning."""

__version__ = "0.1.0"
