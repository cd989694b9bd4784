"""The day loop: mode choice, network loading, congestion feedback.

One iteration (``TransportSim._iterate``), MATSim/BEAM style:

1. **Skims.** Shortest road paths per time bin on the *smoothed* link times (MSA,
   below) from every zone centroid; door-to-door time, generalised time and money cost
   of all eight modes for every group ``g = (bin, origin zone, destination zone)``.
2. **Replanning.** In the first iteration every agent chooses; afterwards a share
   ``simulation.replan_share`` of the agents, drawn at random, re-chooses and the rest
   keep their plan. Choice is multinomial logit, in dollars::

       V_m = ASC_m - (cost_m + VOT * generalised_time_m) + beta_transfer * transfers_m
       P_m = softmax(scale * V)   over the modes available to the agent

   Generalised time weights waits, access/egress walks and walking/cycling as a main
   mode, and multiplies transit in-vehicle time by a crowding factor. Car and
   drive_transit need a car, bike needs a bike, transit needs a stop within reach.
3. **Execution.** Agents are counted per (group, mode); car, ride-hail (plus deadhead,
   pooled per rider) and the drive to a park-and-ride stop load their route in their
   departure bin (all-or-nothing on the smoothed shortest path; trips inside one zone
   stay off the network). BPR gives this iteration's link times, from which the
   experienced route times, ride-hail utilisation and waits (they grow with demand
   per vehicle), and transit boardings and crowding follow.
4. **Smoothing.** Link times, ride-hail waits and crowding factors are averaged over
   iterations (method of successive averages, step 1/(k+1)); the next iteration sees
   them.

Everything is vectorised over groups and agents (the only Python loops run over time
bins and route lengths). All randomness comes from one ``np.random.Generator`` whose
state travels in :class:`SimState`, so a run continued from a saved state is
bit-identical to an uninterrupted run of the same total length.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.transport.modes import (
    BIKE,
    CAR,
    DRIVE_TRANSIT,
    MODES,
    N_MODES,
    POOLED,
    RIDE_HAIL,
    RIDE_HAIL_TRANSIT,
    WALK,
    WALK_TRANSIT,
    asc_vector,
)
from envs.transport.network import BinnedRouter, bpr, walk_paths
from envs.transport.scenario import KM_PER_MILE, Scenario, load_scenario

STATE_VERSION = 1


@dataclass
class SimState:
    """Everything a run needs to continue (numpy arrays + the generator state)."""

    iteration: int  # iterations done so far
    seed: int  # seed the run started from
    scenario: str  # fingerprint of the scenario the state belongs to
    mode: np.ndarray  # [agents] int8, current plan (index into MODES), -1 before iteration 0
    link_time_min: np.ndarray  # [bins, links] smoothed link times (min)
    ride_hail_wait_min: np.ndarray  # [bins] smoothed ride-hail wait (min)
    crowding: np.ndarray  # [bins, lines] smoothed crowding factor (>= 1)
    rng_state: dict  # np.random.Generator.bit_generator.state

    def copy(self) -> SimState:
        return dataclasses.replace(
            self,
            mode=self.mode.copy(),
            link_time_min=self.link_time_min.copy(),
            ride_hail_wait_min=self.ride_hail_wait_min.copy(),
            crowding=self.crowding.copy(),
            rng_state=json.loads(json.dumps(self.rng_state)),
        )


_ARRAYS = ("mode", "link_time_min", "ride_hail_wait_min", "crowding")


def state_to_bytes(state: SimState) -> bytes:
    """Serialise a state as an ``.npz`` archive (no pickle)."""
    meta = {
        "version": STATE_VERSION,
        "iteration": state.iteration,
        "seed": state.seed,
        "scenario": state.scenario,
        "rng_state": state.rng_state,
    }
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **{k: getattr(state, k) for k in _ARRAYS})
    return buf.getvalue()


def state_from_bytes(data: bytes) -> SimState:
    """Inverse of :func:`state_to_bytes`. Raises ValueError (one line) for anything else:
    the bytes are a user's file (a broken archive, wrong types, an invalid rng state)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in _ARRAYS}
    except Exception as exc:  # zipfile, zlib, EOF, format, key and JSON errors alike
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"not a transport simulation state: {detail}") from None
    if not isinstance(meta, dict):
        raise ValueError("not a transport simulation state: no metadata")
    if meta.get("version") != STATE_VERSION:
        raise ValueError(f"state version {meta.get('version')!r} is not {STATE_VERSION}")
    for key in ("iteration", "seed"):
        value = meta.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"state {key} must be a non-negative integer, got {value!r}")
    if not isinstance(meta.get("scenario"), str):
        raise ValueError("state scenario fingerprint missing")
    try:
        np.random.default_rng().bit_generator.state = meta.get("rng_state")
    except (TypeError, ValueError, KeyError, OverflowError):
        raise ValueError("state rng_state is not a generator state") from None
    mode = arrays["mode"]
    if mode.dtype.kind not in "iu" or not ((mode >= -1) & (mode < 8)).all():
        raise ValueError("the state's modes must be integers in -1..7")
    arrays["mode"] = mode.astype(np.int8)
    for name in _ARRAYS[1:]:  # smoothed times and factors: finite, and not absurd
        if arrays[name].dtype.kind not in "fiu":
            raise ValueError(f"the state's {name} must hold numbers")
        a = arrays[name] = arrays[name].astype(np.float64)
        if not (np.isfinite(a) & (np.abs(a) <= 1e9)).all():
            raise ValueError(f"the state's {name} must hold finite numbers up to 1e9")
    return SimState(
        iteration=int(meta["iteration"]),
        seed=int(meta["seed"]),
        scenario=str(meta["scenario"]),
        rng_state=meta["rng_state"],
        **arrays,
    )


