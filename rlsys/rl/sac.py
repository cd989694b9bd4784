"""Soft actor-critic for continuous actions, behind the same ``Learner`` interface as PPO.

Follows CleanRL's ``sac_continuous_action.py``: twin Q networks with Polyak-averaged
targets, a tanh-squashed Gaussian actor, a learned temperature (target entropy -|A|).
The differences are the ones the shared trainer needs: the rollout workers act (with a
CPU copy of ``SquashedGaussianActor``) and return transitions; ``SACLearner.update``
puts a batch into its replay buffer and does ``updates_per_step`` gradient steps per new
env step. Until ``learning_starts`` env steps are in the buffer the actor's ``explore``
buffer is set, so the workers act uniformly at random (CleanRL's warm-up), and no
gradient step is taken.

The buffer keeps the environment's reward (``env_rewards``) next to the reward SAC
learns from (``rewards``); ``relabel(reward_fn)`` rewrites the latter for the whole
buffer, which is how a learned reward model (PARL, PEBBLE) drives the lower level.
``minibatch_reward`` (optional) replaces the stored reward of each sampled minibatch
instead: a reward that depends on the whole buffer, such as PEBBLE's state-entropy
reward for unsupervised pre-training (``state_entropy_reward``).
Everything, buffer included, is in ``state_dict`` (plain tensors), so a resumed run
continues bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from rlsys.config import Config, config_field

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's bounds on the actor's log std


@dataclass
class SACConfig(Config):
    """SAC hyperparameters (CleanRL's names; network sizes for a small CPU)."""

    gamma: float = config_field(0.99, ge=0, le=1)
    """discount factor"""
    tau: float = config_field(0.005, gt=0, le=1)
    """Polyak step of the target Q networks per gradient step"""
    policy_lr: float = config_field(3e-4, gt=0)
    """Adam learning rate of the actor"""
    q_lr: float = config_field(1e-3, gt=0)
    """Adam learning rate of the twin Q networks"""
    batch_size: int = config_field(256, ge=1)
    """transitions per gradient step"""
    buffer_size: int = config_field(100_000, ge=1)
    """replay capacity (transitions); the oldest are overwritten"""
    learning_starts: int = config_field(1000, ge=0)
    """env steps of uniform random actions before the first gradient step"""
    updates_per_step: float = config_field(1.0, gt=0)
    """gradient steps per new env step (the update-to-data ratio)"""
    alpha: float | None = config_field(None, gt=0)
    """fixed entropy temperature; None learns it towards entropy -|A|"""
    hidden_sizes: list[int] = field(default_factory=lambda: [128, 128])
    """hidden layers of the actor and of each Q network"""


def mlp(in_dim: int, out_dim: int, hidden_sizes: Sequence[int]) -> nn.Sequential:
    """ReLU MLP ``in_dim -> hidden... -> out_dim`` (no output activation)."""
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden_sizes:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def squashed_gaussian_log_prob(
    z: torch.Tensor, log_std: torch.Tensor, y: torch.Tensor, action_scale: torch.Tensor
) -> torch.Tensor:
    """log-density [B] of an action a = tanh(u) * scale + bias, from the standardised
    pre-tanh sample z = (u - mean) / std and y = tanh(u) ([B, A] each): the Gaussian's
    log-density plus the change of variables of tanh and the rescale, per dimension."""
    return (
        -0.5 * z**2 - log_std - 0.5 * np.log(2 * np.pi)
        - torch.log(action_scale * (1 - y.pow(2)) + 1e-6)
    ).sum(-1)  # fmt: skip


class SquashedGaussianActor(nn.Module):
    """tanh-squashed Gaussian policy over a Box action space [low, high]^A.

    Follows the rollout workers' policy protocol (``collate``, ``act``, ``device``) with
    flat observations [obs_dim]; ``values`` are zeros (SAC has no state-value head).
    Rebuild from ``SquashedGaussianActor(**policy_kwargs)``.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        action_low: Sequence[float],
        action_high: Sequence[float],
        hidden_sizes: Sequence[int] = (128, 128),
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.trunk = mlp(obs_dim, 2 * act_dim, hidden_sizes)
        low = torch.as_tensor(action_low, dtype=torch.float32)
        high = torch.as_tensor(action_high, dtype=torch.float32)
        self.register_buffer("action_scale", (high - low) / 2)
        self.register_buffer("action_bias", (high + low) / 2)
        # 1: act uniformly at random (SAC's warm-up); set by the learner, shipped with the
        # weights so the workers follow it
        self.register_buffer("explore", torch.zeros((), dtype=torch.bool))

    @property
    def device(self) -> torch.device:
        return self.action_scale.device

    def collate(self, obs: list) -> torch.Tensor:
        """B flat observations -> [B, obs_dim] float32 on ``device``."""
        return torch.as_tensor(np.stack(obs).astype(np.float32, copy=False), device=self.device)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, obs_dim] -> mean [B, A], log std [B, A] (of the Gaussian before tanh)."""
        mean, log_std = self.trunk(x).chunk(2, dim=-1)
        log_std = torch.tanh(log_std)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)
        return mean, log_std

    def sample(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reparameterised sample: (action [B, A], log-prob [B], deterministic action
        [B, A]), actions in the env's bounds; differentiable in the parameters."""
        mean, log_std = self(x)
        std = log_std.exp()
        noise = torch.randn(mean.shape, generator=generator).to(mean.device)
        u = mean + std * noise
        y = torch.tanh(u)
        action = y * self.action_scale + self.action_bias
        log_prob = squashed_gaussian_log_prob(noise, log_std, y, self.action_scale)
        return action, log_prob, torch.tanh(mean) * self.action_scale + self.action_bias

    @torch.no_grad()
    def act(
        self,
        obs: list,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        x = self.collate(obs)
        if bool(self.explore) and not deterministic:
            u = torch.rand((len(obs), self.act_dim), generator=generator)
            action = (2 * u - 1).to(self.device) * self.action_scale + self.action_bias
            logp = torch.full((len(obs),), -float(torch.log(2 * self.action_scale).sum()))
        else:
            action, logp, mean_action = self.sample(x, generator)
            if deterministic:
                action = mean_action
        zeros = np.zeros(len(obs), dtype=np.float32)
        return (
            action.cpu().numpy().astype(np.float32),
            logp.cpu().numpy().astype(np.float32),
            zeros,
            {},
        )


class QNetwork(nn.Module):
    """Q(s, a): an MLP on [obs, action] -> [B]."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, 1, hidden_sizes)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs, action], dim=-1)).squeeze(-1)


def state_entropy_reward(states: torch.Tensor, reference: torch.Tensor, k: int = 5) -> torch.Tensor:
    """PEBBLE's intrinsic reward for unsupervised pre-training, [B]: log(1 + distance from
    each of ``states`` [B, d] to its k-th nearest neighbour among ``reference`` [R, d]).

    The particle estimate of the state entropy grows with these distances, so states far
    from what the buffer holds earn more (Liu & Abbeel's APT, as used by PEBBLE). The
    reference is a random sample of the buffer, so a state that is itself in it has
    distance 0 to itself: its first neighbour does not count (k + 1-th smallest)."""
    if len(reference) <= k:
        raise ValueError(f"state entropy needs more than k = {k} reference states")
    dist = torch.cdist(states, reference)  # [B, R]
    kth = dist.kthvalue(k + 1, dim=1).values
    return torch.log1p(kth)


class ReplayBuffer:
    """Ring buffer of flat transitions as tensors (obs, action, reward, env reward,
    next obs, terminated); ``state_dict`` is plain tensors."""

    FIELDS = ("obs", "actions", "rewards", "env_rewards", "next_obs", "terminated")

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.capacity = capacity
        self.obs = torch.zeros(capacity, obs_dim)
        self.actions = torch.zeros(capacity, act_dim)
        self.rewards = torch.zeros(capacity)
        self.env_rewards = torch.zeros(capacity)
        self.next_obs = torch.zeros(capacity, obs_dim)
        self.terminated = torch.zeros(capacity)
        self.size = 0
        self.position = 0
        self.added = 0
        """transitions ever added (env steps seen)"""

    def add(self, batch: Any, rewards: np.ndarray | None = None) -> None:
        """Append a ``RolloutBatch``'s transitions; ``rewards`` [S] overrides the env's
        reward for learning (e.g. a reward model's), the env's is kept in env_rewards."""
        rows = {
            "obs": np.stack(batch.obs),
            "actions": np.asarray(batch.actions).reshape(batch.env_steps, -1),
            "env_rewards": np.asarray(batch.rewards),
            "next_obs": np.stack(batch.next_observations()),
            "terminated": np.asarray(batch.terminated),
        }
        rows["rewards"] = rows["env_rewards"] if rewards is None else np.asarray(rewards)
        n = batch.env_steps
        idx = (self.position + np.arange(n)) % self.capacity
        for name, value in rows.items():
            getattr(self, name)[idx] = torch.as_tensor(value, dtype=torch.float32)
        self.position = int((self.position + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)
        self.added += n

    def sample(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        idx = torch.randint(0, self.size, (n,), generator=generator)
        return {name: getattr(self, name)[idx] for name in self.FIELDS}

    @torch.no_grad()
    def relabel(self, reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        """rewards[i] = reward_fn(obs [n, obs_dim], actions [n, A]) -> [n] for the whole
        buffer (in chunks)."""
        for start in range(0, self.size, 8192):
            sl = slice(start, min(start + 8192, self.size))
            self.rewards[sl] = reward_fn(self.obs[sl], self.actions[sl]).reshape(-1)

    def state_dict(self) -> dict:
        return {
            **{name: getattr(self, name)[: self.size].clone() for name in self.FIELDS},
            "capacity": self.capacity,
            "position": self.position,
            "added": self.added,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["capacity"] != self.capacity:
            raise ValueError(
                f"replay buffer state has capacity {state['capacity']}, this one {self.capacity}"
            )
        n = len(state["rewards"])
        for name in self.FIELDS:
            getattr(self, name)[:n] = state[name]
        self.size, self.position, self.added = n, int(state["position"]), int(state["added"])


class SACLearner:
    """SAC on the transitions the workers return (implements ``rlsys.rl.ppo.Learner``).

    ``actor`` is the policy the trainer broadcasts (``SquashedGaussianActor``); the
    twin Q networks, their targets, the temperature and the replay buffer live here.
    ``reward_fn`` (optional) labels each new batch for learning: reward_fn(obs, actions)
    -> [n] (a reward model); without it SAC learns from the env's reward.
    ``minibatch_reward`` (attribute, None by default): minibatch_reward(mb) -> [B]
    replaces the stored rewards of each sampled minibatch (a reward of the buffer as a
    whole, e.g. PEBBLE's state entropy during pre-training).
    """

    def __init__(
        self,
        actor: SquashedGaussianActor,
        cfg: SACConfig,
        seed: int = 0,
        reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        self.actor, self.cfg, self.reward_fn = actor, cfg, reward_fn
        self.minibatch_reward: Callable[[dict], torch.Tensor] | None = None
        device = actor.device
        obs_dim, act_dim = actor.obs_dim, actor.act_dim
        self._new_critics()
        self.actor_optimizer = torch.optim.Adam(actor.parameters(), lr=cfg.policy_lr)
        self.target_entropy = -float(act_dim)
        self.log_alpha = torch.zeros((), device=device, requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=cfg.q_lr)
        self.buffer = ReplayBuffer(cfg.buffer_size, obs_dim, act_dim)
        self.generator = torch.Generator().manual_seed(seed)
        self.updates = 0
        self.gradient_steps = 0
        self._set_explore()

    def _new_critics(self) -> None:
        """Fresh twin Q networks, their targets and their optimiser."""
        actor, cfg = self.actor, self.cfg
        self.q1 = QNetwork(actor.obs_dim, actor.act_dim, cfg.hidden_sizes).to(actor.device)
        self.q2 = QNetwork(actor.obs_dim, actor.act_dim, cfg.hidden_sizes).to(actor.device)
        self.q1_target, self.q2_target = copy.deepcopy(self.q1), copy.deepcopy(self.q2)
        self.q_optimizer = torch.optim.Adam(
            [*self.q1.parameters(), *self.q2.parameters()], lr=cfg.q_lr
        )

    def reset_critics(self) -> None:
        """Re-initialise the critics from this learner's own generator (deterministic
        under the seed): what PEBBLE does when pre-training ends, since Q values learned
        for the intrinsic reward mean nothing for the learned one."""
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._new_critics()

    @property
    def alpha(self) -> float:
        if self.cfg.alpha is not None:
            return self.cfg.alpha
        return float(self.log_alpha.detach().exp())

    def _set_explore(self) -> None:
        self.actor.explore.fill_(self.buffer.added < self.cfg.learning_starts)

    def label(self, batch: Any) -> np.ndarray | None:
        """The learning reward of a batch's steps (None: the env's)."""
        if self.reward_fn is None:
            return None
        obs = torch.as_tensor(np.stack(batch.obs), dtype=torch.float32)
        actions = torch.as_tensor(np.asarray(batch.actions), dtype=torch.float32)
        with torch.no_grad():
            return self.reward_fn(obs, actions.reshape(len(obs), -1)).reshape(-1).cpu().numpy()

    def update(self, batch: Any, progress_fraction: float = 0.0) -> dict[str, float]:
        """Add ``batch`` to the buffer, then ``updates_per_step`` gradient steps per new
        env step once ``learning_starts`` steps are in; returns mean stats."""
        self.buffer.add(batch, self.label(batch))
        steps = 0
        if self.buffer.added >= self.cfg.learning_starts:
            steps = max(1, round(self.cfg.updates_per_step * batch.env_steps))
        totals: dict[str, float] = {}
        for _ in range(steps):
            for k, v in self.gradient_step().items():
                totals[k] = totals.get(k, 0.0) + v
        self.updates += 1
        self._set_explore()
        out = {k: v / steps for k, v in totals.items()}
        out["learning_rate"] = self.cfg.policy_lr
        out["gradient_steps"] = float(steps)
        out["buffer_size"] = float(self.buffer.size)
        return out

    def gradient_step(self) -> dict[str, float]:
        """One SAC step on a minibatch from the buffer: critics, actor, temperature,
        targets."""
        cfg, device = self.cfg, self.actor.device
        mb = self.buffer.sample(cfg.batch_size, self.generator)
        mb = {k: v.to(device) for k, v in mb.items()}
        if self.minibatch_reward is not None:
            mb["rewards"] = self.minibatch_reward(mb)
        alpha = self.alpha
        with torch.no_grad():
            next_action, next_logp, _ = self.actor.sample(mb["next_obs"], self.generator)
            next_q = torch.min(
                self.q1_target(mb["next_obs"], next_action),
                self.q2_target(mb["next_obs"], next_action),
            )
            target = mb["rewards"] + cfg.gamma * (1 - mb["terminated"]) * (
                next_q - alpha * next_logp
            )
        q1, q2 = self.q1(mb["obs"], mb["actions"]), self.q2(mb["obs"], mb["actions"])
        q_loss = nn.functional.mse_loss(q1, target) + nn.functional.mse_loss(q2, target)
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()

        action, logp, _ = self.actor.sample(mb["obs"], self.generator)
        q_pi = torch.min(self.q1(mb["obs"], action), self.q2(mb["obs"], action))
        actor_loss = (alpha * logp - q_pi).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()

        stats = {
            "q_loss": q_loss.item() / 2,
            "actor_loss": actor_loss.item(),
            "q_value": q1.mean().item(),
            "entropy": -logp.mean().item(),
            "alpha": alpha,
        }
        if cfg.alpha is None:
            alpha_loss = -(self.log_alpha.exp() * (logp.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad()
            alpha_loss.backward()
            self.alpha_optimizer.step()
            stats["alpha_loss"] = alpha_loss.item()

        with torch.no_grad():
            for net, target_net in ((self.q1, self.q1_target), (self.q2, self.q2_target)):
                for p, tp in zip(net.parameters(), target_net.parameters(), strict=True):
                    tp.mul_(1 - cfg.tau).add_(p, alpha=cfg.tau)
        self.gradient_steps += 1
        return stats

    def relabel(self, reward_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        """Use ``reward_fn`` from now on and rewrite the whole buffer's rewards with it."""
        self.reward_fn = reward_fn
        self.buffer.relabel(reward_fn)

    def state_dict(self) -> dict:
        return {
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
            "q1_target": self.q1_target.state_dict(),
            "q2_target": self.q2_target.state_dict(),
            "q_optimizer": self.q_optimizer.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "log_alpha": self.log_alpha.detach().clone(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "generator": self.generator.get_state(),
            "updates": self.updates,
            "gradient_steps": self.gradient_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        for name in ("q1", "q2", "q1_target", "q2_target"):
            getattr(self, name).load_state_dict(state[name])
        self.q_optimizer.load_state_dict(state["q_optimizer"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])
        self.gradient_steps = int(state["gradient_steps"])
        self._set_explore()
