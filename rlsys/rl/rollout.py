"""Rollout actors: each runs a few environments in lockstep with a CPU copy of the policy.

One worker for every workload: a gymnasium ``Env`` (one agent: per-step arrays [S]) or a
PettingZoo ``ParallelEnv`` (a team: per-step arrays [S, N], agents in
``env.possible_agents`` order, through ``TeamEnv``). A team's agents must end their
episode together (the predator-prey envs and mpe2's envs do).

A batch is plain transitions (obs, action, reward, next obs, terminated, truncated) plus
what the sampling policy said (log-probabilities, values, extras), for discrete (int64)
and continuous (float32) actions. Learners turn it into what they need: PPO computes
GAE per agent (``rlsys.rl.ppo.batch_advantages``), SAC fills its replay buffer
(``RolloutBatch.next_observations``).

``RolloutWorker`` is a plain class; the trainer wraps it with
``ray.remote(max_restarts=-1, max_task_retries=-1)``. A restart re-runs ``__init__``,
which holds nothing that matters: the weights come with every request (an object
reference, resolved by Ray), and every random draw of a request is derived from
(root_seed, worker_index, request_index[, episode]). So the same request with the same
weights returns the same batch, on a fresh or a restarted worker.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch


@dataclass
class RolloutBatch:
    """Complete episodes from one request, steps of an episode contiguous.

    Per-step fields have length S = env_steps; per-episode fields length E.
    """

    obs: list
    """S raw observations, each the one the action was taken from (a team env's: the
    joint observation, [N, ...] stacked over agents)"""
    actions: np.ndarray
    """[S] int64 ([S, N] for a team); continuous actions [S, A] (or [S, N, A]) float32"""
    logp: np.ndarray
    """[S] float32 ([S, N]), log-probability of the action under the sampling policy"""
    values: np.ndarray
    """[S] float32 ([S, N]), the sampling policy's value estimates"""
    rewards: np.ndarray
    """[S] float32 ([S, N])"""
    terminated: np.ndarray
    """[S] bool: the episode terminated after this step (nothing to bootstrap)"""
    truncated: np.ndarray
    """[S] bool: the episode was cut off after this step (time limit)"""
    final_obs: list
    """E observations after each episode's last step (the last step's next_obs)"""
    bootstrap_values: np.ndarray
    """[E] float32 ([E, N]): the sampling policy's value of ``final_obs`` for a truncated
    episode, 0 for a terminated one"""
    episode_returns: np.ndarray
    """[E] float64, undiscounted sum of rewards (a team: the mean over its agents)"""
    episode_lengths: np.ndarray
    """[E] int64"""
    episode_infos: list[dict]
    """E final ``info`` dicts (e.g. a makespan)"""
    episode_seeds: list[int]
    """E seeds passed to env_fn and env.reset"""
    worker_index: int
    version: int
    """version (update count) of the weights that sampled it"""
    request_index: int
    wall_time: float
    """seconds spent in ``sample``"""
    env_steps: int
    worker_instance: str = ""
    """random id drawn in the worker's ``__init__``: a new one means it was restarted"""
    policy_extras: dict[str, np.ndarray] = field(default_factory=dict)
    """per-step arrays [S, ...] the policy returned from ``act`` (e.g. sampled graphs);
    handed back to ``evaluate`` by the learner"""

    @classmethod
    def concat(cls, batches: list[RolloutBatch]) -> RolloutBatch:
        """One batch from several (learner input); per-request metadata is summarised."""

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in batches])

        return cls(
            obs=[o for b in batches for o in b.obs],
            actions=cat("actions"),
            logp=cat("logp"),
            values=cat("values"),
            rewards=cat("rewards"),
            terminated=cat("terminated"),
            truncated=cat("truncated"),
            final_obs=[o for b in batches for o in b.final_obs],
            bootstrap_values=cat("bootstrap_values"),
            episode_returns=cat("episode_returns"),
            episode_lengths=cat("episode_lengths"),
            episode_infos=[i for b in batches for i in b.episode_infos],
            episode_seeds=[s for b in batches for s in b.episode_seeds],
            worker_index=-1,
            version=min(b.version for b in batches),
            request_index=-1,
            wall_time=max(b.wall_time for b in batches),
            env_steps=sum(b.env_steps for b in batches),
            policy_extras={
                k: np.concatenate([b.policy_extras[k] for b in batches])
                for k in batches[0].policy_extras
            },
        )

    def next_observations(self) -> list:
        """S observations after each step: the next step's obs within an episode, the
        episode's ``final_obs`` after its last step."""
        out: list = []
        start = 0
        for e, length in enumerate(self.episode_lengths.tolist()):
            out.extend(self.obs[start + 1 : start + length])
            out.append(self.final_obs[e])
            start += length
        return out


