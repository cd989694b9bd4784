"""A scenario built from its YAML: road network, zones, transit skims, population.

:func:`load_scenario` accepts a shipped name (``small``, ``urbansim-10k-like``,
``large``; files in ``envs/transport/scenarios/``) or a path to a YAML file, validates
it (see :mod:`envs.transport.config`) and builds a :class:`Scenario`: numpy arrays
that the simulator indexes, with static zone-to-zone skims (distances, transit routes).

Checks that need the built network also raise :class:`ScenarioError` with one line:
links that point at missing nodes, duplicate links, zones that cannot reach each other
by road (a disconnected network), transit stops off the network.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse.csgraph import dijkstra

from envs.transport.config import (
    GridStops,
    Profile,
    ScenarioConfig,
    ScenarioError,
    load_scenario_config,
)
from envs.transport.network import RoadNetwork, grid_network
from envs.transport.transit import Line, TransitSkims, build_transit_skims

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_SCENARIO = "urbansim-10k-like"
KM_PER_MILE = 1.609344


def scenario_names() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


@dataclass(frozen=True)
class Population:
    """One commute trip (home -> work) per agent; all arrays have length ``agents``."""

    home: np.ndarray  # zone index
    work: np.ndarray  # zone index
    departure_bin: np.ndarray  # time-bin index
    departure_min: np.ndarray  # minutes after midnight
    vot_per_h: np.ndarray  # value of time ($/h)
    has_car: np.ndarray  # bool
    has_bike: np.ndarray  # bool

    @property
    def size(self) -> int:
        return int(self.home.shape[0])


@dataclass(frozen=True)
class Scenario:
    """Everything the simulator needs, as arrays. ``od = origin_zone * Z + dest_zone``."""

    config: ScenarioConfig
    source: str  # file the scenario came from
    fingerprint: str  # hash of the validated config: a saved state belongs to one scenario
    net: RoadNetwork
    zone_node: np.ndarray  # [Z] centroid node of each zone
    parking_cost: np.ndarray  # [Z] $ per car trip ending in the zone
    trip_km: np.ndarray  # [OD] shortest road distance (intrazonal_km inside a zone)
    walk_km: np.ndarray  # [OD] walking distance (streets walked both ways)
    transit: TransitSkims
    population: Population

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def n_zones(self) -> int:
        return int(self.zone_node.shape[0])

    @property
    def n_bins(self) -> int:
        return self.config.time_bins.count

    @property
    def n_agents(self) -> int:
        return self.population.size


def load_scenario(
    name_or_path: str | Path = DEFAULT_SCENARIO,
    agents: int | None = None,
    scale_capacity: bool = True,
) -> Scenario:
    """Load and build a shipped scenario by name or a YAML file by path.

    ``agents`` overrides the population size. With ``scale_capacity`` (the default) the
    sample factor grows with it, so capacities and fleet per agent stay the same (a
    bigger sample of the same city); without it, the same city gets more demand.
    """
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = SCENARIO_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ScenarioError(
                f"unknown scenario {str(name_or_path)!r} "
                f"(shipped: {', '.join(scenario_names())}; or give a YAML path)"
            )
    cfg = load_scenario_config(path)
    if agents is not None:
        cfg = with_agents(cfg, agents, scale_capacity)
    return build_scenario(cfg, source=path.name)


def with_agents(cfg: ScenarioConfig, agents: int, scale_capacity: bool = True) -> ScenarioConfig:
    """The same scenario with another number of agents (see :func:`load_scenario`)."""
    if agents < 1:
        raise ScenarioError(f"scenario {cfg.name}: agents must be >= 1, got {agents}")
    pop = cfg.population
    factor = pop.sample_factor * agents / pop.agents if scale_capacity else pop.sample_factor
    pop = dataclasses.replace(pop, agents=int(agents), sample_factor=factor)
    return dataclasses.replace(cfg, population=pop)


def build_scenario(cfg: ScenarioConfig, source: str = "<config>") -> Scenario:
    """Build the arrays of a validated config (raises ScenarioError for bad networks)."""
    where = f"scenario {source}"
    net = _network(cfg, where)
    zone_node = _zone_nodes(cfg, net, where)
    radius = _zone_radius(net, zone_node)
    parking = _profile(cfg.zones.parking_cost, radius, "zones.parking_cost", where)
    home_w = _profile(cfg.zones.home_weight, radius, "zones.home_weight", where)
    work_w = _profile(cfg.zones.work_weight, radius, "zones.work_weight", where)
    if home_w.sum() <= 0 or work_w.sum() <= 0:
        raise ScenarioError(f"{where}: zones.home_weight and zones.work_weight need a zone > 0")

    drive_km = dijkstra(net.graph(net.length_km), directed=True, indices=zone_node)
    _check_connected(drive_km[:, zone_node], zone_node, where)
    walk_graph = net.graph(net.length_km)
    lines = _lines(cfg, net, where)
    stop_nodes = (
        np.unique(np.concatenate([ln.stops for ln in lines])) if lines else np.zeros(0, np.int64)
    )
    walk_km_nodes = dijkstra(walk_graph, directed=False, indices=zone_node)
    intrazonal = cfg.zones.intrazonal_km
    trip_km = drive_km[:, zone_node].copy()
    walk_km = walk_km_nodes[:, zone_node].copy()
    np.fill_diagonal(trip_km, intrazonal)
    np.fill_diagonal(walk_km, intrazonal)

    choice = cfg.choice
    transfer_penalty_min = -choice.beta_transfer / (cfg.population.vot_median / 60.0)
    ff_min = dijkstra(net.graph(net.free_flow_min), directed=True, indices=zone_node)
    transit = build_transit_skims(
        lines,
        zone_stop_walk_km=walk_km_nodes[:, stop_nodes],
        zone_stop_drive_min=ff_min[:, stop_nodes],
        zone_stop_drive_km=drive_km[:, stop_nodes],
        stop_nodes=stop_nodes,
        max_access_walk_km=cfg.transit.max_access_walk_km,
        walk_speed_kmh=cfg.travel.walk_speed_kmh,
        wait_weight=choice.wait_weight,
        walk_weight=choice.walk_weight,
        transfer_penalty_min=transfer_penalty_min,
    )
    population = synthesize_population(cfg, trip_km, home_w, work_w)
    return Scenario(
        config=cfg,
        source=source,
        fingerprint=config_fingerprint(cfg),
        net=net,
        zone_node=zone_node,
        parking_cost=parking,
        trip_km=trip_km.ravel(),
        walk_km=walk_km.ravel(),
        transit=transit,
        population=population,
    )


def config_fingerprint(cfg: ScenarioConfig) -> str:
    """A short stable hash of a config."""
    text = json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def synthesize_population(
    cfg: ScenarioConfig, trip_km: np.ndarray, home_w: np.ndarray, work_w: np.ndarray
) -> Population:
    """Draw agents from the scenario's own seed: home by residents, work by a gravity
    model (jobs * exp(-km / decay)), departure bin by weight, lognormal value of time,
    Bernoulli car and bike availability."""
    pc = cfg.population
    rng = np.random.default_rng(pc.seed)
    n, n_z, n_b = pc.agents, len(home_w), cfg.time_bins.count
    home = rng.choice(n_z, size=n, p=home_w / home_w.sum())
    attract = work_w[None, :] * np.exp(-trip_km / pc.work_decay_km)  # [home, work]
    cdf = np.cumsum(attract / attract.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    # one searchsorted for all agents: row z of the CDF lives in (z, z + 1]
    stacked = (cdf + np.arange(n_z)[:, None]).ravel()
    work = np.searchsorted(stacked, home + rng.random(n), side="right") - home * n_z
    work = np.minimum(work, n_z - 1)
    weights = np.asarray(pc.departure_weights or [1.0] * n_b, dtype=np.float64)
    dep_bin = rng.choice(n_b, size=n, p=weights / weights.sum())
    tb = cfg.time_bins
    dep_min = tb.start_hour * 60.0 + (dep_bin + rng.random(n)) * tb.minutes
    vot = pc.vot_median * np.exp(pc.vot_sigma * rng.standard_normal(n))
    has_car = rng.random(n) < pc.car_availability
    has_bike = rng.random(n) < pc.bike_availability
    return Population(
        home=home.astype(np.int64),
        work=work.astype(np.int64),
        departure_bin=dep_bin.astype(np.int64),
        departure_min=dep_min,
        vot_per_h=vot,
        has_car=has_car,
        has_bike=has_bike,
    )


# --- building blocks ------------------------------------------------------------------


def _network(cfg: ScenarioConfig, where: str) -> RoadNetwork:
    nc = cfg.network
    if nc.grid is not None:
        g = nc.grid
        return grid_network(
            g.rows,
            g.cols,
            g.spacing_km,
            g.speed_kmh,
            g.capacity_vph,
            g.arterial_every,
            g.arterial_speed_kmh,
            g.arterial_capacity_vph,
        )
    xy = np.asarray(nc.nodes, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    links = nc.links or []
    if not links:
        raise ScenarioError(f"{where}: network.links is empty")
    seen: set[tuple[int, int]] = set()
    for i, ln in enumerate(links):
        label = f"network.links[{i}] ({ln.tail}->{ln.head})"
        if ln.tail >= n or ln.head >= n:
            raise ScenarioError(f"{where}: {label} refers to a node >= {n} (there are {n} nodes)")
        if ln.tail == ln.head:
            raise ScenarioError(f"{where}: {label} is a loop (from == to)")
        if (ln.tail, ln.head) in seen:
            raise ScenarioError(f"{where}: {label} duplicates an earlier link")
        seen.add((ln.tail, ln.head))
    return RoadNetwork(
        xy_km=xy,
        tail=np.array([ln.tail for ln in links], dtype=np.int64),
        head=np.array([ln.head for ln in links], dtype=np.int64),
        length_km=np.array([ln.length_km for ln in links], dtype=np.float64),
        free_flow_min=np.array([ln.free_flow_min for ln in links], dtype=np.float64),
        capacity_vph=np.array([ln.capacity_vph for ln in links], dtype=np.float64),
    )


def _zone_nodes(cfg: ScenarioConfig, net: RoadNetwork, where: str) -> np.ndarray:
    z = cfg.zones
    if z.every is not None:
        g = cfg.network.grid
        rows = np.arange(0, g.rows, z.every)
        cols = np.arange(0, g.cols, z.every)
        return (rows[:, None] * g.cols + cols[None, :]).ravel().astype(np.int64)
    nodes = np.asarray(z.nodes, dtype=np.int64)
    if nodes.size < 2:
        raise ScenarioError(f"{where}: zones.nodes needs at least 2 zones")
    bad = nodes[(nodes < 0) | (nodes >= net.n_nodes)]
    if bad.size:
        raise ScenarioError(f"{where}: zones.nodes has node {bad[0]}, not in the network")
    if len(np.unique(nodes)) != len(nodes):
        raise ScenarioError(f"{where}: zones.nodes lists a node twice")
    return nodes


def _zone_radius(net: RoadNetwork, zone_node: np.ndarray) -> np.ndarray:
    """Distance of each zone from the city centre, 0 at the centre and 1 at the edge."""
    centre = net.xy_km.mean(axis=0)
    r = np.linalg.norm(net.xy_km[zone_node] - centre, axis=1)
    return r / r.max() if r.max() > 0 else r


def _profile(value: Profile | list[float], radius: np.ndarray, key: str, where: str) -> np.ndarray:
    if isinstance(value, Profile):
        out = value.center + (value.edge - value.center) * radius
    else:
        out = np.asarray(value, dtype=np.float64)
        if out.shape != radius.shape:
            raise ScenarioError(
                f"{where}: {key} has {out.size} values but there are {radius.size} zones"
            )
    if np.any(out < 0):
        raise ScenarioError(f"{where}: {key} must be >= 0 in every zone, got {out.min():g}")
    return out


def _check_connected(zone_km: np.ndarray, zone_node: np.ndarray, where: str) -> None:
    bad = np.argwhere(~np.isfinite(zone_km))
    if bad.size:
        o, d = bad[0]
        raise ScenarioError(
            f"{where}: disconnected road network: zone {o} (node {zone_node[o]}) cannot "
            f"reach zone {d} (node {zone_node[d]})"
        )


def _lines(cfg: ScenarioConfig, net: RoadNetwork, where: str) -> list[Line]:
    sf = cfg.population.sample_factor
    out = []
    for i, lc in enumerate(cfg.transit.lines):
        label = f"transit.lines[{i}] ({lc.name})"
        if isinstance(lc.stops, GridStops):
            g = cfg.network.grid
            s = lc.stops
            if s.row is not None:
                if s.row >= g.rows:
                    raise ScenarioError(f"{where}: {label}.stops.row {s.row} is off the grid")
                stops = s.row * g.cols + np.arange(0, g.cols, s.every)
            else:
                if s.col >= g.cols:
                    raise ScenarioError(f"{where}: {label}.stops.col {s.col} is off the grid")
                stops = np.arange(0, g.rows, s.every) * g.cols + s.col
        else:
            stops = np.asarray(lc.stops, dtype=np.int64)
        bad = stops[(stops < 0) | (stops >= net.n_nodes)]
        if bad.size:
            raise ScenarioError(f"{where}: {label} has stop {bad[0]}, not in the network")
        if len(np.unique(stops)) != len(stops):
            raise ScenarioError(f"{where}: {label} visits a stop twice")
        pnr = np.asarray(lc.park_and_ride, dtype=np.int64)
        missing = pnr[~np.isin(pnr, stops)]
        if missing.size:
            raise ScenarioError(f"{where}: {label}.park_and_ride node {missing[0]} is not a stop")
        # lines follow streets; distances do not depend on direction
        km = dijkstra(net.graph(net.length_km), directed=False, indices=stops[:-1])
        seg = km[np.arange(len(stops) - 1), stops[1:]]
        if not np.all(np.isfinite(seg)):
            j = int(np.argmin(np.isfinite(seg)))
            raise ScenarioError(
                f"{where}: {label}: stops {stops[j]} and {stops[j + 1]} are not connected"
            )
        out.append(
            Line(
                name=lc.name,
                stops=stops,
                segment_km=seg,
                headway_min=lc.headway_min,
                speed_kmh=lc.speed_kmh,
                fare=lc.fare,
                vehicle_capacity=lc.vehicle_capacity * sf,
                park_and_ride=pnr,
            )
        )
    return out
