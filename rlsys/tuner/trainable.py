"""Helpers for function trainables that checkpoint and continue (multi-fidelity).

A checkpoint here is a small set of named byte blobs (``payload``), written as files of a
``tune.Checkpoint`` directory: no pickle, so a checkpoint from disk can never run code.

``load_payload(config)`` returns what a trial should continue from: its own latest
checkpoint when Tune restarts it after a failure or a resume, else the checkpoint of the
same configuration at a smaller budget (``PARENT_KEY``, set by ``HyperbandSearcher``),
else nothing (a fresh start).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ray import tune

from rlsys.tuner.keys import BUDGET_KEY, CHECKPOINT_EVERY_KEY, PARENT_KEY


def _read_dir(path: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(path).iterdir() if p.is_file()}


def load_payload(config: dict[str, Any]) -> tuple[dict[str, bytes] | None, str]:
    """(payload, source): source is "restored", "parent" or "fresh"."""
    own = tune.get_checkpoint()
    if own is not None:
        with own.as_directory() as d:
            return _read_dir(d), "restored"
    parent = config.get(PARENT_KEY)
    if parent:
        try:
            with tune.Checkpoint(parent).as_directory() as d:
                return _read_dir(d), "parent"
        except Exception:  # noqa: BLE001 - any storage error (pyarrow raises its own types)
            # e.g. a multi-node cluster without shared storage: start over, still correct
            return None, "fresh"
    return None, "fresh"


def node_id() -> str:
    """The Ray node this trial runs on (every node of a one-machine test cluster shares
    one IP, so ``node_ip`` cannot tell them apart)."""
    import ray

    return ray.get_runtime_context().get_node_id()


def report(metrics: dict[str, Any], payload: dict[str, bytes] | None = None) -> None:
    """``tune.report`` (plus ``node_id``) with an optional checkpoint of the payload's blobs."""
    metrics = {**metrics, "node_id": node_id()}
    if payload is None:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory() as d:
        for name, blob in payload.items():
            Path(d, name).write_bytes(blob)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))


