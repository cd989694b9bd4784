"""``run_experiment``: one Ray Tune experiment (or its resumption) for any workload.

A workload hands over a function trainable, its constants, a typed search space
(``rlsys.tuner.space``), a search method and budgets; the tuner runs it on whatever Ray
cluster ``rlsys.runtime.init_ray`` joined, each trial with its resources (``cpus_per_trial``
CPUs, or a placement group for trials that start their own rollout actors), at most
``workers`` at a time, and returns the evaluations as a table (a list of dicts).

Layout under ``storage_dir``::

    journal.jsonl     one line per finished evaluation (and per retry), flushed as it happens
    session-1/        the Ray Tune experiment (trials, their checkpoints, searcher state)
    session-2/        a later session that continued or extended the experiment

Search methods: ``bohb`` (hpbandster's BOHB, see ``rlsys.tuner.searchers``), ``random``
(seeded samples at the largest budget), ``asha`` (the same samples under Tune's
``ASHAScheduler``, which stops trials early at rungs of the budget: trials must report
``iteration`` in budget units), ``grid`` (every grid point of the space, in order; a
resumed grid runs exactly the points not yet finished), ``pbt`` (Tune's
``PopulationBasedTraining``: a population of seeded samples trains side by side; every
``perturbation_interval`` budget units the bottom quarter continues from a top quarter
member's checkpoint with that member's config, its ``mutable`` parameters perturbed by
x0.8 / x1.2 or resampled, kept inside the space) and ``single`` (one trial with the
constants only: for sequential algorithms such as a fixed-point iteration).

Fault tolerance: ``FailureConfig(max_failures)`` retries a trial whose worker died; it
continues from its last checkpoint. Resume (``resume=True``) reads only rlsys's own
files, never Tune's: an unfinished last session (stopped by Ctrl-C, SIGTERM or SIGKILL,
or a lost head node) is closed, and a new session continues from the journal. Its
searcher is warm-started with every finished evaluation (the KDE model sees them all; a
``single`` trainable gets the last state through ``warm_constants``), and it runs only
the evaluations still missing. A session that had finished gets a new session the same
way when more evaluations are asked for (a larger ``evaluations``). No finished
evaluation is computed again; evaluations running at the moment of the interruption
are lost (they had not finished) and their slots go to new configurations.

Why not ``Tuner.restore``: (1) after a hard kill Tune's last experiment state is older
than the journal, and restore ran finished trials again (5 of 17 after a kill -9);
(2) Tune's state is pickled: ``tuner.pkl`` (cloudpickle of the trainable, param space and
search algorithm), trial states as cloudpickle inside ``experiment_state-*.json``, and
``error.pkl`` of failed trials. ``Tuner.restore`` unpickles them, so a tampered
``--resume`` directory could run code. What each side writes under ``storage_dir``:

- rlsys (read on resume): ``journal.jsonl`` (JSON lines), ``session-*/session-done.json``
  and ``session-interrupted.json`` (JSON), the searcher state
  ``session-*/searcher-state-*.json`` (JSON, ``HyperbandSearcher.get_state``; saved with
  Tune's experiment checkpoints, never needed to resume) and trial checkpoints (named
  byte blobs: JSON and ``allow_pickle=False`` npz, see ``rlsys.tuner.trainable``), read
  only within the session that wrote them.
- Ray Tune (never read by rlsys): ``tuner.pkl``, ``experiment_state-*.json``,
  ``search_gen_state-*.json``, ``trial_*/error.pkl``, ``.validate_storage_marker``.

A trainable marks the end of an evaluation by reporting ``{"record": {...}}`` (a flat
dict of what to log, with a ``key`` unique within the trial); runs stopped early by the
``TrendStopper`` and failed runs get a record built by ``partial_record``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune import Callback

from rlsys.tuner.keys import (
    BUDGET_KEY,
    CHECKPOINT_EVERY_KEY,
    JOB_KEY,
    PARENT_BUDGET_KEY,
    PICK_KEY,
    PROPOSAL_PICK_KEY,
)
from rlsys.tuner.searchers import GridSearcher, HyperbandSearcher, hyperband_budgets
from rlsys.tuner.space import Space, changing, clip, grid, searched
from rlsys.tuner.stopping import TrendStopper
from rlsys.tuner.trainable import drop_barrier, make_barrier, with_warm_up

SEARCHES = ("bohb", "random", "asha", "grid", "pbt", "single")
DONE_MARKER = "session-done.json"
INTERRUPTED_MARKER = "session-interrupted.json"


class Journal:
    """Append-only JSONL of evaluation records; readers skip a torn last line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records, seen = [], set()
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill
            ident = (rec.get("trial_id"), rec.get("key"), rec.get("kind"))
            if ident in seen:
                continue  # reported twice (a retried trial): keep the first
            seen.add(ident)
            records.append(rec)
        return records

    def evaluations(self) -> list[dict[str, Any]]:
        return [r for r in self.read() if r.get("kind") == "evaluation"]


