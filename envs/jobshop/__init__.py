"""ISBJSSP: the interrupting swap-allowed blocking job shop.

Importing this package registers the gymnasium environment ``rlsys/ISBJSSP-v0``.
"""

from gymnasium.envs.registration import register, registry

from envs.jobshop.instance import Instance, InstanceError, load_instance, random_instance
from envs.jobshop.schedule import ScheduleError, validate
from envs.jobshop.shutdowns import RepairTime
from envs.jobshop.sim import Simulator

ENV_ID = "rlsys/ISBJSSP-v0"
if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="envs.jobshop.env:ISBJSSPEnv")

__all__ = [
    "ENV_ID",
    "Instance",
    "InstanceError",
    "RepairTime",
    "ScheduleError",
    "Simulator",
    "load_instance",
    "random_instance",
    "validate",
]
