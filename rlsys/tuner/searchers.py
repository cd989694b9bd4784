"""BOHB (and random search) as a Ray Tune ``Searcher``, built from hpbandster's own parts.

Each Tune trial is one hpbandster *job*: one configuration at one budget. The searcher
drives hpbandster's ``SuccessiveHalving`` iterations (the Hyperband brackets of BOHB,
scheduled exactly as ``hpbandster.optimizers.BOHB.get_next_iteration`` does) and asks
hpbandster's BOHB config generator (the kernel-density model) for new configurations;
results go back through ``new_result``. A configuration promoted to a larger budget
gets the checkpoint of its run at the smaller budget (``PARENT_KEY``), so the trainable
continues that run instead of starting over.

Why not Ray's ``TuneBOHB`` + ``HyperBandForBOHB``: tried first (see the calibration
section of README.md). It ran, but after ``Tuner.restore`` it failed with
``KeyError`` in ``TuneBOHB.to_wrapper`` (a restored trial unknown to the searcher), the
scheduler's bracket state is not part of the experiment checkpoint (restored trials
land in new brackets), ``TuneBOHB`` drops hpbandster's ``model_based_pick`` flag and
passes no budget to the model, and paused trials are a known source of stuck runs.
Here no trial is ever paused (every job runs to its budget and ends), so a plain FIFO
scheduler suffices, and the whole search state (brackets, model, random state) is plain
data that Tune saves as JSON with each experiment checkpoint (``get_state``; no pickle).

The trainable contract (shared by every workload that wants multi-fidelity):
``config[BUDGET_KEY]`` is the budget to reach (for example simulation iterations);
``config[PARENT_KEY]`` is None or the path of a checkpoint to continue from;
``config[JOB_KEY]`` names the job. See ``rlsys.tuner.trainable`` for helpers.

Proposals (``proposal_fraction`` > 0): a trainable may report, with its last result,
``PROPOSAL_KEY``: a configuration of the same space that it expects to be better (the
calibration's fixed-point step from the shares it simulated). Then that share of the new
configurations of each bracket is, instead of a KDE (or random) draw, the unused proposal
of the best job so far at the largest budget that has one; successive halving and the
KDE model treat it like any other configuration. A local improvement step, so the search
closes in on an optimum that a density model alone cannot pin down in many dimensions.
Until some job has reached the full budget, every new configuration takes an unused
proposal when there is one (the first full-budget jobs then continue from refined points
instead of coin flips between a refinement and a random draw); from then on the share
applies.

Initial configurations (``initial_configs``): configurations of the space that the search
evaluates first, in order, before any draw or proposal (SMAC's initial design: the
defaults a user already has). They enter the first brackets like any other
configuration; a new session that continues earlier results (``warm_start``) skips them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import warnings
from collections.abc import Iterator
from typing import Any

import ConfigSpace as CS
import numpy as np
from ray.tune.search import Searcher

from rlsys.tuner.keys import (  # noqa: F401  (re-exported: the contract's keys)
    BUDGET_KEY,
    JOB_KEY,
    PARENT_BUDGET_KEY,
    PARENT_KEY,
    PICK_KEY,
    PRIVATE_KEYS,
    PROPOSAL_KEY,
    PROPOSAL_PICK_KEY,
)
from rlsys.tuner.space import Space, cast, clip, config_space, to_configspace_values

_log = logging.getLogger(__name__)


def hyperband_budgets(max_budget: int, eta: int = 3, min_budget: int | None = None) -> list[int]:
    """Integer budgets ``max/eta^k`` from the smallest (>= ``min_budget``) to ``max_budget``.

    ``max_budget=18, eta=3`` gives [2, 6, 18]. Without ``min_budget`` the smallest budget
    is the last one that is still >= 1. Raises ValueError for impossible settings.
    """
    if max_budget < 1:
        raise ValueError(f"max budget must be >= 1, got {max_budget}")
    if eta < 2:
        raise ValueError(f"eta must be >= 2, got {eta}")
    floor = 1 if min_budget is None else min_budget
    if not 1 <= floor <= max_budget:
        raise ValueError(f"min budget must be in [1, {max_budget}], got {min_budget}")
    budgets = []
    k = 0
    while True:
        b = max_budget / eta**k
        if b < floor - 1e-9:
            break
        budgets.append(max(1, round(b)))
        k += 1
    return sorted(set(budgets))


def vectorized_bohb(space: CS.ConfigurationSpace, **kwargs: Any) -> Any:
    """hpbandster's BOHB config generator with its proposal step vectorised.

    hpbandster draws each of the ``num_samples`` candidates one coordinate at a time
    (``scipy.stats.truncnorm.rvs`` per value, ~0.15 ms each) and scores them one by one
    with the two KDEs: 48 ms per configuration in 7 dimensions, measured as 45 % of the
    driver's time in a 200-evaluation calibration, where it serialised the workers. This
    subclass runs the same algorithm in array operations and returns the *same*
    configurations for the same numpy random state (tested against hpbandster's loop):

    - it draws the same random numbers in the same order: per candidate the index of a
      good point, then one uniform per coordinate (``truncnorm.rvs`` is the inverse CDF of
      one uniform), so only these cheap draws stay in a loop;
    - the same candidates: the good point plus truncated-normal noise of
      ``bandwidth_factor * max(bw, min_bandwidth)``, truncated to [0, 1], as
      ``truncnorm.ppf`` of those uniforms in one call;
    - the same acquisition ``max(bad, 1e-32) / max(good, 1e-32)`` (first minimum wins),
      the same KDE models (fitted by hpbandster's ``new_result``) and random fraction.

    Spaces with categorical parameters use hpbandster's own loop.
    """
    import scipy.stats as sps
    from hpbandster.optimizers.config_generators.bohb import BOHB

    class VectorizedBOHB(BOHB):
        def get_config(self, budget: float) -> tuple[dict, dict]:
            if np.any(self.vartypes != 0) or not self.kde_models:
                return super().get_config(budget)
            if np.random.rand() < self.random_fraction:
                return dict(self.configspace.sample_configuration()), {"model_based_pick": False}
            model = self.kde_models[max(self.kde_models)]
            good, bad = model["good"], model["bad"]
            n, d = self.num_samples, good.data.shape[1]
            idx = np.empty(n, dtype=np.int64)
            u = np.empty((n, d))
            for i in range(n):  # hpbandster's draw order: a good point, then its coordinates
                idx[i] = np.random.randint(0, len(good.data))
                u[i] = np.random.uniform(size=d)
            centres = good.data[idx]
            bw = self.bw_factor * np.maximum(good.bw, self.min_bandwidth)
            lo, hi = -centres / bw, (1 - centres) / bw
            cand = sps.truncnorm.ppf(u, lo, hi, loc=centres, scale=bw)
            p_good = good.pdf(cand)
            score = np.maximum(bad.pdf(cand), 1e-32) / np.maximum(p_good, 1e-32)
            ok = np.isfinite(score)
            # hpbandster takes the first candidate with a non-finite score but a finite
            # good density at once, else the (first) lowest finite score
            take = np.flatnonzero(~ok & np.isfinite(p_good))
            if take.size:
                best = cand[take[0]]
            elif ok.any():
                best = cand[np.flatnonzero(ok)[np.argmin(score[ok])]]
            else:
                self.logger.warning("no finite acquisition value: using a random configuration")
                return dict(self.configspace.sample_configuration()), {"model_based_pick": False}
            config = CS.Configuration(self.configspace, vector=np.clip(best, 0.0, 1.0))
            return dict(config), {"model_based_pick": True}

    return VectorizedBOHB(space, **kwargs)


class HyperbandSearcher(Searcher):
    """hpbandster's BOHB (``model="bohb"``) or random search (``model="random"``) for Tune.

    space: the typed search space (``rlsys.tuner.space``); suggestions carry its values in
        their config types (ints, choice values), the model works on its ConfigSpace.
    budgets: increasing budgets of the Hyperband brackets (``hyperband_budgets``); random
        search uses only the largest one.
    max_evaluations: how many jobs (trials) to suggest in total, promotions included.
    seed: seeds the configuration space and hpbandster's numpy draws (kept in a private
        random state, so other numpy users in the driver are not disturbed).
    bohb_kwargs: passed to ``hpbandster.optimizers.config_generators.bohb.BOHB``
        (top_n_percent, num_samples, random_fraction, bandwidth_factor, min_bandwidth).
    proposal_fraction: share of new configurations taken from the trainables' proposals
        (see the module docstring; 0: none).
    initial_configs: configurations evaluated first (see the module docstring); each must
        give every ranged parameter a value inside its range (ValueError otherwise).

    ``records`` holds one entry per finished job (config, budget, loss, pick) in the order
    results arrived; ``warm_start(records)`` feeds earlier results into the model, like
    hpbandster's ``previous_result``.
    """

    def __init__(
        self,
        space: Space,
        metric: str,
        mode: str,
        budgets: list[int],
        max_evaluations: int,
        model: str = "bohb",
        seed: int = 0,
        eta: int = 3,
        bohb_kwargs: dict[str, Any] | None = None,
        proposal_fraction: float = 0.0,
        initial_configs: list[dict[str, Any]] | None = None,
    ):
        super().__init__(metric=metric, mode=mode)
        if not 0.0 <= proposal_fraction <= 1.0:
            raise ValueError(f"proposal_fraction must be in [0, 1], got {proposal_fraction}")
        if model not in ("bohb", "random"):
            raise ValueError(f"model must be 'bohb' or 'random', got {model!r}")
        if not budgets or sorted(budgets) != list(budgets):
            raise ValueError(f"budgets must be increasing, got {budgets}")
        self.model = model
        self.params = space
        self.space = config_space(space, seed)
        self.eta = eta
        self.budgets = list(budgets) if model == "bohb" else [budgets[-1]]
        self.max_evaluations = int(max_evaluations)
        self._rng_state = np.random.RandomState(seed).get_state()
        if model == "bohb":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # ConfigSpace 1.x API
                self.generator = vectorized_bohb(self.space, **(bohb_kwargs or {}))
        else:
            from hpbandster.optimizers.config_generators.random_sampling import RandomSampling

            self.generator = RandomSampling(self.space)
        self.iterations: list[Any] = []  # hpbandster SuccessiveHalving objects
        self.n_suggested = 0
        self.trial_job: dict[str, tuple[tuple, int]] = {}  # trial_id -> (config_id, budget)
        self.job_trial: dict[tuple[tuple, int], str] = {}  # (config_id, budget) -> trial_id
        self.checkpoints: dict[str, str] = {}  # trial_id -> latest checkpoint path
        self.records: list[dict[str, Any]] = []
        self._warm_offset = 0
        self.proposal_fraction = float(proposal_fraction)
        # the trainables' proposals: {"config", "budget", "loss", "used"}
        self.proposals: list[dict[str, Any]] = []
        self.initial = [self._check_initial(c) for c in initial_configs or []]

    # --- Tune's Searcher interface ---------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec):
        return True  # metric and mode are fixed at construction

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.n_suggested >= self.max_evaluations:
            return Searcher.FINISHED
        job = self._next_job()
        if job is None:
            return None  # every open bracket waits for results; ask again later
        config_id, config, budget = job
        datum = self._datum(config_id)
        parent_budget = max((b for b in datum.results if b < budget), default=0)
        parent_trial = self.job_trial.get((config_id, parent_budget))
        parent_ckpt = self.checkpoints.get(parent_trial) if parent_trial else None
        self.n_suggested += 1
        self.trial_job[trial_id] = (config_id, budget)
        self.job_trial[(config_id, budget)] = trial_id
        suggestion = cast(self.params, _plain(dict(config)))
        suggestion.update(
            {
                BUDGET_KEY: int(budget),
                PARENT_KEY: parent_ckpt,
                PARENT_BUDGET_KEY: int(parent_budget) if parent_ckpt else 0,
                JOB_KEY: "{}.{}.{}@{}".format(*config_id, int(budget)),
                PICK_KEY: bool(datum.config_info.get("model_based_pick", False)),
                PROPOSAL_PICK_KEY: bool(datum.config_info.get("proposal", False)),
            }
        )
        return suggestion

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        job = self.trial_job.pop(trial_id, None)
        if job is None:
            _log.warning("result for unknown trial %s ignored", trial_id)
            return
        config_id, budget = job
        loss = None
        if not error and result is not None and self.metric in result:
            value = float(result[self.metric])
            loss = value if self.mode == "min" else -value
            if not math.isfinite(loss):
                loss = None
        self._register(config_id, budget, loss)
        proposal = _proposal(result or {})
        if loss is not None and proposal:
            self._note_proposal(proposal, budget, loss)

    def note_checkpoint(self, trial_id: str, path: str) -> None:
        """Remember a trial's latest checkpoint (called by ``CheckpointTracker``)."""
        self.checkpoints[trial_id] = path

    # --- warm start ---------------------------------------------------------------------------

    def warm_start(self, records: list[dict[str, Any]]) -> None:
        """Feed finished jobs of an earlier session into the model (not into brackets)."""
        from hpbandster.core.dispatcher import Job

        with self._numpy_rng():
            for i, rec in enumerate(records):
                loss = rec.get("loss")
                config = to_configspace_values(self.params, rec["config"])
                job = Job((-1, 0, i), config=config, budget=rec["budget"])
                job.result = None if loss is None else {"loss": float(loss), "info": {}}
                self.generator.new_result(job, update_model=i == len(records) - 1)
                if loss is not None and isinstance(rec.get("proposal"), dict):
                    self._note_proposal(rec["proposal"], rec["budget"], float(loss))
        self.records.extend(records)
        self._warm_offset = len(records)
        if records:
            self.initial = []  # the earlier session evaluated them

    # --- internals -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _numpy_rng(self) -> Iterator[None]:
        """hpbandster draws from numpy's global generator: give it ours, then put it back."""
        outer = np.random.get_state()
        np.random.set_state(self._rng_state)
        try:
            with warnings.catch_warnings():
                # statsmodels (KDE) and ConfigSpace 1.x warn about the old API hpbandster uses
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)  # ConfigSpace 1.x API
                yield
        finally:
            self._rng_state = np.random.get_state()
            np.random.set_state(outer)

    def _check_initial(self, config: dict[str, Any]) -> dict[str, Any]:
        """An initial configuration as the space's values; ValueError if it misses a
        parameter or a value lies outside its range (or is not one of its choices)."""
        missing = [n for n, p in self.params.items() if p.type != "fixed" and n not in config]
        if missing:
            raise ValueError(f"initial configuration {config} has no value for {missing}")
        values = cast(self.params, config)
        for name, value in clip(self.params, config).items():
            if value != values[name]:
                p = self.params[name]
                raise ValueError(
                    f"initial configuration: {name} = {config[name]} is outside [{p.low}, {p.high}]"
                )
        return _plain(values)

    def _note_proposal(self, config: dict, budget: float, loss: float) -> None:
        clipped = clip(self.params, config)
        if len(clipped) == len(self.params):  # only all-numeric spaces take proposals
            self.proposals.append({"config": clipped, "budget": budget, "loss": loss})

    def _sample(self, budget: float) -> tuple[dict, dict]:
        """A new configuration: a proposal (``proposal_fraction`` of the time, while there
        is an unused one) or the model's (random search: a uniform) draw; the initial
        configurations come before all of these."""
        if self.initial:
            values = to_configspace_values(self.params, self.initial.pop(0))
            return values, {"model_based_pick": False, "initial": True}
        unused = [p for p in self.proposals if not p.get("used")]
        warm_up = not any(p["budget"] >= self.budgets[-1] for p in self.proposals)
        # no draw without proposals in play: plain BOHB keeps hpbandster's random stream
        if (
            unused
            and self.proposal_fraction > 0
            and (warm_up or np.random.rand() < self.proposal_fraction)
        ):
            top = max(p["budget"] for p in unused)
            pick = min((p for p in unused if p["budget"] == top), key=lambda p: p["loss"])
            pick["used"] = True
            values = to_configspace_values(self.params, pick["config"])
            return values, {"model_based_pick": False, "proposal": True}
        return self.generator.get_config(budget)

    def _new_iteration(self) -> Any:
        """The next bracket, exactly as hpbandster's BOHB master schedules them."""
        from hpbandster.optimizers.iterations import SuccessiveHalving

        index = len(self.iterations)
        n_stages = len(self.budgets)
        s = n_stages - 1 - (index % n_stages)
        n0 = int(math.floor(n_stages / (s + 1)) * self.eta**s)
        ns = [max(int(n0 * self.eta ** (-i)), 1) for i in range(s + 1)]
        return SuccessiveHalving(
            HPB_iter=index,
            num_configs=ns,
            budgets=self.budgets[-s - 1 :],
            config_sampler=self._sample,
        )

    def _next_job(self) -> tuple[tuple, dict, float] | None:
        with self._numpy_rng():
            for it in self.iterations:
                if not it.is_finished:
                    job = it.get_next_run()
                    if job is not None:
                        return job
            # every open bracket is blocked: open a new one (hpbandster's master does the same)
            it = self._new_iteration()
            self.iterations.append(it)
            return it.get_next_run()

    def _datum(self, config_id: tuple) -> Any:
        return self.iterations[config_id[0]].data[config_id]

    def _register(self, config_id: tuple, budget: float, loss: float | None) -> None:
        from hpbandster.core.dispatcher import Job

        datum = self._datum(config_id)
        job = Job(config_id, config=datum.config, budget=budget)
        job.result = None if loss is None else {"loss": loss, "info": {}}
        with self._numpy_rng():
            self.iterations[config_id[0]].register_result(job)
            self.generator.new_result(job)
        self.records.append(
            {
                "config": dict(datum.config),
                "budget": budget,
                "loss": loss,
                "model_based_pick": bool(datum.config_info.get("model_based_pick", False)),
            }
        )

    @property
    def model_based_picks(self) -> int:
        """How many configurations so far came from the KDE model (not random sampling)."""
        return sum(
            bool(d.config_info.get("model_based_pick", False))
            for it in self.iterations
            for d in it.data.values()
        )

    # --- Tune's experiment checkpoints -------------------------------------------------------

    # Tune names the file after this template (``Searcher.save_to_dir``): JSON, not pickle
    CKPT_FILE_TMPL = "searcher-state-{}.json"

    def save(self, checkpoint_path: str) -> None:
        """The whole search state as JSON (brackets, model data, random states): no pickle,
        so a state file from disk can never run code."""
        tmp = f"{checkpoint_path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.get_state(), f)
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path) as f:
            self.set_state(json.load(f))

    def get_state(self) -> dict[str, Any]:
        """Plain data (JSON): everything ``suggest`` and ``on_trial_complete`` depend on."""
        return {
            "format": STATE_FORMAT,
            "model": self.model,
            "metric": self.metric,
            "mode": self.mode,
            "eta": self.eta,
            "budgets": list(self.budgets),
            "max_evaluations": self.max_evaluations,
            "n_suggested": self.n_suggested,
            "warm_offset": self._warm_offset,
            "rng": _rng_to_json(self._rng_state),
            "space_rng": _rng_to_json(self.space.random.get_state()),
            "generator": _generator_state(self.generator),
            "iterations": [_iteration_state(it) for it in self.iterations],
            "trial_job": [[t, list(cid), b] for t, (cid, b) in self.trial_job.items()],
            "job_trial": [[list(cid), b, t] for (cid, b), t in self.job_trial.items()],
            "checkpoints": dict(self.checkpoints),
            "records": self.records,
            "proposals": self.proposals,
            "initial": self.initial,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace this searcher's state with ``get_state``'s (in place: the
        ``CheckpointTracker`` callback holds a reference to this object). Raises ValueError
        for a state of another format or searcher."""
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a HyperbandSearcher state (unknown format)")
        if state["model"] != self.model or state["budgets"] != list(self.budgets):
            raise ValueError(
                f"searcher state is for {state['model']} with budgets {state['budgets']}, "
                f"this searcher is {self.model} with {self.budgets}"
            )
        self._metric, self._mode, self.eta = state["metric"], state["mode"], int(state["eta"])
        self.max_evaluations = int(state["max_evaluations"])
        self.n_suggested = int(state["n_suggested"])
        self._warm_offset = int(state["warm_offset"])
        self._rng_state = _rng_from_json(state["rng"])
        self.space.random.set_state(_rng_from_json(state["space_rng"]))
        _set_generator_state(self.generator, state["generator"])
        self.iterations = [self._iteration_from(s) for s in state["iterations"]]
        self.trial_job = {t: (tuple(cid), b) for t, cid, b in state["trial_job"]}
        self.job_trial = {(tuple(cid), b): t for cid, b, t in state["job_trial"]}
        self.checkpoints = dict(state["checkpoints"])
        self.records = list(state["records"])
        self.proposals = [dict(p) for p in state.get("proposals", [])]
        self.initial = [dict(c) for c in state.get("initial", [])]

    def _iteration_from(self, state: dict[str, Any]) -> Any:
        from hpbandster.core.base_iteration import Datum
        from hpbandster.optimizers.iterations import SuccessiveHalving

        it = SuccessiveHalving(
            HPB_iter=int(state["HPB_iter"]),
            num_configs=list(state["num_configs"]),
            budgets=list(state["budgets"]),
            config_sampler=self._sample,
        )
        it.stage = int(state["stage"])
        it.actual_num_configs = list(state["actual_num_configs"])
        it.is_finished = bool(state["is_finished"])
        it.num_running = int(state["num_running"])
        for d in state["data"]:
            it.data[tuple(d["id"])] = Datum(
                config=dict(d["config"]),
                config_info=dict(d["config_info"]),
                results={b: r for b, r in d["results"]},
                time_stamps={b: t for b, t in d["time_stamps"]},
                exceptions={b: e for b, e in d["exceptions"]},
                status=d["status"],
                budget=d["budget"],
            )
        return it


STATE_FORMAT = "rlsys.HyperbandSearcher/1"


def _proposal(result: dict) -> dict:
    """The ``PROPOSAL_KEY`` dict of a result (Tune flattens results: ``proposal/<name>``)."""
    if isinstance(result.get(PROPOSAL_KEY), dict):
        return dict(result[PROPOSAL_KEY])
    prefix = PROPOSAL_KEY + "/"
    return {k[len(prefix) :]: v for k, v in result.items() if k.startswith(prefix)}


def _rng_to_json(state: tuple) -> list:
    kind, keys, pos, has_gauss, cached = state
    return [str(kind), np.asarray(keys).tolist(), int(pos), int(has_gauss), float(cached)]


def _rng_from_json(state: list) -> tuple:
    kind, keys, pos, has_gauss, cached = state
    return (kind, np.array(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays inside hpbandster's records -> JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _iteration_state(it: Any) -> dict[str, Any]:
    return {
        "HPB_iter": int(it.HPB_iter),
        "num_configs": [int(n) for n in it.num_configs],
        "budgets": list(it.budgets),
        "stage": int(it.stage),
        "actual_num_configs": [int(n) for n in it.actual_num_configs],
        "is_finished": bool(it.is_finished),
        "num_running": int(it.num_running),
        "data": [
            {
                "id": list(cid),
                "config": _plain(d.config),
                "config_info": _plain(d.config_info),
                "results": [[b, _plain(r)] for b, r in d.results.items()],
                "time_stamps": [[b, _plain(t)] for b, t in d.time_stamps.items()],
                "exceptions": [[b, None if e is None else str(e)] for b, e in d.exceptions.items()],
                "status": d.status,
                "budget": d.budget,
            }
            for cid, d in it.data.items()
        ],
    }


def _generator_state(gen: Any) -> dict[str, Any]:
    """BOHB: its per-budget training data and the fitted KDEs (data and bandwidths, which
    is all ``KDEMultivariate.pdf`` reads); random sampling has none."""
    if not hasattr(gen, "kde_models"):
        return {}
    return {
        "configs": [[b, np.asarray(v).tolist()] for b, v in gen.configs.items()],
        "losses": [[b, [float(x) for x in v]] for b, v in gen.losses.items()],
        "kde_models": [
            [b, {k: {"data": m[k].data.tolist(), "bw": m[k].bw.tolist()} for k in ("good", "bad")}]
            for b, m in gen.kde_models.items()
        ],
    }


def _set_generator_state(gen: Any, state: dict[str, Any]) -> None:
    if not hasattr(gen, "kde_models"):
        return
    import statsmodels.api as sm

    def kde(m: dict) -> Any:
        data, bw = np.array(m["data"], dtype=np.float64), np.array(m["bw"], dtype=np.float64)
        model = sm.nonparametric.KDEMultivariate(data=data, var_type=gen.kde_vartypes, bw=bw)
        model.bw = bw
        return model

    gen.configs = {b: [np.array(x, dtype=np.float64) for x in v] for b, v in state["configs"]}
    gen.losses = {b: list(v) for b, v in state["losses"]}
    gen.kde_models = {b: {k: kde(m[k]) for k in ("good", "bad")} for b, m in state["kde_models"]}


class GridSearcher(Searcher):
    """A fixed list of configurations (grid search), each one job at one budget, in order.

    ``points``: ``(job name, config)`` pairs; a resumed session passes only the points not
    yet finished, so an interrupted grid ends with exactly the results of an uninterrupted
    one. The state (how many were handed out) is JSON, like ``HyperbandSearcher``'s.
    """

    CKPT_FILE_TMPL = "searcher-state-{}.json"

    def __init__(
        self, points: list[tuple[str, dict[str, Any]]], budget: int, metric: str, mode: str
    ):
        super().__init__(metric=metric, mode=mode)
        self.points = list(points)
        self.budget = int(budget)
        self.n_suggested = 0
        self.max_evaluations = len(self.points)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec):
        return True

    def suggest(self, trial_id: str) -> dict | str | None:
        if self.n_suggested >= len(self.points):
            return Searcher.FINISHED
        name, config = self.points[self.n_suggested]
        self.n_suggested += 1
        return {
            **config,
            BUDGET_KEY: self.budget,
            PARENT_KEY: None,
            PARENT_BUDGET_KEY: 0,
            JOB_KEY: name,
            PICK_KEY: False,
        }

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False):
        pass

    def note_checkpoint(self, trial_id: str, path: str) -> None:
        pass  # every job starts fresh: no promotions

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "w") as f:
            json.dump({"format": "rlsys.GridSearcher/1", "n_suggested": self.n_suggested}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path) as f:
            self.n_suggested = int(json.load(f)["n_suggested"])