def partial_record(
    config: dict[str, Any],
    last: dict[str, Any],
    metric: str,
    space_keys: list[str],
    extra_keys: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Record of a run that ended without reporting one: a trainable that reports only
    metrics (its last result is the record), one stopped early, or one that failed.

    ``full_budget``: the last result reached the job's budget (``iteration`` in budget
    units); ``stopped_early`` is its negation.
    """
    budget = int(config.get(BUDGET_KEY, 0) or 0)
    iteration = int(last.get("iteration", 0) or 0)
    start = int(last.get("start_iteration", config.get(PARENT_BUDGET_KEY, 0)) or 0)
    full = budget > 0 and iteration >= budget
    rec = {
        "key": "final",
        "config": {k: config[k] for k in space_keys if k in config},
        "budget": budget,
        "start_iteration": start,
        "iterations_run": max(0, iteration - start),
        metric: last.get(metric),
        "continued": start > 0,
        "full_budget": full,
        "stopped_early": not full,
    }
    for key in extra_keys:
        rec[key] = last.get(key)
    return rec


class JournalCallback(Callback):
    """Writes every evaluation record to the journal and prints progress (driver side)."""

    def __init__(
        self,
        journal_path: str,
        metric: str,
        mode: str,
        session: int,
        space_keys: list[str],
        record_keys: tuple[str, ...] = (),
        progress_every_s: float = 5.0,
        total: int | None = None,
        quiet: bool = False,
    ):
        self.journal = Journal(journal_path)
        self.metric, self.mode, self.session = metric, mode, session
        self.space_keys, self.record_keys = space_keys, tuple(record_keys)
        self.progress_every_s, self.total, self.quiet = progress_every_s, total, quiet
        self._recorded: set[str] = set()
        self._last_print = 0.0
        self._count = 0
        self._best: float | None = None
        # for the rate and time-left estimate: this session's start and evaluation count
        self._t0, self._count0 = time.monotonic(), 0

    def setup(self, **info):
        done = self.journal.read()
        self._recorded = {f"{r.get('trial_id')}/{r.get('key')}" for r in done}
        done = [r for r in done if r.get("kind") == "evaluation"]
        self._count = len(done)
        self._t0, self._count0 = time.monotonic(), self._count
        for rec in done:
            self._update_best(rec.get(self.metric), rec)

    def _update_best(self, value: Any, rec: dict) -> None:
        # only complete evaluations count (a record may set full_budget=False)
        if value is None or not rec.get("full_budget", True) or rec.get("stopped_early"):
            return
        if self._best is None or (value < self._best if self.mode == "min" else value > self._best):
            self._best = float(value)

    def _write(self, trial, rec: dict[str, Any], last: dict[str, Any]) -> None:
        rec = {
            "kind": "evaluation",
            "trial_id": trial.trial_id,
            "session": self.session,
            "job": trial.config.get(JOB_KEY, ""),
            "model_based_pick": trial.config.get(PICK_KEY),
            "proposal_pick": trial.config.get(PROPOSAL_PICK_KEY),
            "wall_s": last.get("time_total_s"),
            "worker": f"{last.get('hostname', '?')}:{last.get('pid', '?')}",
            "node_ip": last.get("node_ip"),
            "node_id": last.get("node_id"),
            "finished_at": time.time(),
            **rec,
        }
        self.journal.append(rec)
        self._count += 1
        self._update_best(rec.get(self.metric), rec)
        self._maybe_print()

    def _maybe_print(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self._last_print < self.progress_every_s):
            return
        self._last_print = now
        total = f"/{self.total}" if self.total else ""
        best = "-" if self._best is None else f"{self._best:.3f}"
        elapsed = now - self._t0
        line = f"  evaluations {self._count}{total}, best {self.metric} {best}, {elapsed:.0f} s"
        done_here = self._count - self._count0
        if self.total and done_here >= 5 and self._count < self.total:
            left = (self.total - self._count) * elapsed / done_here
            line += f", ~{left:.0f} s left"
        print(line, flush=True)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        rec = result.get("record")
        if isinstance(rec, dict):
            key = f"{trial.trial_id}/{rec.get('key', 'final')}"
            if key not in self._recorded:
                self._recorded.add(key)
                self._write(trial, dict(rec), result)

    def on_trial_complete(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        if not any(k.startswith(f"{trial.trial_id}/") for k in self._recorded):
            rec = partial_record(trial.config, last, self.metric, self.space_keys, self.record_keys)
            self._recorded.add(f"{trial.trial_id}/final")
            self._write(trial, rec, last)

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.journal.append(
            {
                "kind": "retry",
                "trial_id": trial.trial_id,
                "session": self.session,
                "job": trial.config.get(JOB_KEY, ""),
                "key": f"retry-{time.time()}",
                "at": time.time(),
            }
        )
        if not self.quiet:
            print(f"  trial {trial.trial_id} failed; retrying from its last checkpoint", flush=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        last = trial.last_result or {}
        rec = partial_record(trial.config, last, self.metric, self.space_keys, self.record_keys)
        rec.update(error=True, key="error", full_budget=False, stopped_early=False)
        rec[self.metric] = None
        rec["reason"] = _error_line(trial)
        self._write(trial, rec, last)

    def on_experiment_end(self, trials, **info):
        self._maybe_print(force=True)


class CheckpointTracker(Callback):
    """Tells the searcher where each trial's latest checkpoint is (for promotions)."""

    def __init__(self, searcher: HyperbandSearcher):
        self.searcher = searcher

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        self.searcher.note_checkpoint(trial.trial_id, checkpoint.path)