def json_blob(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def crash_once(marker: str | None, iteration: int) -> None:
    """Fault injection for tests: if ``marker`` names a file whose content is an iteration
    number equal to ``iteration``, remove it and kill this worker process (once)."""
    if not marker or not os.path.exists(marker):
        return
    try:
        at = int(Path(marker).read_text().strip() or 0)
    except (OSError, ValueError):
        return
    if at != iteration:
        return
    claimed = f"{marker}.{os.getpid()}"
    try:
        os.rename(marker, claimed)  # atomic: only one worker claims the crash
    except OSError:
        return
    os.remove(claimed)
    os._exit(1)


# --- warm-up barrier --------------------------------------------------------------------
#
# With ``reuse_actors=True`` Tune gives a pending trial the actor of a trial that just
# finished and cancels the actor it was starting for it. When trials are shorter than an
# actor's start-up (a 10,000-agent simulation of 18 iterations takes 0.1 s; starting a
# worker and importing the trainable takes seconds), the second actor never comes up and
# the experiment runs on one CPU. The barrier holds the first trial of each actor until
# ``target`` actors have arrived (or ``timeout_s`` passed), so all of them start.


class _Barrier:
    """A tiny Ray actor: how many worker processes have arrived."""

    def __init__(self) -> None:
        self.arrived: set[str] = set()

    def arrive(self, who: str) -> int:
        self.arrived.add(who)
        return len(self.arrived)

    def count(self) -> int:
        return len(self.arrived)


_ARRIVED: set[str] = set()
_BARRIERS: dict[str, Any] = {}  # the driver keeps its handles: a dropped handle ends the actor
_NAMESPACE = "rlsys-tuner"


def make_barrier(name: str) -> Any:
    """Create the named barrier actor (0 CPUs; it lives as long as the driver)."""
    import ray

    actor = ray.remote(num_cpus=0)(_Barrier)
    _BARRIERS[name] = actor.options(name=name, namespace=_NAMESPACE).remote()
    return _BARRIERS[name]


def drop_barrier(name: str) -> None:
    """End a barrier made by ``make_barrier`` (after its experiment)."""
    import ray

    handle = _BARRIERS.pop(name, None)
    if handle is not None:
        ray.kill(handle)


def warm_up(name: str | None, target: int, timeout_s: float = 20.0) -> None:
    """In a worker: arrive at barrier ``name`` once per process, wait for ``target`` arrivals."""
    import socket
    import time

    import ray

    if not name or target <= 1 or name in _ARRIVED:
        return
    _ARRIVED.add(name)
    try:
        barrier = ray.get_actor(name, namespace=_NAMESPACE)
    except ValueError:
        return  # no barrier (e.g. a restored experiment in a new driver)
    deadline = time.monotonic() + timeout_s
    n = ray.get(barrier.arrive.remote(f"{socket.gethostname()}:{os.getpid()}"))
    while n < target and time.monotonic() < deadline:
        time.sleep(0.05)
        n = ray.get(barrier.count.remote())


def with_warm_up(trainable: Any, name: str, target: int) -> Any:
    """Wrap a function trainable so that its first call in each process waits at the barrier."""

    def wrapped(config: dict) -> None:
        warm_up(name, target)
        return trainable(config)

    wrapped.__name__ = getattr(trainable, "__name__", "trainable")
    wrapped.__qualname__ = wrapped.__name__
    return wrapped


def trainer_trial(
    make_trainer: Any,
    result: Any,
    checkpoint_every: int,
    total_updates: int,
    prefix: str = "trial-",
    config: dict[str, Any] | None = None,
    metric: str | None = None,
) -> None:
    """Run an ``rlsys.rl.trainer.Trainer`` as a Tune function trainable: one report per
    update, ``result(metrics) -> dict`` plus ``iteration`` (the update count, the budget
    unit); every ``checkpoint_every`` updates (and at the end) the trainer's checkpoint
    goes into a ``tune.Checkpoint`` (a weights-only torch file, no pickle), and a restored
    trial continues from it bit for bit.

    make_trainer(run_dir, resume) -> Trainer builds the trial's trainer in a fresh
    temporary run directory (resume: continue from run_dir/checkpoints/latest.pt).

    With the tuner's keys in ``config``: the trial stops at ``BUDGET_KEY`` updates (its
    schedule still runs to ``total_updates``), and a promoted job continues the
    checkpoint of ``PARENT_KEY`` (the same configuration at a smaller budget);
    ``CHECKPOINT_EVERY_KEY`` overrides ``checkpoint_every`` (PBT clones a trial from the
    checkpoint its donor made at the perturbation). With
    ``metric``: updates before the metric is first known (e.g. before the first
    validation) are not reported, since Tune's schedulers need it in every result.
    """
    config = config or {}
    budget = min(int(config.get(BUDGET_KEY) or total_updates), total_updates)
    run_dir = Path(tempfile.mkdtemp(prefix=prefix))
    payload, source = load_payload(config)
    if payload is not None:
        (run_dir / "checkpoints").mkdir(parents=True)
        (run_dir / "checkpoints" / "latest.pt").write_bytes(payload["latest.pt"])
    trainer = make_trainer(run_dir, payload is not None)
    start = trainer.update
    every = max(int(config.get(CHECKPOINT_EVERY_KEY) or checkpoint_every), 1)

    def report_update(metrics: dict) -> None:
        out = {**result(metrics), "iteration": metrics["update"], BUDGET_KEY: budget}
        out["start_iteration"] = start if source == "parent" else 0
        out["node_id"] = node_id()
        if metric is not None and metric not in out:
            return
        update = metrics["update"]
        if update % every == 0 or update in (budget, total_updates):
            path = trainer.save_checkpoint()
            with tempfile.TemporaryDirectory() as d:
                Path(d, "latest.pt").write_bytes(path.read_bytes())
                tune.report(out, checkpoint=tune.Checkpoint.from_directory(d))
        else:
            tune.report(out)

    trainer.train(stop_after=max(0, budget - trainer.update), callback=report_update)


def trainer_resources(rollout: Any, learner_cpus: float = 1.0, learner_gpus: float = 0.0) -> Any:
    """A placement group per ``trainer_trial``: the learner's bundle plus one per rollout
    actor (``rollout``: an ``rlsys.rl.trainer.RolloutConfig``), so concurrent trials never
    oversubscribe the cluster (Tune places the actors a trial starts in its own group)."""
    learner = {"CPU": learner_cpus, **({"GPU": learner_gpus} if learner_gpus else {})}
    bundles = [learner] + [{"CPU": rollout.worker_num_cpus}] * rollout.num_workers
    return tune.PlacementGroupFactory(bundles)