def request_seeds(
    root_seed: int, worker_index: int, request_index: int, n_episodes: int
) -> tuple[int, list[int]]:
    """(torch sampling seed, one env seed per episode) of one request.

    Children of the run's root ``SeedSequence`` (the scheme of ``runtime.derive_seeds``),
    keyed by (worker, request) for the sampling generator and (worker, request, episode)
    for each episode, so no two episodes of a run share a seed.
    """

    def seed(*key: int) -> int:
        return int(np.random.SeedSequence(root_seed, spawn_key=key).generate_state(1)[0])

    torch_seed = seed(worker_index, request_index)
    return torch_seed, [seed(worker_index, request_index, e) for e in range(n_episodes)]


class GymEnvFn:
    """``env_fn`` for a registered gymnasium env: ``GymEnvFn("CartPole-v1")(seed)``.

    Builds the env once and reuses it (every episode is reset with its own seed anyway);
    copies (one per worker slot) start without an env.
    """

    def __init__(self, env_id: str, **kwargs: Any) -> None:
        self.env_id, self.kwargs = env_id, kwargs
        self._env: gym.Env | None = None

    def __call__(self, episode_seed: int) -> gym.Env:
        if self._env is None:
            self._env = gym.make(self.env_id, **self.kwargs)
        return self._env

    def __getstate__(self) -> dict:
        return {"env_id": self.env_id, "kwargs": self.kwargs, "_env": None}


def is_team_env(env: Any) -> bool:
    """A PettingZoo ``ParallelEnv`` (dict actions and rewards per agent)?"""
    return hasattr(env, "possible_agents") and not isinstance(env, gym.Env)