@dataclasses.dataclass
class ExperimentSpec:
    """What to run. Budgets are in the trainable's unit (e.g. simulation iterations)."""

    trainable: Callable[[dict], None]
    """A Tune function trainable (reports with ``tune.report``, see ``rlsys.tuner.trainable``)."""
    constants: dict[str, Any]
    """Passed unchanged in every trial's config."""
    search: str = "bohb"
    """bohb | random | asha | grid | pbt | single."""
    space: Space = dataclasses.field(default_factory=dict)
    """The typed search space (``rlsys.tuner.space``; unused by ``single``)."""
    metric: str = "loss"
    mode: str = "min"
    max_budget: int = 1
    """Largest budget (bohb brackets go down to ``min_budget`` by factors of ``eta``)."""
    min_budget: int | None = None
    eta: int = 3
    evaluations: int = 10
    """Jobs (trials) to run in this experiment, promotions included."""
    workers: int = 1
    """Trials running at the same time."""
    cpus_per_trial: float = 1.0
    resources: Any = None
    """Instead of ``cpus_per_trial``: a ``tune.PlacementGroupFactory`` (a trial that starts
    rollout actors gets one bundle per actor, so concurrent trials never oversubscribe)."""
    seed: int = 0
    max_failures: int = 2
    """Retries of a trial whose worker died or raised."""
    early_stopping: bool = True
    """Use ``TrendStopper`` (trials must report ``iteration`` and ``BUDGET_KEY``)."""
    stop_margin: float = 0.5
    record_keys: tuple[str, ...] = ()
    """More result keys (besides ``metric``) for the record of a run stopped before its end."""
    bohb_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    proposal_fraction: float = 0.0
    """bohb: share of new configurations taken from the trainables' proposals
    (``rlsys.tuner.searchers``)."""
    initial_configs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """bohb, random and asha: configurations of the space evaluated first, before any draw
    (e.g. the defaults); see ``rlsys.tuner.searchers``."""
    callbacks: list[Any] = dataclasses.field(default_factory=list)
    """More Tune callbacks (driver side), e.g. to record every trial's learning curve."""
    mutable: tuple[str, ...] = ()
    """pbt: the space's parameters that may change during a trial (learning rates, loss
    weights; never the network's shape). The others are sampled once per member and
    travel with the checkpoint when a member is cloned."""
    perturbation_interval: int | None = None
    """pbt: budget units between perturbations (None: ``min_budget``, else a quarter of
    ``max_budget``); trials checkpoint at this cadence."""
    warm_constants: Callable[[list[dict]], dict[str, Any]] | None = None
    """For ``single``: constants to add when a new session continues earlier evaluations."""
    quiet: bool = False


