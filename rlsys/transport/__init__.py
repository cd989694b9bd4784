"""Commands for the agent-based transport simulation (the simulator lives in envs/transport)."""
