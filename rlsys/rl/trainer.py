"""The PPO training loop over Ray rollout actors, with logging, checkpoints and resume.

Read ``Trainer.train`` top to bottom: broadcast weights -> collect batches from the
workers (``_collect_sync`` / ``_collect_async``) -> ``learner.update`` -> evaluate,
log, checkpoint. Workers return transitions (``rollout.py``); GAE and the loss are the
PPO learner's (``ppo.py``), the replay buffer the SAC learner's (``sac.py``).
The learner is any ``rlsys.rl.ppo.Learner`` (``learner_fn(policy)``; PPO by default), so
every workload (job shop, CommFormer's bilevel PPO) runs this one loop.

Run directory (``runtime.make_run_dir``): ``metrics.jsonl`` (one object per update),
``tb/`` (TensorBoard), ``checkpoints/ckpt_<update>.pt`` + ``latest.pt``, ``final.pt``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import ray
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from rlsys.config import Config, config_field, from_dict
from rlsys.rl.ppo import Learner, PPOConfig, PPOLearner
from rlsys.rl.rollout import RolloutBatch, RolloutWorker
from rlsys.rl.sac import SACConfig, SACLearner
from rlsys.runtime import derive_seeds, init_ray

# A request that fails this many times in a row (its worker keeps dying) stops training.
MAX_REISSUES = 20


@dataclass
class RolloutConfig(Config):
    """How experience is collected."""

    num_workers: int = config_field(2, ge=1)
    """rollout actors"""
    envs_per_worker: int = config_field(4, ge=1)
    """environments each actor steps in lockstep (one batched policy call per step)"""
    episodes_per_request: int = config_field(8, ge=1)
    """complete episodes each actor returns per request"""
    mode: Literal["sync", "async"] = "sync"
    """'sync': every update uses exactly one batch per worker (deterministic, resumable
    bit for bit); 'async': the learner takes batches as they arrive until it has
    min_steps_per_update env steps, so it never waits for the slowest worker"""
    min_steps_per_update: int = config_field(2048, ge=1)
    """async only: env steps the learner gathers before an update"""
    max_policy_lag: int = config_field(1, ge=0)
    """async only: drop batches sampled by weights more than this many updates old"""
    worker_num_cpus: float = config_field(1.0, ge=0)
    """CPUs Ray reserves per rollout actor"""
    request_timeout_s: float | None = config_field(None, gt=0)
    """give up (raise) if no batch arrives for this long; None waits forever"""


@dataclass
class TrainConfig(Config):
    """A training run: loop lengths, logging cadence, the learner's and rollout settings."""

    seed: int = config_field(0, ge=0, lt=2**32)
    """root seed; workers, episodes and the learner derive theirs from it"""
    total_updates: int = config_field(100, ge=1)
    """learner updates in the run, one per collected batch (PPO's learning rate anneals
    over these)"""
    checkpoint_every: int = config_field(10, ge=0)
    """write checkpoints/ckpt_<update>.pt every this many updates (0: only at the end)"""
    eval_every: int = config_field(0, ge=0)
    """call evaluate_fn every this many updates and at the end (0: never)"""
    log_every: int = config_field(1, ge=1)
    """write TensorBoard scalars every this many updates (metrics.jsonl gets every one)"""
    algorithm: Literal["ppo", "sac"] = "ppo"
    """the default learner: 'ppo' (discrete actions, ``ppo``) or 'sac' (continuous
    actions, ``sac``; the policy is a ``SquashedGaussianActor``)"""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO hyperparameters"""
    sac: SACConfig = field(default_factory=SACConfig)
    """SAC hyperparameters"""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """rollout actors"""
    learner_num_cpus: float = config_field(1.0, ge=0)
    """CPUs a tuner trial reserves for its learner (the trial's own process; a plain run's
    learner is the driver and reserves nothing)"""
    learner_threads: int = config_field(1, ge=1)
    """torch threads of the learner process. 1 suits small networks (many small
    minibatches, and the rollout workers want the other cores); in 'sync' mode the workers
    idle while the learner updates, so a wide network's update gains from more (hidden 128
    job shop: about a quarter off the update with 2 on 2 cores). A tuner trial's learner
    on several threads reserves the larger of this and learner_num_cpus."""


@dataclass
class _Request:
    worker: int
    request_index: int
    version: int
    weights: Any  # ObjectRef of the state_dict, kept so a failed request can be re-issued


def rng_state() -> dict:
    """Global torch / numpy / random states as plain data (``weights_only`` loadable)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def resolve_device(device: str) -> torch.device:
    """ "auto" -> CUDA when present, else CPU; "cpu"/"cuda"/"cuda:1" as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r}: CUDA is not available on this machine")
    return torch.device(device)


def load_policy(path: str | Path, policy_cls: Callable[..., nn.Module]) -> nn.Module:
    """Rebuild a trained policy from ``final.pt``: ``policy_cls(**policy_kwargs)``."""
    data = torch.load(path, weights_only=True)
    policy = policy_cls(**(data["meta"].get("policy_kwargs") or {}))
    policy.load_state_dict(data["model"])
    return policy


class Trainer:
    """PPO or SAC over ``cfg.rollout.num_workers`` Ray rollout actors.

    env_fn(episode_seed) -> gymnasium.Env and policy_fn() -> ActorCritic are shipped to
    the workers (module-level callables, ``functools.partial`` or small classes);
    policy_fn also builds the learner's copy here. evaluate_fn(policy, update) -> dict of
    floats runs on the driver every ``eval_every`` updates. policy_kwargs (plain data) is
    stored in final.pt so ``load_policy`` can rebuild the network from the file alone.
    learner_fn(policy, cfg, seed) -> Learner builds the learner (default: ``PPOLearner``
    with ``cfg.ppo``, or ``SACLearner`` with ``cfg.sac`` when cfg.algorithm is 'sac');
    the learner's state is part of every checkpoint.
    device: where the learner's copy of the policy lives ("auto": CUDA when present);
    rollout workers always act on CPU copies.
    final_meta: more plain data for final.pt's ``meta`` (e.g. the env it was trained on).
    resume: False, True (continue from run_dir/checkpoints/latest.pt) or a checkpoint path;
    metrics.jsonl lines of updates after the checkpoint are dropped (they are redone).
    Seeds the global torch / numpy / random generators with ``cfg.seed`` (or restores them).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        env_fn: Callable,
        policy_fn: Callable[[], nn.Module],
        run_dir: str | Path,
        evaluate_fn: Callable[[nn.Module, int], dict] | None = None,
        policy_kwargs: dict | None = None,
        resume: bool | str | Path = False,
        progress: bool = True,
        learner_fn: Callable[[nn.Module, TrainConfig, int], Learner] | None = None,
        device: str = "cpu",
        final_meta: dict | None = None,
    ) -> None:
        if cfg.rollout.mode not in ("sync", "async"):
            raise ValueError(f"rollout.mode: 'sync' or 'async', got {cfg.rollout.mode!r}")
        self.cfg = cfg
        self.env_fn, self.policy_fn, self.evaluate_fn = env_fn, policy_fn, evaluate_fn
        self.policy_kwargs = policy_kwargs
        self.final_meta = final_meta or {}
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress

        torch.set_num_threads(cfg.learner_threads)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        self.device = resolve_device(device)
        self.policy = policy_fn().to(self.device)
        learner_seed = derive_seeds(cfg.seed, 1)[0]
        if learner_fn is None and cfg.algorithm == "sac":
            self.learner: Learner = SACLearner(self.policy, cfg.sac, seed=learner_seed)
        elif learner_fn is None:
            self.learner = PPOLearner(self.policy, cfg.ppo, seed=learner_seed)
        else:
            self.learner = learner_fn(self.policy, cfg, learner_seed)

        self.update = 0
        self.env_steps = 0
        self.episodes = 0
        # training time of the run's finished parts (a resumed run reports its whole time)
        # and the start of the part in progress (see elapsed_s)
        self.prior_time_s = 0.0
        self._part_started: float | None = None
        self.request_indices = [0] * cfg.rollout.num_workers
        self.counters = {"worker_restarts": 0, "failed_requests": 0, "dropped_batches": 0}
        self.workers: list = []
        self.in_flight: dict[Any, _Request] = {}
        self.worker_instances: list[str | None] = [None] * cfg.rollout.num_workers
        self.last_batch: RolloutBatch | None = None
        self.last_metrics: dict[str, Any] = {}
        self.last_eval: dict[str, float] = {}
        if resume:
            path = resume if not isinstance(resume, bool) else self.checkpoint_dir / "latest.pt"
            self.load_checkpoint(path)

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        env_fn: Callable,
        policy_fn: Callable[[], nn.Module],
        cfg: TrainConfig | None = None,
        checkpoint: str | Path | None = None,
        **kwargs: Any,
    ) -> Trainer:
        """Continue the run in ``run_dir`` from ``checkpoint`` (default
        ``checkpoints/latest.pt``), with the config stored there unless ``cfg`` is given."""
        checkpoint = checkpoint or Path(run_dir) / "checkpoints" / "latest.pt"
        if cfg is None:
            cfg = from_dict(TrainConfig, torch.load(checkpoint, weights_only=True)["config"])
        return cls(cfg, env_fn, policy_fn, run_dir, resume=checkpoint, **kwargs)

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    # ------------------------------------------------------------------ the loop
    def train(
        self,
        stop_after: int | None = None,
        callback: Callable[[dict], None] | None = None,
    ) -> dict:
        """Run until ``total_updates`` (or ``stop_after`` more updates); return a summary.

        callback(metrics) is called after every update (e.g. to report to Ray Tune).
        """
        cfg = self.cfg
        end = cfg.total_updates
        if stop_after is not None:
            end = min(end, self.update + stop_after)
        if self.update >= end:
            return self._summary()
        self._part_started = time.perf_counter()
        self._start_workers()
        writer = SummaryWriter(str(self.run_dir / "tb"))
        bar = tqdm(
            total=cfg.total_updates, initial=self.update, disable=not self.progress, unit="upd"
        )
        try:
            while self.update < end:
                t0 = time.perf_counter()
                weights = ray.put(
                    {k: v.detach().cpu() for k, v in self.policy.state_dict().items()}
                )
                if cfg.rollout.mode == "sync":
                    batches = self._collect_sync(weights)
                else:
                    batches = self._collect_async(weights)
                batch = RolloutBatch.concat(batches)
                t1 = time.perf_counter()

                stats = self.learner.update(batch, self.update / cfg.total_updates)
                t2 = time.perf_counter()
                lag = float(np.mean([self.update - b.version for b in batches]))
                self.update += 1
                self.env_steps += batch.env_steps
                self.episodes += len(batch.episode_returns)
                self.last_batch = batch

                metrics = self._metrics(batch, stats, lag, t1 - t0, t2 - t1)
                if (
                    self.evaluate_fn is not None
                    and cfg.eval_every
                    and (self.update % cfg.eval_every == 0 or self.update == cfg.total_updates)
                ):
                    self.policy.eval()
                    self.last_eval = dict(self.evaluate_fn(self.policy, self.update))
                    metrics.update({f"eval/{k}": v for k, v in self.last_eval.items()})
                self._log(metrics, writer, bar)
                if callback is not None:
                    callback(metrics)
                if (cfg.checkpoint_every and self.update % cfg.checkpoint_every == 0) or (
                    self.update == end
                ):
                    self.save_checkpoint()
        finally:
            bar.close()
            writer.close()
            self._stop_workers()
            self.prior_time_s, self._part_started = self.elapsed_s(), None

        if self.update >= cfg.total_updates:
            self.save_final()
        return self._summary()

    def elapsed_s(self) -> float:
        """Training time of the whole run so far: its earlier parts (those resumed from and
        earlier ``train`` calls) plus the one in progress."""
        if self._part_started is None:
            return self.prior_time_s
        return self.prior_time_s + time.perf_counter() - self._part_started

    def _summary(self) -> dict:
        return {
            "updates": self.update,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "episodic_return": self.last_metrics.get("charts/episodic_return"),
            "eval": self.last_eval,
            **self.counters,
            "wall_time_s": self.elapsed_s(),
            "run_dir": str(self.run_dir),
        }

    # ------------------------------------------------------------------ rollouts
    def _start_workers(self) -> None:
        init_ray()
        r = self.cfg.rollout
        actor = ray.remote(RolloutWorker).options(
            num_cpus=r.worker_num_cpus, max_restarts=-1, max_task_retries=-1
        )
        self.workers = [
            actor.remote(
                self.env_fn,
                self.policy_fn,
                i,
                self.cfg.seed,
                r.envs_per_worker,
            )
            for i in range(r.num_workers)
        ]
        self.in_flight = {}

    def _stop_workers(self) -> None:
        for w in self.workers:
            ray.kill(w, no_restart=True)
        self.workers, self.in_flight = [], {}

    def _issue(self, worker: int, weights: Any) -> None:
        req = _Request(worker, self.request_indices[worker], self.update, weights)
        self.request_indices[worker] += 1
        self._send(req)

    def _send(self, req: _Request) -> None:
        ref = self.workers[req.worker].sample.remote(
            req.weights, req.version, req.request_index, self.cfg.rollout.episodes_per_request
        )
        self.in_flight[ref] = req

    def _next_batch(self) -> RolloutBatch:
        """The next finished request. A request whose worker died (and that Ray did not
        retry itself) is re-issued unchanged: same index, same weights, same batch."""
        ray = init_ray()
        failures: dict[tuple[int, int], int] = {}
        while True:
            ready, _ = ray.wait(
                list(self.in_flight), num_returns=1, timeout=self.cfg.rollout.request_timeout_s
            )
            if not ready:
                raise TimeoutError(
                    f"no rollout batch within {self.cfg.rollout.request_timeout_s} s "
                    f"(are CPUs free for {len(self.workers)} workers?)"
                )
            req = self.in_flight.pop(ready[0])
            try:
                batch = ray.get(ready[0])
            except ray.exceptions.RayActorError:
                key = (req.worker, req.request_index)
                failures[key] = failures.get(key, 0) + 1
                if failures[key] > MAX_REISSUES:
                    raise
                self.counters["failed_requests"] += 1
                self._send(req)
                continue
            # A new incarnation id means Ray restarted the actor (re-ran __init__).
            seen = self.worker_instances[batch.worker_index]
            if seen is not None and seen != batch.worker_instance:
                self.counters["worker_restarts"] += 1
            self.worker_instances[batch.worker_index] = batch.worker_instance
            return batch

    def _collect_sync(self, weights: Any) -> list[RolloutBatch]:
        """Exactly one batch per worker, all sampled by the current weights."""
        for w in range(len(self.workers)):
            self._issue(w, weights)
        batches = [self._next_batch() for _ in self.workers]
        return sorted(batches, key=lambda b: b.worker_index)

    def _collect_async(self, weights: Any) -> list[RolloutBatch]:
        """Batches in arrival order until min_steps_per_update env steps.

        Every arrival is answered at once with a new request on the newest weights, so
        each worker always has one request in flight; batches that finished during the
        last update are still in ``in_flight`` and are taken first.
        """
        r = self.cfg.rollout
        busy = {req.worker for req in self.in_flight.values()}
        for w in range(len(self.workers)):
            if w not in busy:
                self._issue(w, weights)
        batches: list[RolloutBatch] = []
        steps = 0
        while steps < r.min_steps_per_update:
            batch = self._next_batch()
            self._issue(batch.worker_index, weights)
            if self.update - batch.version > r.max_policy_lag:
                self.counters["dropped_batches"] += 1
                continue
            batches.append(batch)
            steps += batch.env_steps
        return batches

    # ------------------------------------------------------------------ logging
    def _metrics(
        self,
        batch: RolloutBatch,
        stats: dict[str, float],
        lag: float,
        rollout_s: float,
        update_s: float,
    ) -> dict[str, Any]:
        metrics: dict[str, Any] = {
            "update": self.update,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "charts/episodic_return": float(np.mean(batch.episode_returns)),
            "charts/episodic_length": float(np.mean(batch.episode_lengths)),
            "charts/SPS": batch.env_steps / max(rollout_s + update_s, 1e-9),
            "charts/batch_steps": batch.env_steps,
            "charts/learning_rate": stats["learning_rate"],
            "charts/policy_lag": lag,
        }
        # every learner stat (losses, per-group grad norms, epochs) except the lr above
        for k, v in stats.items():
            if k != "learning_rate":
                metrics[f"losses/{k}"] = v
        # Numeric scalars of the episodes' final info dicts (e.g. a makespan).
        numeric: dict[str, list[float]] = {}
        for info in batch.episode_infos:
            for k, v in info.items():
                if isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_):
                    numeric.setdefault(k, []).append(float(v))
        metrics.update({f"episode/{k}": float(np.mean(v)) for k, v in numeric.items()})
        metrics.update({f"system/{k}": v for k, v in self.counters.items()})
        metrics["time/rollout_s"] = rollout_s
        metrics["time/update_s"] = update_s
        metrics["time/elapsed_s"] = self.elapsed_s()
        return metrics

    def _log(self, metrics: dict[str, Any], writer: SummaryWriter, bar: tqdm) -> None:
        self.last_metrics = metrics
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in metrics.items()
        }
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(clean) + "\n")
        has_eval = any(k.startswith("eval/") for k in metrics)
        if self.update % max(self.cfg.log_every, 1) == 0 or has_eval:
            for k, v in metrics.items():
                if "/" in k and isinstance(v, int | float) and math.isfinite(v):
                    writer.add_scalar(k, v, self.env_steps)
        postfix = {
            "SPS": f"{metrics['charts/SPS']:.0f}",
            "return": f"{metrics['charts/episodic_return']:.3g}",
        }
        if self.last_eval:
            key, value = next(iter(self.last_eval.items()))
            postfix[key] = f"{value:.4g}"
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> Path:
        """checkpoints/ckpt_<update>.pt and latest.pt; loadable with weights_only=True."""
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "model": self.policy.state_dict(),
            "learner": self.learner.state_dict(),
            "update": self.update,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "train_time_s": self.elapsed_s(),
            "request_indices": list(self.request_indices),
            "counters": dict(self.counters),
            "rng": rng_state(),
            "config": dataclasses.asdict(self.cfg),
            # what rebuilds the network, as in final.pt: a checkpoint is a policy file too
            "meta": {"policy_kwargs": self.policy_kwargs},
        }
        path = self.checkpoint_dir / f"ckpt_{self.update}.pt"
        for target in (path, self.checkpoint_dir / "latest.pt"):
            tmp = target.with_suffix(".tmp")
            torch.save(state, tmp)
            os.replace(tmp, target)  # never leave a half-written latest.pt behind
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if len(state["request_indices"]) != self.cfg.rollout.num_workers:
            raise ValueError(
                f"{path}: checkpoint has {len(state['request_indices'])} workers, "
                f"config has {self.cfg.rollout.num_workers}"
            )
        self.policy.load_state_dict(state["model"])
        self.learner.load_state_dict(state["learner"])
        self.update = state["update"]
        self.env_steps = state["env_steps"]
        self.episodes = state["episodes"]
        self.prior_time_s = float(state.get("train_time_s", 0.0))  # absent before 2026-12
        self.request_indices = list(state["request_indices"])
        self.counters.update(state["counters"])
        set_rng_state(state["rng"])
        # Updates logged after this checkpoint will be redone: drop their old lines (and a
        # last line torn by a killed driver).
        log = self.run_dir / "metrics.jsonl"
        if log.exists():
            kept = []
            for line in log.read_text().splitlines(keepends=True):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if row["update"] <= self.update:
                    kept.append(line if line.endswith("\n") else line + "\n")
            log.write_text("".join(kept))

    def save_final(self) -> Path:
        """final.pt: the policy state_dict and what is needed to rebuild and judge it."""
        path = self.run_dir / "final.pt"
        meta = {
            "config": dataclasses.asdict(self.cfg),
            "policy_class": f"{type(self.policy).__module__}.{type(self.policy).__qualname__}",
            "policy_kwargs": self.policy_kwargs,
            "update": self.update,
            "env_steps": self.env_steps,
            "eval": self.last_eval,
            **self.final_meta,
        }
        torch.save({"model": self.policy.state_dict(), "meta": meta}, path)
        return path