def _session_seed(spec: ExperimentSpec, session: int) -> int:
    from rlsys.runtime import derive_seeds

    return derive_seeds(spec.seed, session + 1)[session] % 2**31


def _searcher(spec: ExperimentSpec, evaluations: int, session: int) -> HyperbandSearcher:
    # asha samples at the largest budget (the scheduler stops trials early), like random
    budgets = hyperband_budgets(spec.max_budget, spec.eta, spec.min_budget)
    seed = _session_seed(spec, session)
    return HyperbandSearcher(
        spec.space,
        metric=spec.metric,
        mode=spec.mode,
        budgets=budgets,
        max_evaluations=evaluations,
        model="bohb" if spec.search == "bohb" else "random",
        seed=seed,
        eta=spec.eta,
        bohb_kwargs=spec.bohb_kwargs,
        proposal_fraction=spec.proposal_fraction if spec.search == "bohb" else 0.0,
        initial_configs=spec.initial_configs,
    )


def _loss(value: Any, mode: str) -> float | None:
    if value is None:
        return None
    return float(value) if mode == "min" else -float(value)


def grid_points(spec: ExperimentSpec) -> list[tuple[str, dict[str, Any]]]:
    """The grid of ``spec.space`` as named jobs ``grid-<index>`` (at most ``evaluations``)."""
    points = grid(spec.space)[: spec.evaluations]
    return [(f"grid-{i}", point) for i, point in enumerate(points)]


def total_evaluations(spec: ExperimentSpec) -> int:
    """Evaluations the experiment runs in all (a grid may have fewer points)."""
    return len(grid_points(spec)) if spec.search == "grid" else spec.evaluations


def trial_cpus(spec: ExperimentSpec) -> float:
    """CPUs one trial holds (all bundles of its placement group)."""
    if spec.resources is None:
        return spec.cpus_per_trial
    bundles = getattr(spec.resources, "bundles", None) or [spec.resources]
    return float(sum(b.get("CPU", b.get("cpu", 0)) for b in bundles))