def save_state(state: SimState, path: str | Path) -> None:
    """Write a state to ``path`` (an ``.npz`` file)."""
    Path(path).write_bytes(state_to_bytes(state))


def load_state(path: str | Path) -> SimState:
    """Read a state written by :func:`save_state`."""
    return state_from_bytes(Path(path).read_bytes())


class TransportSim:
    """The simulator for one scenario; stateless between calls (the state is explicit)."""

    def __init__(self, scenario: Scenario | str | Path):
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.scenario = sc
        cfg = sc.config
        pop = sc.population
        self.n_zones, self.n_bins, self.n_nodes = sc.n_zones, sc.n_bins, sc.net.n_nodes
        n_z, n_b, n_n = self.n_zones, self.n_bins, self.n_nodes
        n_od = n_z * n_z
        self.n_groups = n_b * n_od
        self.router = BinnedRouter(sc.net, sc.zone_node)

        # --- groups g = bin * OD + od, od = o * Z + d --------------------------------
        g = np.arange(self.n_groups)
        self.group_bin, od = np.divmod(g, n_od)
        o, d = np.divmod(od, n_z)
        self.group_od = od
        self.intrazonal = o == d
        # flat index into the [bins, zones, nodes] route arrays
        row = (self.group_bin * n_z + o) * n_n
        self.car_pair = row + sc.zone_node[d]
        walk_opt, pnr_opt = sc.transit.walk, sc.transit.park_and_ride
        self.pnr_ok = pnr_opt.available[od]
        self.pnr_pair = row + np.where(self.pnr_ok, pnr_opt.access_node[od], sc.zone_node[o])
        self.wt_ok = walk_opt.available[od]

        # --- agents --------------------------------------------------------------------
        self.agent_group = (pop.departure_bin * n_z + pop.home) * n_z + pop.work
        self.vot_per_min = pop.vot_per_h / 60.0
        self.agent_class = pop.has_car.astype(np.int64) + 2 * pop.has_bike.astype(np.int64)
        pen = np.zeros((N_MODES, 4))  # [mode, class]; class = has_car + 2 * has_bike
        pen[CAR, [0, 2]] = pen[DRIVE_TRANSIT, [0, 2]] = -np.inf  # no car
        pen[BIKE, [0, 1]] = -np.inf  # no bike
        self.class_penalty = pen

        # --- static per-group parts of the mode tables --------------------------------
        tr, rh = cfg.travel, cfg.ride_hail
        self.trip_km = sc.trip_km[od]
        self.walk_min = sc.walk_km[od] / tr.walk_speed_kmh * 60.0
        self.bike_min = sc.walk_km[od] / tr.bike_speed_kmh * 60.0
        self.intrazonal_min = cfg.zones.intrazonal_km / tr.intrazonal_speed_kmh * 60.0
        self.car_money = tr.car_cost_per_km * self.trip_km + sc.parking_cost[d]
        self.wt_walk_min = (walk_opt.access_walk_km + walk_opt.egress_walk_km)[od] / (
            tr.walk_speed_kmh / 60.0
        )
        self.pnr_walk_min = pnr_opt.egress_walk_km[od] / (tr.walk_speed_kmh / 60.0)
        self.pnr_km = pnr_opt.access_drive_km[od]
        # per-mode tables are mode-major, [8, groups], so each mode's row is contiguous
        self.available = np.ones((N_MODES, self.n_groups), dtype=bool)
        self.available[WALK_TRANSIT] = self.wt_ok
        self.available[DRIVE_TRANSIT] = self.pnr_ok
        self.available[RIDE_HAIL_TRANSIT] = self.pnr_ok
        self.transfers = np.zeros((N_MODES, self.n_groups))
        self.transfers[WALK_TRANSIT] = walk_opt.transfers[od]
        # the change from car / ride-hail to transit counts as a transfer too
        self.transfers[DRIVE_TRANSIT] = pnr_opt.transfers[od] + 1.0
        self.transfers[RIDE_HAIL_TRANSIT] = pnr_opt.transfers[od] + 1.0
        self.transfers[~self.available] = 0.0

        # --- road legs: which (group, mode) cells load which route, with what weight ---
        dead = 1.0 + rh.deadhead_share
        pooled_w = dead * rh.pooled_detour_factor / rh.pooled_occupancy
        on_net = ~self.intrazonal
        to_pnr = self.pnr_ok & (pnr_opt.access_node[od] != sc.zone_node[o])
        legs = [
            (CAR, on_net, self.car_pair, 1.0),
            (RIDE_HAIL, on_net, self.car_pair, dead),
            (POOLED, on_net, self.car_pair, pooled_w),
            (DRIVE_TRANSIT, to_pnr, self.pnr_pair, 1.0),
            (RIDE_HAIL_TRANSIT, to_pnr, self.pnr_pair, dead),
        ]
        self.leg_pair = np.concatenate([pair[mask] for _, mask, pair, _ in legs])
        self.leg_cell = np.concatenate([m * self.n_groups + g[mask] for m, mask, _, _ in legs])
        self.leg_weight = np.concatenate([np.full(mask.sum(), w) for _, mask, _, w in legs])
        self.intrazonal_vehicles = np.zeros(N_MODES)  # vehicles per trip inside a zone
        self.intrazonal_vehicles[[CAR, RIDE_HAIL, POOLED]] = [1.0, dead, pooled_w]

        # --- capacities per bin --------------------------------------------------------
        sf = cfg.population.sample_factor
        bin_h = cfg.time_bins.minutes / 60.0
        self.link_capacity = sc.net.capacity_vph * sf * bin_h  # vehicles per bin
        self.fleet_minutes = rh.fleet_size * sf * cfg.time_bins.minutes
        lines = sc.transit.lines
        self.line_capacity = np.array(
            [2.0 * cfg.time_bins.minutes / ln.headway_min * ln.vehicle_capacity for ln in lines]
        ).reshape(-1)  # both directions, passengers per bin
        self.length_miles = sc.net.length_km / KM_PER_MILE

    # --- public API -----------------------------------------------------------------------

    def initial_state(self, seed: int) -> SimState:
        """State before iteration 0: free-flow roads, idle fleet, empty transit."""
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        sc = self.scenario
        return SimState(
            iteration=0,
            seed=int(seed),
            scenario=sc.fingerprint,
            mode=np.full(sc.n_agents, -1, dtype=np.int8),
            link_time_min=np.tile(sc.net.free_flow_min, (self.n_bins, 1)),
            ride_hail_wait_min=np.full(self.n_bins, sc.config.ride_hail.base_wait_min),
            crowding=np.ones((self.n_bins, sc.transit.n_lines)),
            rng_state=np.random.default_rng(int(seed)).bit_generator.state,
        )

    def run(
        self,
        asc: Mapping[str, float] | np.ndarray | None,
        iterations: int,
        seed: int | None = None,
        state: SimState | None = None,
    ) -> tuple[list[dict[str, Any]], SimState]:
        """Run ``iterations`` iterations; returns (one output dict per iteration, new state).

        Without ``state`` the run starts fresh from ``seed``; with it the run continues
        (``seed`` may be None or must equal the state's seed). ``state`` is not modified.
        """
        asc_vec = asc_vector(asc)
        if (
            isinstance(iterations, bool)
            or not isinstance(iterations, int | np.integer)
            or iterations < 0
        ):
            raise ValueError(f"iterations must be a non-negative integer, got {iterations!r}")
        if state is None:
            if seed is None:
                raise ValueError("a fresh run needs a seed")
            state = self.initial_state(seed)
        else:
            self._check_state(state, seed)
            state = state.copy()
        rng = np.random.default_rng()
        rng.bit_generator.state = state.rng_state
        outputs = [self._iterate(state, asc_vec, rng) for _ in range(int(iterations))]
        state.rng_state = rng.bit_generator.state
        return outputs, state

    def _check_state(self, state: SimState, seed: int | None) -> None:
        sc = self.scenario
        if state.scenario != sc.fingerprint:
            raise ValueError(
                f"the state belongs to another scenario (fingerprint {state.scenario}, "
                f"{sc.name} is {sc.fingerprint})"
            )
        if seed is not None and seed != state.seed:
            raise ValueError(f"seed {seed} differs from the state's seed {state.seed}")
        if state.mode.shape != (sc.n_agents,):
            raise ValueError(f"the state has {state.mode.size} agents, {sc.name} has {sc.n_agents}")
        # minimum of each smoothed quantity (link times are positive, crowding factors >= 1)
        expected = {
            "link_time_min": ((self.n_bins, sc.net.n_links), 0.0, False),
            "ride_hail_wait_min": ((self.n_bins,), 0.0, True),
            "crowding": ((self.n_bins, sc.transit.n_lines), 1.0, True),
        }
        for name, (shape, low, closed) in expected.items():
            a = getattr(state, name)
            if a.shape != shape or not (a >= low if closed else a > low).all():
                op = ">=" if closed else ">"
                raise ValueError(
                    f"the state's {name} must be a {shape} array of numbers {op} {low}"
                )

    # --- one iteration --------------------------------------------------------------------

    def _iterate(self, st: SimState, asc: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        cfg = self.scenario.config
        sim, ch = cfg.simulation, cfg.choice
        n_b = self.n_bins

        # 1. skims on the smoothed link times
        road_min, pred = self.router.shortest(st.link_time_min)
        road_min = road_min.reshape(-1)
        _, gen_time, money = self._mode_tables(
            road_min, st.ride_hail_wait_min, st.crowding, with_choice=True
        )

        # 2. replanning
        if st.iteration == 0:
            choosers = np.arange(st.mode.size)
        else:
            choosers = np.flatnonzero(rng.random(st.mode.size) < sim.replan_share)
        base = ch.scale * (asc[:, None] - money + ch.beta_transfer * self.transfers)
        base[~self.available] = -np.inf
        st.mode[choosers] = self._choose(choosers, base, ch.scale * gen_time, rng)

        # 3. execution: load the roads, then experienced times, waits and crowding
        counts = np.bincount(
            st.mode.astype(np.int64) * self.n_groups + self.agent_group,
            minlength=N_MODES * self.n_groups,
        ).astype(np.float64)
        demand = np.bincount(
            self.leg_pair, weights=counts[self.leg_cell] * self.leg_weight, minlength=road_min.size
        )
        pairs = np.flatnonzero(demand)
        pos, link = walk_paths(pred, self.router.link_of, pairs, self.scenario.zone_node)
        n_links = self.scenario.net.n_links
        volume = np.bincount(link, weights=demand[pairs][pos], minlength=n_b * n_links)
        volume = volume.reshape(n_b, n_links)
        link_time = bpr(
            self.scenario.net.free_flow_min,
            volume,
            self.link_capacity,
            sim.bpr_alpha,
            sim.bpr_beta,
        )
        experienced_road = road_min.copy()
        experienced_road[pairs] = np.bincount(
            pos, weights=link_time.reshape(-1)[link], minlength=pairs.size
        )
        counts = counts.reshape(N_MODES, self.n_groups)
        wait = self._ride_hail_wait(counts, experienced_road)
        crowding = self._crowding(counts)
        time, _, _ = self._mode_tables(experienced_road, wait, crowding, with_choice=False)

        out = self._outputs(st.iteration, counts, time, volume, wait, choosers.size)

        # 4. MSA smoothing: the next iteration sees the average of all iterations so far
        step = 1.0 / (st.iteration + 1)
        st.link_time_min += step * (link_time - st.link_time_min)
        st.ride_hail_wait_min += step * (wait - st.ride_hail_wait_min)
        st.crowding += step * (crowding - st.crowding)
        st.iteration += 1
        return out

    def _choose(
        self, who: np.ndarray, base: np.ndarray, scaled_gen: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Sample a mode for each agent in ``who`` from the logit (inverse CDF)."""
        g = self.agent_group[who]
        v = base[:, g]  # [8, choosers]
        v -= scaled_gen[:, g] * self.vot_per_min[who]
        v += self.class_penalty[:, self.agent_class[who]]
        v -= v.max(axis=0)
        np.exp(v, out=v)
        np.cumsum(v, axis=0, out=v)
        u = rng.random(who.size) * v[-1]
        return np.minimum((v <= u).sum(axis=0), N_MODES - 1).astype(np.int8)

    def _mode_tables(
        self, road_min: np.ndarray, wait: np.ndarray, crowding: np.ndarray, with_choice: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Door-to-door minutes, generalised minutes and money ($), each [8, groups].

        ``road_min`` is the flat [bins, zones, nodes] route time, ``wait`` the ride-hail
        wait per bin, ``crowding`` the crowding factor per bin and line. Unavailable
        cells hold 0 (the caller masks them). Without ``with_choice`` only the
        door-to-door minutes are computed (generalised time and money are None).
        """
        sc, cfg = self.scenario, self.scenario.config
        tr, rh, ch = cfg.travel, cfg.ride_hail, cfg.choice
        walk_opt, pnr_opt = sc.transit.walk, sc.transit.park_and_ride
        od, b = self.group_od, self.group_bin
        car_ivt = np.where(self.intrazonal, self.intrazonal_min, road_min[self.car_pair])
        pnr_drive = np.where(self.pnr_ok, road_min[self.pnr_pair], 0.0)
        rh_wait = wait[b]
        pool_wait = rh_wait + rh.pooled_extra_wait_min
        pool_ivt = car_ivt * rh.pooled_detour_factor
        wt_wait, wt_ivt = walk_opt.wait_min[od], walk_opt.ivt_min[od]
        pnr_wait, pnr_ivt = pnr_opt.wait_min[od], pnr_opt.ivt_min[od]

        time = np.empty((N_MODES, self.n_groups))
        time[WALK] = self.walk_min
        time[BIKE] = self.bike_min + tr.bike_access_min
        time[CAR] = car_ivt + tr.car_access_min
        time[RIDE_HAIL] = rh_wait + car_ivt
        time[POOLED] = pool_wait + pool_ivt
        time[WALK_TRANSIT] = self.wt_walk_min + wt_wait + wt_ivt
        pnr_common = self.pnr_walk_min + pnr_wait + pnr_ivt
        time[DRIVE_TRANSIT] = tr.car_access_min + pnr_drive + pnr_common
        time[RIDE_HAIL_TRANSIT] = rh_wait + pnr_drive + pnr_common
        time[~self.available] = 0.0
        if not with_choice:
            return time, None, None

        # crowding adds perceived (not real) in-vehicle minutes on each line used
        extra = crowding - 1.0
        wt_crowd = (extra @ walk_opt.ivt_by_line.T).reshape(-1)
        pnr_crowd = (extra @ pnr_opt.ivt_by_line.T).reshape(-1)
        ww, wk, act = ch.wait_weight, ch.walk_weight, ch.active_weight
        gen = np.empty((N_MODES, self.n_groups))
        gen[WALK] = act * self.walk_min
        gen[BIKE] = act * self.bike_min + wk * tr.bike_access_min
        gen[CAR] = car_ivt + wk * tr.car_access_min
        gen[RIDE_HAIL] = ww * rh_wait + car_ivt
        gen[POOLED] = ww * pool_wait + pool_ivt
        gen[WALK_TRANSIT] = wk * self.wt_walk_min + ww * wt_wait + wt_ivt + wt_crowd
        pnr_common = wk * self.pnr_walk_min + ww * pnr_wait + pnr_ivt + pnr_crowd
        gen[DRIVE_TRANSIT] = wk * tr.car_access_min + pnr_drive + pnr_common
        gen[RIDE_HAIL_TRANSIT] = ww * rh_wait + pnr_drive + pnr_common

        money = np.zeros((N_MODES, self.n_groups))
        money[CAR] = self.car_money
        rh_price = rh.base_fare + rh.price_per_mile * self.trip_km / KM_PER_MILE
        money[RIDE_HAIL] = rh_price + rh.price_per_min * car_ivt
        money[POOLED] = rh.pooled_price_factor * money[RIDE_HAIL]
        money[WALK_TRANSIT] = walk_opt.fare[od]
        money[DRIVE_TRANSIT] = pnr_opt.fare[od] + tr.car_cost_per_km * self.pnr_km
        money[RIDE_HAIL_TRANSIT] = (
            pnr_opt.fare[od]
            + rh.base_fare
            + rh.price_per_mile * self.pnr_km / KM_PER_MILE
            + rh.price_per_min * pnr_drive
        )
        unavailable = ~self.available
        gen[unavailable] = money[unavailable] = 0.0
        return time, gen, money

    def _ride_hail_wait(self, counts: np.ndarray, road_min: np.ndarray) -> np.ndarray:
        """Wait per bin: base * (1 + alpha * utilisation^beta), at most ``max_wait_min``;
        utilisation = vehicle minutes asked (rides incl. deadhead, pooled shared) / fleet
        minutes per bin."""
        rh = self.scenario.config.ride_hail
        car_ivt = np.where(self.intrazonal, self.intrazonal_min, road_min[self.car_pair])
        pnr_drive = np.where(self.pnr_ok, road_min[self.pnr_pair], 0.0)
        dead = 1.0 + rh.deadhead_share
        pooled_share = rh.pooled_detour_factor / rh.pooled_occupancy
        vehicle_min = dead * (
            counts[RIDE_HAIL] * car_ivt
            + counts[POOLED] * car_ivt * pooled_share
            + counts[RIDE_HAIL_TRANSIT] * pnr_drive
        )
        utilisation = vehicle_min.reshape(self.n_bins, -1).sum(axis=1) / self.fleet_minutes
        wait = rh.base_wait_min * (1.0 + rh.wait_alpha * utilisation**rh.wait_beta)
        return np.minimum(wait, max(rh.max_wait_min, rh.base_wait_min))

    def _crowding(self, counts: np.ndarray) -> np.ndarray:
        """Crowding factor per bin and line: 1 + alpha * (boardings / capacity)^beta."""
        sc, ch = self.scenario, self.scenario.config.choice
        if sc.transit.n_lines == 0:
            return np.ones((self.n_bins, 0))
        wt = counts[WALK_TRANSIT].reshape(self.n_bins, -1)
        pnr = (counts[DRIVE_TRANSIT] + counts[RIDE_HAIL_TRANSIT]).reshape(self.n_bins, -1)
        boardings = (
            wt @ sc.transit.walk.boardings_by_line
            + pnr @ sc.transit.park_and_ride.boardings_by_line
        )
        return 1.0 + ch.crowding_alpha * (boardings / self.line_capacity) ** ch.crowding_beta

    def _outputs(
        self,
        iteration: int,
        counts: np.ndarray,
        time: np.ndarray,
        volume: np.ndarray,
        wait: np.ndarray,
        replanned: int,
    ) -> dict[str, Any]:
        """The per-iteration report (plain, JSON-serialisable)."""
        per_mode = counts.sum(axis=1)
        shares = 100.0 * per_mode / per_mode.sum()
        time_sum = (counts * time).sum(axis=1)
        mean_time = {
            m: (float(time_sum[i] / per_mode[i]) if per_mode[i] > 0 else None)
            for i, m in enumerate(MODES)
        }
        sc = self.scenario
        intrazonal_veh = self.intrazonal_vehicles @ counts[:, self.intrazonal].sum(axis=1)
        vmt = float(
            (volume * self.length_miles).sum()
            + intrazonal_veh * sc.config.zones.intrazonal_km / KM_PER_MILE
        )
        waiting = counts[[RIDE_HAIL, POOLED, RIDE_HAIL_TRANSIT]]
        extra = np.array([0.0, sc.config.ride_hail.pooled_extra_wait_min, 0.0])
        w = waiting.sum()
        wait_g = wait[self.group_bin][None, :] + extra[:, None]
        mean_wait = float((waiting * wait_g).sum() / w) if w > 0 else None
        vc = volume / self.link_capacity
        return {
            "iteration": iteration,
            "mode_shares": {m: float(shares[i]) for i, m in enumerate(MODES)},
            "mean_travel_time_min": mean_time,
            "vmt": vmt,
            "ride_hail_wait_min": mean_wait,
            "replanned": int(replanned),
            "link_volumes": {
                "max_vc": float(vc.max()),
                "mean_vc": float(vc.mean()),
                "over_capacity_share": float((vc > 1.0).mean()),
            },
        }


def run(
    asc: Mapping[str, float] | np.ndarray | None,
    iterations: int,
    seed: int | None = None,
    state: SimState | None = None,
    scenario: Scenario | str | Path = "urbansim-10k-like",
) -> tuple[list[dict[str, Any]], SimState]:
    """Functional form of :meth:`TransportSim.run` (builds the scenario each call)."""
    return TransportSim(scenario).run(asc, iterations, seed=seed, state=state)