class TeamEnv:
    """A PettingZoo ``ParallelEnv`` seen as one env with arrays over its agents.

    ``reset(seed)`` -> (joint observation, info); ``step(actions [N])`` -> (joint
    observation, rewards [N] float32, terminated, truncated, info), agents in
    ``possible_agents`` order. Box observations are stacked into one [N, ...] array,
    others kept as a list. The episode ends when the env has no agents left; agents that
    leave earlier than the others are an error (their steps would need a mask that the
    loss does not have). ``info`` is the mean of each numeric per-agent info value (e.g.
    ``success``, ``steps``).
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.agents = list(env.possible_agents)

    def _joint(self, obs: dict) -> Any:
        rows = [obs[a] for a in self.agents]
        if isinstance(rows[0], np.ndarray):
            return np.stack(rows)
        return rows

    def _info(self, infos: dict) -> dict:
        numeric: dict[str, list[float]] = {}
        for a in self.agents:
            for k, v in (infos.get(a) or {}).items():
                if isinstance(v, int | float | np.number) and not isinstance(v, bool):
                    numeric.setdefault(k, []).append(float(v))
        return {k: float(np.mean(v)) for k, v in numeric.items()}

    def reset(self, seed: int | None = None) -> tuple[Any, dict]:
        obs, infos = self.env.reset(seed=seed)
        return self._joint(obs), self._info(infos)

    def step(self, actions: np.ndarray) -> tuple[Any, np.ndarray, bool, bool, dict]:
        act = {a: int(actions[i]) for i, a in enumerate(self.agents)}
        obs, rewards, terms, truncs, infos = self.env.step(act)
        reward = np.array([rewards[a] for a in self.agents], dtype=np.float32)
        done = [bool(terms[a] or truncs[a]) for a in self.agents]
        if any(done) and not all(done):
            ended = [a for a, d in zip(self.agents, done, strict=True) if d]
            raise RuntimeError(
                f"agents {ended} ended before the rest of the team; rlsys team envs need "
                "agents that end their episode together"
            )
        terminated = all(bool(terms[a]) for a in self.agents)
        truncated = all(done) and not terminated
        # A finished env returns no observations: keep the shape with zeros (never used
        # to act; a truncated episode's bootstrap value reads it, so prefer the last one).
        joint = self._joint(obs) if len(obs) == len(self.agents) else None
        return joint, reward, terminated, truncated, self._info(infos)


class _Episode:
    """Per-step records of one running episode."""

    def __init__(self, env: Any, seed: int, obs: Any) -> None:
        self.env, self.seed, self.obs = env, seed, obs
        self.observations: list = []
        self.actions: list = []
        self.logp: list = []
        self.values: list = []
        self.rewards: list = []
        self.extras: list[dict[str, np.ndarray]] = []
        self.draw: Any = None  # what the policy drew for the whole episode (begin_episode)


class RolloutWorker:
    """Collects complete episodes with a CPU copy of the policy (see module docstring).

    env_fn(episode_seed) -> gymnasium.Env, called at the start of every episode (it may
        return a cached env, or a new instance of a new size). Each of the
        ``envs_per_worker`` slots calls its own deep copy of ``env_fn``, so an env_fn that
        caches its env never hands one env to two live episodes.
    policy_fn() -> ActorCritic, called once.
    Observations must not be mutated by the env after they are returned (they are kept).
    """

    def __init__(
        self,
        env_fn: Callable[[int], gym.Env],
        policy_fn: Callable[[], Any],
        worker_index: int,
        root_seed: int,
        envs_per_worker: int,
    ) -> None:
        # One thread per actor: N actors on N cores beat N actors fighting over N*N threads.
        torch.set_num_threads(1)
        self.env_fns = [copy.deepcopy(env_fn) for _ in range(envs_per_worker)]
        self.policy = policy_fn()
        self.policy.eval()
        self.worker_index = worker_index
        self.root_seed = root_seed
        self.envs_per_worker = envs_per_worker
        self.instance = uuid.uuid4().hex
        self._team_envs: dict[int, tuple[Any, TeamEnv]] = {}
        # optional hook: a policy that draws something once per episode (a communication
        # graph), handed back to every act() of that episode as ``episode=[...]``
        self._per_episode = callable(getattr(self.policy, "begin_episode", None))

    def info(self) -> dict:
        """Who this is (for tests and logs): index, process id, incarnation id."""
        return {"worker_index": self.worker_index, "pid": os.getpid(), "instance": self.instance}

    def _start_episode(self, slot: int, seed: int, generator: torch.Generator) -> _Episode:
        env = self.env_fns[slot](seed)
        if is_team_env(env):
            if self._team_envs.get(slot, (None,))[0] is not env:
                self._team_envs[slot] = (env, TeamEnv(env))
            env = self._team_envs[slot][1]
        obs, _ = env.reset(seed=seed)
        episode = _Episode(env, seed, obs)
        if self._per_episode:
            episode.draw = self.policy.begin_episode(generator)
        return episode

    def sample(
        self, weights: dict[str, torch.Tensor], version: int, request_index: int, episodes: int
    ) -> RolloutBatch:
        """Run ``episodes`` complete episodes with ``weights`` and return their steps."""
        start = time.perf_counter()
        self.policy.load_state_dict(weights)
        torch_seed, seeds = request_seeds(
            self.root_seed, self.worker_index, request_index, episodes
        )
        generator = torch.Generator().manual_seed(torch_seed)

        # Episodes start in a fixed order and slots are scanned in a fixed order, so the
        # interleaving (and with it every generator draw) is the same on every run.
        slots: list[_Episode | None] = [None] * min(self.envs_per_worker, episodes)
        next_episode = 0
        for s in range(len(slots)):
            slots[s] = self._start_episode(s, seeds[next_episode], generator)
            next_episode += 1
        # (episode, final info, terminated, final obs, bootstrap value)
        finished: list[tuple[_Episode, dict, bool, Any, Any]] = []

        while any(ep is not None for ep in slots):
            live = [s for s, ep in enumerate(slots) if ep is not None]
            per_episode = {"episode": [slots[s].draw for s in live]} if self._per_episode else {}
            actions, logp, values, extras = self.policy.act(
                [slots[s].obs for s in live], generator=generator, **per_episode
            )
            truncated_at: list[tuple[_Episode, dict, Any]] = []
            for j, s in enumerate(live):
                ep = slots[s]
                # a team env takes the [N] row, a continuous env its [A] row; a discrete
                # gymnasium env one int
                action = actions[j] if actions.ndim > 1 else int(actions[j])
                next_obs, reward, terminated, truncated, info = ep.env.step(action)
                if next_obs is None:  # a finished team env: no observations left
                    next_obs = ep.obs
                ep.observations.append(ep.obs)
                ep.actions.append(action)
                ep.logp.append(logp[j])
                ep.values.append(values[j])
                ep.rewards.append(np.asarray(reward, dtype=np.float64))
                ep.extras.append({k: v[j] for k, v in extras.items()})
                ep.obs = next_obs
                if terminated:
                    finished.append((ep, info, True, next_obs, np.zeros_like(values[j])))
                elif truncated:
                    truncated_at.append((ep, info, next_obs))
                if terminated or truncated:
                    slots[s] = None
                    if next_episode < episodes:
                        slots[s] = self._start_episode(s, seeds[next_episode], generator)
                        next_episode += 1
            if truncated_at:
                # Bootstrap cut-off episodes with the value of their final observation;
                # deterministic and without the generator, so sampling draws are unchanged.
                _, _, last_values, _ = self.policy.act(
                    [o for _, _, o in truncated_at], deterministic=True
                )
                for (ep, info, o), v in zip(truncated_at, last_values, strict=True):
                    finished.append((ep, info, False, o, v))

        return self._to_batch(finished, version, request_index, time.perf_counter() - start)

    def _to_batch(
        self,
        finished: list[tuple[_Episode, dict, bool, Any, Any]],
        version: int,
        request_index: int,
        wall_time: float,
    ) -> RolloutBatch:
        def per_step(name: str, dtype: Any) -> np.ndarray:
            return np.concatenate(
                [np.asarray(getattr(ep, name), dtype=dtype) for ep, *_ in finished]
            )

        lengths = np.array([len(ep.rewards) for ep, *_ in finished], dtype=np.int64)
        ends = np.cumsum(lengths) - 1
        terminated = np.zeros(int(lengths.sum()), dtype=bool)
        truncated = np.zeros(int(lengths.sum()), dtype=bool)
        for end, (_, _, term, *_) in zip(ends, finished, strict=True):
            (terminated if term else truncated)[end] = True
        continuous = np.asarray(finished[0][0].actions[0]).dtype.kind == "f" if finished else False
        extra_keys = finished[0][0].extras[0].keys() if finished else ()
        policy_extras = {
            k: np.stack([x[k] for ep, *_ in finished for x in ep.extras]) for k in extra_keys
        }
        # a team's episode return: the mean over agents of each agent's sum of rewards
        episode_returns = [float(np.mean(np.sum(ep.rewards, axis=0))) for ep, *_ in finished]
        return RolloutBatch(
            obs=[o for ep, *_ in finished for o in ep.observations],
            actions=per_step("actions", np.float32 if continuous else np.int64),
            logp=per_step("logp", np.float32),
            values=per_step("values", np.float32),
            rewards=per_step("rewards", np.float32),
            terminated=terminated,
            truncated=truncated,
            final_obs=[final for _, _, _, final, _ in finished],
            bootstrap_values=np.array([v for *_, v in finished], dtype=np.float32),
            episode_returns=np.array(episode_returns, dtype=np.float64),
            episode_lengths=lengths,
            episode_infos=[info for _, info, *_ in finished],
            episode_seeds=[ep.seed for ep, *_ in finished],
            worker_index=self.worker_index,
            version=version,
            request_index=request_index,
            wall_time=wall_time,
            env_steps=int(lengths.sum()),
            worker_instance=self.instance,
            policy_extras=policy_extras,
        )
