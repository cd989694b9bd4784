"""Shared RL parts: PPO (config, GAE, loss, learner), masked categorical, the policy
interface, Ray rollout actors and the training loop.

    ppo.py            PPOConfig, compute_gae, ppo_loss, PPOLearner
    distributions.py  MaskedCategorical
    policy.py         ActorCritic (protocol), MaskedActorCritic (base), MLPPolicy (example)
    rollout.py        RolloutWorker (Ray actor body), RolloutBatch, GymEnvFn
    trainer.py        TrainConfig, RolloutConfig, Trainer, load_policy (imports Ray)
"""

from rlsys.rl.distributions import MaskedCategorical
from rlsys.rl.policy import ActorCritic, MaskedActorCritic, MLPPolicy
from rlsys.rl.ppo import PPOConfig, PPOLearner, compute_gae, ppo_loss
from rlsys.rl.rollout import GymEnvFn, RolloutBatch, RolloutWorker

__all__ = [
    "ActorCritic",
    "GymEnvFn",
    "MLPPolicy",
    "MaskedActorCritic",
    "MaskedCategorical",
    "PPOConfig",
    "PPOLearner",
    "RolloutBatch",
    "RolloutWorker",
    "compute_gae",
    "ppo_loss",
]
