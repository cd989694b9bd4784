"""The two Ray Tune trainables of the calibration; each runs on one CPU of a Ray worker.

Both score an evaluation with ``Scorer``: the L1 of the mean shares of the last k
iterations, plus the weighted travel-time error when there are time targets, averaged
over ``replications`` simulations with the seeds of ``replication_seeds``.

``evaluate`` (bohb, random): one job = the ASCs of the trial's config simulated up to
``config[BUDGET_KEY]`` iterations with the calibration seed. Its last result carries the
fixed-point step from its shares as a proposal (BOHB evaluates the best job's proposal
for ``refine_fraction`` of its new configurations, ``rlsys.tuner.searchers``). It
reports the objective every ``report_every`` iterations, with the value after each
iteration (the trend stopper fits them; a report costs a few ms of the driver), and
checkpoints the simulation state and the per-iteration shares at its end, so a promoted
job continues from there:
a job at 6 iterations whose parent ran 2 simulates only iterations 3-6, and the result
is bit-identical to a fresh 6-iteration run (the simulation's state includes its RNG).

``chain`` (fixed-point, hybrid): a sequential loop in one trial. Each step is a fresh
simulation with the current ASCs (``max_iterations`` iterations, or the hybrid's
shorter coarse budget), then an ASC update. The state of the loop is checkpointed
after every step, so a killed step is redone and no finished step is lost. Why fresh
runs instead of continuing one simulation across steps: the day loop averages link
times over *all* its iterations (MSA), so a continued run remembers the congestion of
earlier ASCs; its shares drift from what those ASCs give in a full run, and the loop
stalled at L1 3-4 pp in our trials instead of converging (see README).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from ray import tune

from envs.transport import MODES, TransportSim, load_scenario, state_from_bytes, state_to_bytes
from rlsys.calibration.objective import (
    FREE_MODES,
    SecantStep,
    fixed_point_step,
    l1,
    mean_shares,
    mean_times,
    objective,
    time_error,
    time_vector,
)
from rlsys.tuner.keys import BUDGET_KEY, PROPOSAL_KEY
from rlsys.tuner.trainable import crash_once, json_blob, load_payload, report

_SIMS: dict[str, TransportSim] = {}


def simulator(scenario: str) -> TransportSim:
    """One simulator per scenario per worker process (reused across trials)."""
    if scenario not in _SIMS:
        _SIMS[scenario] = TransportSim(load_scenario(scenario))
    return _SIMS[scenario]


def asc_dict(asc: np.ndarray) -> dict[str, float]:
    return {m: float(v) for m, v in zip(FREE_MODES, asc, strict=True)}


def shares_dict(shares: np.ndarray) -> dict[str, float]:
    return {m: float(v) for m, v in zip(MODES, shares, strict=True)}


def times_dict(times: np.ndarray) -> dict[str, float | None]:
    return {m: float(v) if np.isfinite(v) else None for m, v in zip(MODES, times, strict=True)}


def iteration_times(out: dict[str, Any]) -> list[float]:
    """One iteration's mean travel time per mode (``MODES`` order, NaN if nobody used it)."""
    t = out["mean_travel_time_min"]
    return [np.nan if t.get(m) is None else float(t[m]) for m in MODES]


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Simulation seeds of an evaluation: the calibration seed, then seed + 1000 r (apart
    from the seeds seed + 1, seed + 2, ... that re-check the best ASCs)."""
    return [int(seed) + 1000 * r for r in range(max(1, int(replications)))]


class Scorer:
    """The objective of one evaluation from its per-iteration shares and travel times.

    Called with one history per replication (``[iterations][modes]`` each): shares and
    times are averaged over the last k iterations of each, then over the replications.
    """

    def __init__(self, config: dict[str, Any]):
        self.target = np.asarray(config["target"], dtype=np.float64)
        self.time_target = time_vector(config.get("time_targets") or {})
        self.time_weight = float(config.get("time_weight", 1.0))
        self.k = int(config["last_k"])

    def __call__(self, shares_hists: list, times_hists: list) -> dict[str, Any]:
        shares = np.mean([mean_shares(h, self.k) for h in shares_hists], axis=0)
        # mean_times over the replications' means: NaN (nobody used a mode) is skipped
        times = mean_times([mean_times(h, self.k) for h in times_hists], len(times_hists))
        loss = l1(self.target, shares)
        t_err = time_error(self.time_target, times)
        return {
            "objective": objective(loss, t_err, self.time_weight),
            "l1": loss,
            "time_error": t_err,
            "shares": shares_dict(shares),
            "times": times_dict(times),
        }


def proposal(config: dict[str, Any], asc: np.ndarray, score: dict[str, Any]) -> dict:
    """BOHB's proposal (``refine_fraction``) after an evaluation: the car-referenced logit
    step from its shares (the hybrid's step without its learned gains)."""
    shares = np.array([score["shares"][m] for m in MODES])
    step = SecantStep(
        epsilon=float(config.get("epsilon", 0.05)),
        bounds=tuple(float(b) for b in config.get("bounds", (-10.0, 10.0))),
        damping=float(config.get("damping", 1.0)),
    ).step(asc, shares, np.asarray(config["target"], dtype=np.float64))
    return asc_dict(step)


def external_run(
    config: dict[str, Any], asc: np.ndarray, units: int, job: str, parents: list | None = None
) -> tuple[dict[str, Any], list[str], bool]:
    """One evaluation on the external simulator of ``config["simulator"]``: each
    replication a run of the command in ``<sims_dir>/<job>/r<i>`` (continuing
    ``parents[i]``, state dirs of the parent job, when the simulator continues runs).
    Returns (score, state dirs, continued); raises SimulatorError with the reason."""
    from pathlib import Path

    from rlsys.calibration.simulator import SimulatorConfig, run_once
    from rlsys.config import from_dict

    sim = from_dict(SimulatorConfig, config["simulator"], source="simulator")
    seeds = replication_seeds(int(config["seed"]), int(config.get("replications") or 1))
    root = Path(config["sims_dir"]) / job.replace("/", "_").replace("@", "-at-")
    outs = []
    for r, seed in enumerate(seeds):
        parent = Path(parents[r]) if parents and r < len(parents) else None
        full_asc = {"car": 0.0, **asc_dict(asc)}
        outs.append(run_once(sim, full_asc, seed, units, root / f"r{r}", parent))
    shares = [[[o["shares"][m] for m in MODES]] for o in outs]
    times = [[[(o["times"] or {}).get(m, np.nan) for m in MODES]] for o in outs]
    sc = Scorer({**config, "last_k": 1})(shares, times)
    sc["attempts"] = sum(o["attempts"] for o in outs)
    dirs = [str(root / f"r{r}" / "state") for r in range(len(seeds))]
    return sc, dirs, all(o["continued"] for o in outs)


def evaluate_external(config: dict[str, Any]) -> None:
    """bohb / random job on an external simulator (``rlsys.calibration.simulator``): one
    run of the command per replication to ``config[BUDGET_KEY]`` units, continuing the
    parent job's state directories when the simulator continues runs. A run that still
    fails after its retries is recorded as a failed evaluation with its reason."""
    from rlsys.calibration.simulator import SimulatorError
    from rlsys.tuner.keys import JOB_KEY

    asc = np.array([float(config[m]) for m in FREE_MODES])
    budget, full = int(config[BUDGET_KEY]), int(config["max_iterations"])
    payload, source = load_payload(config)
    meta = json.loads(payload["meta.json"]) if payload is not None else None
    if source == "restored" and meta and meta.get("final"):
        report(meta["final"], {"meta.json": payload["meta.json"]})  # finished before a restart
        return
    parents, start = None, 0
    if source == "parent" and meta and np.allclose(meta["asc"], asc):
        parents, start = meta["state_dirs"], int(meta["budget"])
    # job names restart in every session: the trial id keeps the directories apart
    job = f"{config.get(JOB_KEY) or 'job'}-{tune.get_context().get_trial_id()}"
    base = {"iteration": budget, BUDGET_KEY: budget, "start_iteration": start}
    t0 = time.perf_counter()
    try:
        sc, dirs, continued = external_run(config, asc, budget, job, parents)
    except SimulatorError as exc:
        record = {
            "key": "final", "config": asc_dict(asc), "budget": budget, "full_budget": False,
            "start_iteration": 0, "iterations_run": budget, "objective": None,
            "error": True, "reason": str(exc),
        }  # fmt: skip
        report({**base, "record": record})
        return
    sim_s = time.perf_counter() - t0
    start = start if continued else 0  # a simulator that cannot continue restarted
    step = proposal(config, asc, sc)
    metrics = {
        **base, "objective": sc["objective"], "l1": sc["l1"], "time_error": sc["time_error"],
        "start_iteration": start, "sim_s": sim_s, PROPOSAL_KEY: step,
        "record": {
            "key": "final", "config": asc_dict(asc), "budget": budget,
            "full_budget": budget == full, "start_iteration": start,
            "iterations_run": budget - start, **sc, "sim_s": sim_s, "continued": continued,
            "proposal": step,
        },
    }  # fmt: skip
    meta = {"asc": asc.tolist(), "state_dirs": dirs, "budget": budget, "final": metrics}
    report(metrics, {"meta.json": json_blob(meta)})


def evaluate(config: dict[str, Any]) -> None:
    """bohb / random job: simulate ``config[BUDGET_KEY]`` iterations, continuing if possible."""
    if config.get("simulator"):
        return evaluate_external(config)
    sim = simulator(config["scenario"])
    score = Scorer(config)
    asc = np.array([float(config[m]) for m in FREE_MODES])
    budget = int(config[BUDGET_KEY])
    seeds = replication_seeds(int(config["seed"]), int(config.get("replications") or 1))
    n_rep = len(seeds)
    every = int(config.get("checkpoint_every") or 0)
    report_every = int(config.get("report_every") or 1)

    payload, source = load_payload(config)
    # one simulation state and history per replication
    states: list[Any] = [None] * n_rep
    history: list[list] = [[] for _ in seeds]
    times: list[list] = [[] for _ in seeds]
    job_start, sim_s, series = 0, 0.0, []
    if payload is not None:
        meta = json.loads(payload["meta.json"])
        if np.allclose(meta["asc"], asc) and len(meta["history"]) == n_rep:
            states = [state_from_bytes(payload[f"state{r}.npz"]) for r in range(n_rep)]
            history, times = meta["history"], meta["times"]
            sim_s = meta["sim_s"] if source == "restored" else 0.0
            job_start = meta["job_start"] if source == "restored" else len(history[0])
        else:
            source = "fresh"  # not this configuration's state: start over

    def checkpoint() -> dict[str, bytes]:
        meta = {
            "asc": asc.tolist(),
            "history": history,
            "times": times,
            "job_start": job_start,
            "sim_s": sim_s,
        }
        blobs = {f"state{r}.npz": state_to_bytes(st) for r, st in enumerate(states)}
        return {**blobs, "meta.json": json_blob(meta)}

    def metrics(final: bool) -> dict[str, Any]:
        sc = score(history, times)
        out = {
            "objective": sc["objective"],
            "l1": sc["l1"],
            "time_error": sc["time_error"],
            "iteration": len(history[0]),
            BUDGET_KEY: budget,
            "start_iteration": job_start,
            "sim_s": sim_s,
            "series": list(series),  # objective after each iteration (trend stopper)
        }
        if final:
            out[PROPOSAL_KEY] = proposal(config, asc, sc)
            out["record"] = {
                "key": "final",
                "config": asc_dict(asc),
                "budget": budget,
                "full_budget": budget == int(config["max_iterations"]),
                "start_iteration": job_start,
                "iterations_run": budget - job_start,
                **sc,
                "sim_s": sim_s,
                "continued": source == "parent" and job_start > 0,
                "proposal": out[PROPOSAL_KEY],
            }
        return out

    if len(history[0]) >= budget:  # restored after its last report: report it again
        report(metrics(final=True), checkpoint())
        return
    while len(history[0]) < budget:
        crash_once(config.get("fault_file"), len(history[0]) + 1)
        t0 = time.perf_counter()
        for r in range(n_rep):
            fresh = seeds[r] if states[r] is None else None
            out, states[r] = sim.run(asc_dict(asc), 1, seed=fresh, state=states[r])
            history[r].append([out[0]["mode_shares"][m] for m in MODES])
            times[r].append(iteration_times(out[0]))
        sim_s += time.perf_counter() - t0
        series.append(score(history, times)["objective"])
        done = len(history[0])
        final = done == budget
        # a job at the largest budget is never promoted: its end needs no checkpoint
        # (persisting one costs Tune tens of ms per trial, more than a short simulation)
        promotable = budget < int(config["max_iterations"])
        save = (final and promotable) or (every > 0 and done % every == 0)
        if final or save or (done - job_start) % report_every == 0:
            report(metrics(final), checkpoint() if save else None)


def chain(config: dict[str, Any]) -> None:
    """fixed-point / hybrid: sequential steps of fresh simulations, checkpointed per step."""
    sim = None if config.get("simulator") else simulator(config["scenario"])
    target = np.asarray(config["target"], dtype=np.float64)
    score = Scorer(config)
    seeds = replication_seeds(int(config["seed"]), int(config.get("replications") or 1))
    full = int(config["max_iterations"])
    hybrid = config["method"] == "hybrid"
    short = int(config.get("short_budget") or max(1, full // int(config["eta"])))
    bounds = (float(config["bounds"][0]), float(config["bounds"][1]))
    secant = SecantStep(epsilon=config["epsilon"], bounds=bounds, damping=config["damping"])

    payload, _ = load_payload(config)
    if payload is not None:  # this trial's own checkpoint (a retry of the trial)
        st = json.loads(payload["chain.json"])
    elif config.get("start_state"):  # a new session continuing an earlier one
        start = config["start_state"]
        # a killed loop goes on exactly as it would have; one that had stopped for lack
        # of improvement (a finished run given more evaluations) gets its patience back
        since = start["since_best"] if start["since_best"] < int(config["patience"]) else 0
        st = dict(start, first_step=start["step"], since_best=since)
    else:
        st = {
            "asc": [0.0] * len(FREE_MODES),
            "step": 0,
            "first_step": 0,
            "best": None,
            "since_best": 0,
            "last_l1": None,
            "last_budget": None,
            "secant": secant.to_dict(),
        }
    secant.load(st["secant"])
    max_steps = st["first_step"] + int(config["max_evaluations"])
    while st["step"] < max_steps and st["since_best"] < int(config["patience"]):
        asc = np.array(st["asc"])
        coarse = hybrid and (st["last_l1"] is None or st["last_l1"] > config["switch_l1"])
        budget = short if coarse else full
        crash_once(config.get("fault_file"), st["step"] + 1)
        t0 = time.perf_counter()
        if config.get("simulator"):  # a failed run raises: Tune retries from the last step
            sc = external_run(config, asc, budget, f"step-{st['step'] + 1}")[0]
        else:
            outs = [sim.run(asc_dict(asc), budget, seed=s)[0] for s in seeds]
            sc = score(
                [[[o["mode_shares"][m] for m in MODES] for o in out] for out in outs],
                [[iteration_times(o) for o in out] for out in outs],
            )
        sim_s = time.perf_counter() - t0
        loss, shares = sc["objective"], np.array([sc["shares"][m] for m in MODES])
        record = {
            "key": f"step-{st['step'] + 1}",
            "config": asc_dict(asc),
            "budget": budget,
            "full_budget": budget == full,
            "start_iteration": 0,
            "iterations_run": budget,
            **sc,
            "sim_s": sim_s,
            "continued": False,
        }
        if budget == full:
            if st["best"] is None or loss < st["best"] - 1e-9:
                st["best"], st["since_best"] = loss, 0
            else:
                st["since_best"] += 1
        if hybrid:
            if st["last_budget"] is not None and st["last_budget"] != budget:
                secant.reset_history()
            new = secant.step(asc, shares, target)
        else:
            new = fixed_point_step(
                asc, shares, target, config["damping"], config["epsilon"], bounds
            )
        st.update(
            asc=new.tolist(),
            step=st["step"] + 1,
            last_l1=sc["l1"],
            last_budget=budget,
            secant=secant.to_dict(),
        )
        record["state"] = st  # lets a later session continue the loop exactly
        metrics = {
            "objective": loss,
            "l1": sc["l1"],
            "time_error": sc["time_error"],
            "iteration": st["step"],
            "record": record,
            "sim_s": sim_s,
        }
        report(metrics, {"chain.json": json_blob(st)})
