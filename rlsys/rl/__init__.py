"""Shared RL parts, for every workload: PPO (config, GAE, loss, learner interface),
masked categorical, the policy interface, Ray rollout actors and the training loop.

    ppo.py            PPOConfig, compute_gae, ppo_loss, Learner (protocol), ParamGroup,
                      PPOLearner (one or several optimisers with their own schedules)
    distributions.py  MaskedCategorical
    policy.py         ActorCritic (protocol), MaskedActorCritic (base), MLPPolicy (example)
    rollout.py        RolloutWorker (Ray actor body) for gymnasium envs and PettingZoo
                      ParallelEnvs (TeamEnv: [T, N] batches), RolloutBatch, GymEnvFn
    trainer.py        TrainConfig, RolloutConfig, Trainer (any Learner), load_policy
                      (imports Ray)
"""

from rlsys.rl.distributions import MaskedCategorical
from rlsys.rl.policy import ActorCritic, MaskedActorCritic, MLPPolicy
from rlsys.rl.ppo import Learner, ParamGroup, PPOConfig, PPOLearner, compute_gae, ppo_loss
from rlsys.rl.rollout import GymEnvFn, RolloutBatch, RolloutWorker, TeamEnv

__all__ = [
    "ActorCritic",
    "GymEnvFn",
    "Learner",
    "MLPPolicy",
    "MaskedActorCritic",
    "MaskedCategorical",
    "PPOConfig",
    "PPOLearner",
    "ParamGroup",
    "RolloutBatch",
    "RolloutWorker",
    "TeamEnv",
    "compute_gae",
    "ppo_loss",
]
