"""The bilevel alternation of CommFormer, as a ``PPOLearner`` with two parameter groups.

Upper level: the graph logits; lower level: the network. Both minimise the same PPO loss
on the same batch. Within an update, every ``graph_every``-th epoch steps only the
logits (their own Adam, ``graph_lr``) and the other epochs step only the network (Adam
with ``PPOConfig.learning_rate`` and ``max_grad_norm``). During the first
``warmup_updates`` updates the policy acts and learns with full communication and the
logits do not move; after ``freeze_fraction`` of the run the graph is frozen (its
epochs go to the network too, and acting switches to the deterministic top-k graph).
"""

from __future__ import annotations

from dataclasses import dataclass

from rlsys.commformer.model import CommFormerPolicy
from rlsys.config import Config, config_field
from rlsys.rl.ppo import ParamGroup, PPOConfig, PPOLearner


@dataclass
class BilevelConfig(Config):
    """Schedule of the graph (upper-level) updates."""

    graph_lr: float = config_field(1e-4, gt=0)
    """Adam learning rate of the graph logits (reference: 1e-4)"""
    graph_every: int = config_field(5, ge=2)
    """every this many-th PPO epoch updates only the graph logits (reference: 5)"""
    warmup_updates: int = config_field(10, ge=0)
    """first updates with full communication, graph untouched (reference: ~10)"""
    freeze_fraction: float | None = config_field(None, gt=0, le=1)
    """freeze the graph after this share of the updates (e.g. 0.5); None: never"""


class BilevelLearner(PPOLearner):
    """PPO with the graph logits and the network as separate, alternating optimisers.

    ``total_updates`` is the run's length (for ``freeze_fraction``). After every update
    the policy's phase buffers (``warmup``, ``sampling``) are set for the next rollout,
    so workers, which receive the weights, act in the same phase as the learner.
    """

    def __init__(
        self,
        policy: CommFormerPolicy,
        cfg: PPOConfig,
        bilevel: BilevelConfig,
        total_updates: int,
        seed: int = 0,
    ) -> None:
        self.bilevel = bilevel
        self.total_updates = total_updates
        learned = policy.config.graph == "learned"
        groups = [
            ParamGroup(
                "network",
                policy.network_parameters(),
                cfg.learning_rate,
                steps_in=lambda update, epoch: not (learned and self.graph_epoch(update, epoch)),
            ),
            ParamGroup(
                "graph",
                policy.graph_parameters(),
                bilevel.graph_lr,
                max_grad_norm=float("inf"),
                steps_in=lambda update, epoch: learned and self.graph_epoch(update, epoch),
            ),
        ]
        super().__init__(policy, cfg, seed=seed, groups=groups)
        self._set_phase()

    def warming_up(self, update: int) -> bool:
        return update < self.bilevel.warmup_updates

    def frozen(self, update: int) -> bool:
        f = self.bilevel.freeze_fraction
        return f is not None and update >= f * self.total_updates

    def graph_epoch(self, update: int, epoch: int) -> bool:
        """Does epoch ``epoch`` (0-based) of update ``update`` step the graph logits?"""
        if self.warming_up(update) or self.frozen(update):
            return False
        return (epoch + 1) % self.bilevel.graph_every == 0

    def _set_phase(self) -> None:
        """Phase buffers for the rollout that comes next (update ``self.updates``)."""
        self.policy.warmup.fill_(self.warming_up(self.updates))
        self.policy.sampling.fill_(not self.frozen(self.updates))

    def update(self, batch, progress_fraction: float = 0.0) -> dict[str, float]:
        stats = super().update(batch, progress_fraction)
        self._set_phase()
        return stats

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._set_phase()
