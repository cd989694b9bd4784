"""Shared RL parts, for every workload: PPO (config, GAE, loss, learner interface),
SAC (replay buffer, twin Q), masked categorical, the policy interface, Ray rollout
actors and the training loop.

    ppo.py            PPOConfig, compute_gae, batch_advantages, ppo_loss, Learner
                      (protocol), ParamGroup, PPOLearner (one or several optimisers)
    sac.py            SACConfig, SquashedGaussianActor, ReplayBuffer (relabel), SACLearner
    distributions.py  MaskedCategorical
    policy.py         ActorCritic (protocol), MaskedActorCritic (base), MLPPolicy (example)
    rollout.py        RolloutWorker (Ray actor body) for gymnasium envs and PettingZoo
                      ParallelEnvs (TeamEnv: [T, N] batches), RolloutBatch (transitions),
                      GymEnvFn
    trainer.py        TrainConfig, RolloutConfig, Trainer (any Learner), load_policy
                      (imports Ray)
"""

from rlsys.rl.distributions import MaskedCategorical
from rlsys.rl.policy import ActorCritic, MaskedActorCritic, MLPPolicy
from rlsys.rl.ppo import (
    Learner,
    ParamGroup,
    PPOConfig,
    PPOLearner,
    batch_advantages,
    compute_gae,
    ppo_loss,
)
from rlsys.rl.rollout import GymEnvFn, RolloutBatch, RolloutWorker, TeamEnv
from rlsys.rl.sac import ReplayBuffer, SACConfig, SACLearner, SquashedGaussianActor

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
    "ReplayBuffer",
    "RolloutBatch",
    "RolloutWorker",
    "SACConfig",
    "SACLearner",
    "SquashedGaussianActor",
    "TeamEnv",
    "batch_advantages",
    "compute_gae",
    "ppo_loss",
]
