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
scheduler suffices, and the whole search state (brackets, model, random state) is one
object that Tune saves with each experiment checkpoint.

The trainable contract (shared by every workload that wants multi-fidelity):
``config[BUDGET_KEY]`` is the budget to reach (for example simulation iterations);
``config[PARENT_KEY]`` is None or the path of a checkpoint to continue from;
``config[JOB_KEY]`` names the job. See ``rlsys.tuner.trainable`` for helpers.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from typing import Any

import cloudpickle
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
)

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


def config_space(bounds: dict[str, tuple[float, float]], seed: int) -> CS.ConfigurationSpace:
    """A ConfigSpace of independent uniform floats, one per name, seeded."""
    cs = CS.ConfigurationSpace(seed=seed)
    for name, (lo, hi) in bounds.items():
        cs.add(CS.UniformFloatHyperparameter(name, lower=float(lo), upper=float(hi)))
    return cs


def vectorized_bohb(space: CS.ConfigurationSpace, **kwargs: Any) -> Any:
    """hpbandster's BOHB config generator with its proposal step vectorised.

    hpbandster draws each of the ``num_samples`` candidates one coordinate at a time
    (``scipy.stats.truncnorm.rvs`` per value, ~0.15 ms each) and scores them one by one
    with the two KDEs: 48 ms per configuration in 7 dimensions, measured as 45 % of the
    driver's time in a 200-evaluation calibration, where it serialised the workers. This
    subclass runs the same algorithm in array operations: the same KDE models (fitted by
    hpbandster's ``new_result``), the same random fraction, the same candidates (a good
    point plus truncated-normal noise of ``bandwidth_factor * max(bw, min_bandwidth)``),
    the same acquisition ``max(g, 1e-32) / max(l, 1e-32)``. Spaces with categorical
    parameters use hpbandster's own loop.
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
            centres = good.data[np.random.randint(0, len(good.data), size=self.num_samples)]
            bw = self.bw_factor * np.maximum(good.bw, self.min_bandwidth)
            lo, hi = (0.0 - centres) / bw, (1.0 - centres) / bw
            cand = sps.truncnorm.rvs(lo, hi, loc=centres, scale=bw, size=centres.shape)
            score = np.maximum(bad.pdf(cand), 1e-32) / np.maximum(good.pdf(cand), 1e-32)
            ok = np.isfinite(score)
            if not ok.any():
                self.logger.warning("no finite acquisition value: using a random configuration")
                return dict(self.configspace.sample_configuration()), {"model_based_pick": False}
            best = cand[np.flatnonzero(ok)[np.argmin(score[ok])]]
            config = CS.Configuration(self.configspace, vector=np.clip(best, 0.0, 1.0))
            return dict(config), {"model_based_pick": True}

    return VectorizedBOHB(space, **kwargs)


class HyperbandSearcher(Searcher):
    """hpbandster's BOHB (``model="bohb"``) or random search (``model="random"``) for Tune.

    budgets: increasing budgets of the Hyperband brackets (``hyperband_budgets``); random
        search uses only the largest one.
    max_evaluations: how many jobs (trials) to suggest in total, promotions included.
    seed: seeds the configuration space and hpbandster's numpy draws (kept in a private
        random state, so other numpy users in the driver are not disturbed).
    bohb_kwargs: passed to ``hpbandster.optimizers.config_generators.bohb.BOHB``
        (top_n_percent, num_samples, random_fraction, bandwidth_factor, min_bandwidth).

    ``records`` holds one entry per finished job (config, budget, loss, pick) in the order
    results arrived; ``warm_start(records)`` feeds earlier results into the model, like
    hpbandster's ``previous_result``.
    """

    def __init__(
        self,
        space: CS.ConfigurationSpace,
        metric: str,
        mode: str,
        budgets: list[int],
        max_evaluations: int,
        model: str = "bohb",
        seed: int = 0,
        eta: int = 3,
        bohb_kwargs: dict[str, Any] | None = None,
    ):
        super().__init__(metric=metric, mode=mode)
        if model not in ("bohb", "random"):
            raise ValueError(f"model must be 'bohb' or 'random', got {model!r}")
        if not budgets or sorted(budgets) != list(budgets):
            raise ValueError(f"budgets must be increasing, got {budgets}")
        self.model = model
        self.space = space
        self.eta = eta
        self.budgets = list(budgets) if model == "bohb" else [budgets[-1]]
        self.max_evaluations = int(max_evaluations)
        self._rng_state = np.random.RandomState(seed).get_state()
        if model == "bohb":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # ConfigSpace 1.x API
                self.generator = vectorized_bohb(space, **(bohb_kwargs or {}))
        else:
            from hpbandster.optimizers.config_generators.random_sampling import RandomSampling

            self.generator = RandomSampling(space)
        self.iterations: list[Any] = []  # hpbandster SuccessiveHalving objects
        self.n_suggested = 0
        self.trial_job: dict[str, tuple[tuple, int]] = {}  # trial_id -> (config_id, budget)
        self.job_trial: dict[tuple[tuple, int], str] = {}  # (config_id, budget) -> trial_id
        self.checkpoints: dict[str, str] = {}  # trial_id -> latest checkpoint path
        self.records: list[dict[str, Any]] = []
        self._warm_offset = 0

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
        suggestion = {k: float(v) for k, v in config.items()}
        suggestion.update(
            {
                BUDGET_KEY: int(budget),
                PARENT_KEY: parent_ckpt,
                PARENT_BUDGET_KEY: int(parent_budget) if parent_ckpt else 0,
                JOB_KEY: "{}.{}.{}@{}".format(*config_id, int(budget)),
                PICK_KEY: bool(datum.config_info.get("model_based_pick", False)),
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
                job = Job((-1, 0, i), config=dict(rec["config"]), budget=rec["budget"])
                job.result = None if loss is None else {"loss": float(loss), "info": {}}
                self.generator.new_result(job, update_model=i == len(records) - 1)
        self.records.extend(records)
        self._warm_offset = len(records)

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
            config_sampler=self.generator.get_config,
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

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            cloudpickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        # update in place: the CheckpointTracker callback holds a reference to this object
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(cloudpickle.load(f))