def _prepare(spec: ExperimentSpec) -> tuple[Any, str | None]:
    """The trainable with its resources, and a warm-up barrier when trials run in parallel.
    Raises ValueError when one trial needs more CPUs than the cluster has."""
    import ray

    trainable, name = spec.trainable, None
    cpus = ray.cluster_resources().get("CPU", 1.0)
    need = trial_cpus(spec)
    if need > cpus + 1e-9:
        raise ValueError(
            f"one trial needs {need:g} CPUs but the cluster has {cpus:g}: lower the trial's "
            "resources (e.g. train.rollout.num_workers) or join a larger cluster"
        )
    parallel = min(spec.workers, int(cpus // max(need, 1e-9)) or 1)
    if spec.search != "single" and parallel > 1:
        name = f"rlsys-warmup-{uuid.uuid4().hex[:12]}"
        make_barrier(name)
        trainable = with_warm_up(trainable, name, parallel)
    resources = spec.resources if spec.resources is not None else {"cpu": spec.cpus_per_trial}
    return tune.with_resources(trainable, resources), name


def _session_dirs(storage_dir: Path) -> list[Path]:
    dirs = [p for p in storage_dir.glob("session-*") if p.is_dir()]
    return sorted(dirs, key=lambda p: int(p.name.split("-")[1]))


def run_experiment(
    spec: ExperimentSpec, storage_dir: str | Path, resume: bool = False
) -> list[dict[str, Any]]:
    """Run (or resume) ``spec`` under ``storage_dir``; return all evaluation records.

    Needs Ray to be initialised (``rlsys.runtime.init_ray``). Raises ValueError for a bad
    spec and KeyboardInterrupt when the run was interrupted (its state is saved first).
    The records are the journal's, in the order they finished.
    """
    if spec.search not in SEARCHES:
        raise ValueError(f"search must be one of {', '.join(SEARCHES)}, got {spec.search!r}")
    if spec.workers < 1 or spec.evaluations < 1:
        raise ValueError("workers and evaluations must be >= 1")
    if spec.search not in ("single", "grid") and not searched(spec.space):
        raise ValueError(f"{spec.search} needs a search space with at least one free parameter")
    if spec.search == "pbt" and not pbt_mutations(spec):
        raise ValueError(
            "pbt needs a searched parameter that may change during a trial "
            f"(searched: {', '.join(searched(spec.space))}; may change: "
            f"{', '.join(spec.mutable) or 'none'})"
        )
    storage_dir = Path(storage_dir).resolve()
    storage_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(storage_dir / "journal.jsonl")
    trainable, barrier = _prepare(spec)
    try:
        with _tune_environment():
            return _run(spec, storage_dir, journal, trainable, resume)
    finally:
        if barrier is not None:
            drop_barrier(barrier)


# Tune settings read from the environment when an experiment runs. Set for our
# experiments only and put back afterwards: other Tune users in the process keep theirs.
TUNE_ENVIRONMENT = {
    # experiment state every 2 s (Tune's default adapts between 10 s and minutes)
    "TUNE_GLOBAL_CHECKPOINT_S": "2",
    # Tune's own console output: our JournalCallback prints the progress instead
    "RAY_AIR_NEW_OUTPUT": "0",
    # Tune's per-trial JSON/CSV/TensorBoard loggers: the journal already records every
    # result, and they cost the driver ~7 ms per result (a fifth of a 200-evaluation run)
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    # a result without the metric (a trial that ended before its first validation) is
    # skipped by the schedulers instead of failing the whole experiment
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}


@contextlib.contextmanager
def _tune_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in TUNE_ENVIRONMENT}
    for key, value in TUNE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _error_line(trial: Any) -> str:
    """The last line of a failed trial's error (Tune keeps it in error.txt)."""
    text = ""
    path = getattr(trial, "error_file", None)
    try:
        if path and os.path.exists(path):
            text = Path(path).read_text()
    except OSError:
        pass
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "unknown error"


def _run(
    spec: ExperimentSpec, storage_dir: Path, journal: Journal, trainable: Any, resume: bool
) -> list[dict[str, Any]]:

    sessions = _session_dirs(storage_dir)
    if sessions and not resume:
        raise ValueError(f"{storage_dir} already holds an experiment; resume it instead")
    if resume and sessions and not (sessions[-1] / DONE_MARKER).exists():
        # interrupted (Ctrl-C, SIGTERM, SIGKILL): close it; a new session warm-started
        # from the journal continues (never Tuner.restore: see the module docstring)
        last = sessions[-1]
        count = len(journal.evaluations())
        if not spec.quiet:
            print(
                f"{last.name} was interrupted after {count} evaluations; continuing in a "
                "new session",
                flush=True,
            )
        (last / DONE_MARKER).write_text(json.dumps({"abandoned": True, "evaluations": count}))

    done = journal.evaluations()
    if total_evaluations(spec) - len(done) > 0:
        _run_session(spec, trainable, storage_dir, len(_session_dirs(storage_dir)) + 1, done)
    return journal.evaluations()


def perturbation_interval(spec: ExperimentSpec) -> int:
    if spec.perturbation_interval is not None:
        return max(1, spec.perturbation_interval)
    return max(1, spec.min_budget or spec.max_budget // 4)


def pbt_mutations(spec: ExperimentSpec) -> dict[str, Any]:
    """PBT's ``hyperparam_mutations``: choices as value lists (perturbed by moving to a
    neighbour), the rest as Tune domains (perturbed by x0.8 / x1.2, or resampled)."""
    from rlsys.tuner.space import tune_domains

    keys = changing(spec.space, spec.mutable)
    domains = tune_domains({k: spec.space[k] for k in keys})
    return {
        k: list(spec.space[k].values) if spec.space[k].type == "choice" else domains[k]
        for k in keys
    }


def _keep_in_space(space: Space) -> Callable[[dict], dict]:
    """PBT's ``custom_explore_fn``: a perturbed value is clipped to its range and cast."""

    def explore(config: dict) -> dict:
        config.update(clip(space, config))
        return config

    return explore


def _fit(tuner: Any, session_dir: Path, journal: Journal, unfinished: Callable[[], bool]) -> None:
    """``tuner.fit()``; SIGTERM acts like Ctrl-C (Tune saves its state and returns)."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    try:
        results = tuner.fit()
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
    open_trials = len(results) - results.num_terminated - results.num_errors
    if open_trials > 0 or unfinished():
        count = len(journal.evaluations())
        (session_dir / INTERRUPTED_MARKER).write_text(json.dumps({"evaluations": count}))
        raise KeyboardInterrupt(f"interrupted after {count} evaluations")
    (session_dir / DONE_MARKER).write_text(json.dumps({"finished_at": time.time()}))


def _run_session(
    spec: ExperimentSpec, trainable: Any, storage_dir: Path, session: int, done: list[dict]
) -> None:
    remaining = total_evaluations(spec) - len(done)
    constants = dict(spec.constants)
    callbacks: list[Callback] = list(spec.callbacks)
    search_alg = None
    searcher = None
    scheduler = None
    if spec.search == "single":
        num_samples = 1
        constants["max_evaluations"] = remaining
        if done and spec.warm_constants is not None:
            constants.update(spec.warm_constants(done))
    elif spec.search == "grid":
        finished = {r.get("job") for r in done}
        points = [(n, c) for n, c in grid_points(spec) if n not in finished]
        searcher = GridSearcher(points, spec.max_budget, spec.metric, spec.mode)
        search_alg, num_samples, remaining = searcher, len(points), len(points)
    elif spec.search == "pbt":
        import random

        from ray.tune.schedulers import PopulationBasedTraining
        from ray.tune.search import BasicVariantGenerator

        from rlsys.tuner.space import tune_domains

        # Tune refuses PBT with a Searcher: the initial population comes from Tune's own
        # generator, seeded; PBT draws its perturbations from Python's ``random``
        seed = _session_seed(spec, session)
        random.seed(seed)
        interval = perturbation_interval(spec)
        constants.update(tune_domains(spec.space))
        constants.update({BUDGET_KEY: spec.max_budget, CHECKPOINT_EVERY_KEY: interval})
        search_alg = BasicVariantGenerator(random_state=seed)
        num_samples = remaining
        scheduler = PopulationBasedTraining(
            time_attr="iteration",
            metric=spec.metric,
            mode=spec.mode,
            perturbation_interval=interval,
            hyperparam_mutations=pbt_mutations(spec),
            custom_explore_fn=_keep_in_space(spec.space),
            quantile_fraction=0.25,
            resample_probability=0.25,
        )
    else:
        searcher = _searcher(spec, remaining, session)
        if done:
            searcher.warm_start(
                [
                    {
                        "config": r["config"],
                        "budget": r["budget"],
                        # the searcher minimises: a "max" metric's loss is its negative
                        "loss": _loss(r.get(spec.metric), spec.mode),
                        "proposal": r.get("proposal"),
                    }
                    for r in done
                    if r.get("config")
                ]
            )
        search_alg = searcher
        num_samples = remaining
        callbacks.append(CheckpointTracker(searcher))
    if spec.search == "asha":
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(
            time_attr="iteration",
            metric=spec.metric,
            mode=spec.mode,
            max_t=spec.max_budget,
            grace_period=hyperband_budgets(spec.max_budget, spec.eta, spec.min_budget)[0],
            reduction_factor=spec.eta,
        )
    stopper = None
    if spec.early_stopping and spec.search in ("bohb", "random"):
        stopper = TrendStopper(spec.metric, spec.mode, margin=spec.stop_margin)
        for r in done:
            if r.get(spec.metric) is not None and not r.get("stopped_early"):
                stopper.observe_final(r["budget"], r[spec.metric])
    journal = Journal(storage_dir / "journal.jsonl")
    callbacks.append(
        JournalCallback(
            str(journal.path),
            spec.metric,
            spec.mode,
            session,
            list(spec.space),
            record_keys=spec.record_keys,
            total=total_evaluations(spec),
            quiet=spec.quiet,
        )
    )
    name = f"session-{session}"
    if not spec.quiet:
        print(f"{name}: {remaining} evaluation(s), {spec.workers} worker(s)", flush=True)
    tuner = tune.Tuner(
        trainable,
        param_space=constants,
        tune_config=tune.TuneConfig(
            search_alg=search_alg,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=spec.workers,
            reuse_actors=True,
            # each job is its own trial: the name must not depend on the config values
            trial_dirname_creator=_trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(storage_dir),
            stop=stopper,
            callbacks=callbacks,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
            # PBT clones from checkpoints of other trials: keep a few more of them
            checkpoint_config=tune.CheckpointConfig(num_to_keep=4 if spec.search == "pbt" else 2),
            verbose=0,
        ),
    )

    def unfinished() -> bool:
        return searcher is not None and searcher.n_suggested < searcher.max_evaluations

    _fit(tuner, storage_dir / name, journal, unfinished)


def _trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"
