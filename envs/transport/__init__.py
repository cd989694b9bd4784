"""Agent-based transport simulation (MATSim/BEAM-style) with eight-mode logit choice.

Public API::

    from envs.transport import MODES, TransportSim, load_scenario

    sim = TransportSim(load_scenario("urbansim-10k-like"))
    outputs, state = sim.run({"walk": 0.5}, iterations=10, seed=1)
    more, state = sim.run({"walk": 0.5}, iterations=10, state=state)  # == 20 in one go

Modules: ``modes`` (the mode list, ASC files), ``config`` (scenario YAML schema),
``scenario`` (building networks, skims, population), ``network`` (routing, loading,
BPR), ``transit`` (transit skims), ``sim`` (the day loop and its state).
"""

from envs.transport.config import ScenarioError
from envs.transport.modes import MODES, asc_vector, read_asc
from envs.transport.scenario import (
    DEFAULT_SCENARIO,
    Scenario,
    load_scenario,
    scenario_names,
    with_agents,
)
from envs.transport.sim import (
    SimState,
    TransportSim,
    load_state,
    run,
    save_state,
    state_from_bytes,
    state_to_bytes,
)

__all__ = [
    "DEFAULT_SCENARIO",
    "MODES",
    "Scenario",
    "ScenarioError",
    "SimState",
    "TransportSim",
    "asc_vector",
    "load_scenario",
    "load_state",
    "read_asc",
    "run",
    "save_state",
    "scenario_names",
    "state_from_bytes",
    "state_to_bytes",
    "with_agents",
]
