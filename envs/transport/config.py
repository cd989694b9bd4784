"""Scenario files: documented dataclasses, parsed strictly from YAML.

A scenario YAML has the sections below (every field is documented where it is
declared, with its unit). Unknown keys, wrong types and impossible values (a negative
capacity, a share above 1, ...) raise :class:`ScenarioError`, a ``ValueError`` whose
message is one line naming the file and the key, e.g.::

    scenario bad.yaml: network.links[3] (2->5).capacity_vph must be > 0, got -5

The road network is either generated (``network.grid``) or given explicitly
(``network.nodes`` + ``network.links``). Zone attributes are either one value per zone
or a radial ``{center: x, edge: y}`` profile, interpolated linearly in the distance
from the city centre (the mean of the node coordinates).

Population, road capacities, transit vehicle capacities and the ride-hail fleet follow
MATSim's sample convention: the agents stand for ``population.sample_factor`` of the
real population, so capacities and fleet are multiplied by it (the YAML holds real
values).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envs.config_io import Config, ConfigError, config_field, from_dict, invalid, read_yaml_file


class ScenarioError(ConfigError):
    """A scenario file or value that cannot describe a city (one-line message)."""


def _f(default: Any = dataclasses.MISSING, doc: str = "", **checks: Any) -> Any:
    """``config_field`` with the docstring second: range checks gt, ge, lt, le; key, label."""
    return config_field(default, doc=doc, **checks)


# --- sections -------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBins(Config):
    """Departure-time bins; road and ride-hail loads are aggregated per bin."""

    start_hour: float = _f(6.0, "clock hour at which the first bin starts", ge=0, lt=24)
    minutes: float = _f(30.0, "length of one bin (min)", gt=0)
    count: int = _f(6, "number of bins", ge=1, le=1440)


@dataclass(frozen=True)
class GridNetwork(Config):
    """A rows x cols grid of two-way streets; node id = row * cols + col."""

    rows: int = _f(doc="node rows", ge=2, le=1000)
    cols: int = _f(doc="node columns", ge=2, le=1000)
    spacing_km: float = _f(1.0, "distance between neighbouring nodes (km)", gt=0)
    speed_kmh: float = _f(30.0, "free-flow speed of local streets (km/h)", gt=0)
    capacity_vph: float = _f(900.0, "capacity of a local street per direction (veh/h)", gt=0)
    arterial_every: int = _f(0, "every k-th row and column is an arterial (0: none)", ge=0)
    arterial_speed_kmh: float = _f(50.0, "free-flow speed of arterials (km/h)", gt=0)
    arterial_capacity_vph: float = _f(1800.0, "arterial capacity per direction (veh/h)", gt=0)


@dataclass(frozen=True)
class LinkSpec(Config):
    """One directed road link of an explicit network."""

    tail: int = _f(doc="node the link leaves", key="from", ge=0)
    head: int = _f(doc="node the link enters", key="to", ge=0)
    length_km: float = _f(doc="length (km)", gt=0)
    free_flow_min: float = _f(doc="free-flow travel time (min)", gt=0)
    capacity_vph: float = _f(doc="capacity (veh/h, real population)", gt=0)


@dataclass(frozen=True)
class NetworkConfig(Config):
    """Road network: ``grid`` or explicit ``nodes`` + ``links``."""

    grid: GridNetwork | None = _f(None, "generated grid network")
    nodes: list[list[float]] | None = _f(None, "explicit node coordinates [x_km, y_km]")
    links: list[LinkSpec] | None = _f(None, "explicit directed links", label="{from}->{to}")


@dataclass(frozen=True)
class Profile(Config):
    """A zone attribute that varies linearly from the city centre to its edge."""

    center: float = _f(doc="value at the centre")
    edge: float = _f(doc="value at the farthest zone")


@dataclass(frozen=True)
class ZonesConfig(Config):
    """Traffic zones; each zone's centroid is a road node."""

    every: int | None = _f(None, "grid networks: a zone at every k-th row and column node", ge=1)
    nodes: list[int] | None = _f(None, "explicit centroid node of each zone")
    home_weight: Profile | list[float] = _f(
        Profile(1.0, 1.0), "relative number of residents per zone", ge=0
    )
    work_weight: Profile | list[float] = _f(Profile(1.0, 1.0), "relative jobs per zone", ge=0)
    parking_cost: Profile | list[float] = _f(
        Profile(0.0, 0.0), "parking price of a car trip ending in the zone ($)", ge=0
    )
    intrazonal_km: float = _f(0.6, "trip length of a trip inside one zone (km)", gt=0)


@dataclass(frozen=True)
class GridStops(Config):
    """Stops along one grid row or column (grid networks only)."""

    row: int | None = _f(None, "grid row the line runs along", ge=0)
    col: int | None = _f(None, "grid column the line runs along", ge=0)
    every: int = _f(1, "a stop at every k-th node", ge=1)


@dataclass(frozen=True)
class TransitLine(Config):
    """A two-way transit line on its own right of way (not slowed by road traffic)."""

    name: str = _f(doc="line name")
    stops: list[int] | GridStops = _f(doc="stop nodes in order, or a grid row/column")
    headway_min: float = _f(doc="minutes between vehicles", gt=0)
    speed_kmh: float = _f(doc="commercial speed (km/h)", gt=0)
    fare: float = _f(doc="fare per boarding ($)", ge=0)
    vehicle_capacity: float = _f(doc="passengers per vehicle (real)", gt=0)
    park_and_ride: list[int] = _f([], "stop nodes with a car park / ride-hail drop-off")


@dataclass(frozen=True)
class TransitConfig(Config):
    """Transit lines and access rules."""

    lines: list[TransitLine] = _f([], "the lines")
    max_access_walk_km: float = _f(1.2, "longest walk to or from a stop (km)", gt=0)


@dataclass(frozen=True)
class RideHailConfig(Config):
    """Ride-hail fleet, prices, waits and pooling."""

    fleet_size: float = _f(2000.0, "vehicles (real fleet)", gt=0)
    base_fare: float = _f(2.0, "flag fare per ride ($)", ge=0)
    price_per_mile: float = _f(1.25, "distance price ($/mile)", ge=0)
    price_per_min: float = _f(0.75, "time price ($/min of ride)", ge=0)
    base_wait_min: float = _f(4.0, "wait with an idle fleet (min)", ge=0)
    wait_alpha: float = _f(4.0, "wait = base * (1 + alpha * utilisation^beta)", ge=0)
    wait_beta: float = _f(2.0, "exponent of the utilisation in the wait", gt=0)
    max_wait_min: float = _f(30.0, "cap of the wait when demand outgrows the fleet (min)", gt=0)
    deadhead_share: float = _f(0.3, "empty vehicle-km per paid vehicle-km", ge=0)
    pooled_price_factor: float = _f(0.6, "pooled price / solo price", gt=0)
    pooled_detour_factor: float = _f(1.35, "pooled ride time / direct ride time", ge=1)
    pooled_extra_wait_min: float = _f(2.0, "extra wait for matching a pooled ride (min)", ge=0)
    pooled_occupancy: float = _f(1.8, "mean riders per pooled vehicle", ge=1)


@dataclass(frozen=True)
class TravelConfig(Config):
    """Speeds and costs of the non-network parts of trips."""

    walk_speed_kmh: float = _f(5.0, "walking speed (km/h)", gt=0)
    bike_speed_kmh: float = _f(15.0, "cycling speed (km/h)", gt=0)
    bike_access_min: float = _f(2.0, "fetch and park the bike (min, weighted as walking)", ge=0)
    car_cost_per_km: float = _f(0.12, "car operating cost ($/km)", ge=0)
    car_access_min: float = _f(4.0, "walk to and from the parked car (min)", ge=0)
    intrazonal_speed_kmh: float = _f(20.0, "car and ride-hail speed inside a zone (km/h)", gt=0)


@dataclass(frozen=True)
class ChoiceConfig(Config):
    """Multinomial logit: V = ASC - (cost + VOT * generalised time) + beta_transfer * transfers."""

    scale: float = _f(0.7, "logit scale (1/$): P = softmax(scale * V)", gt=0)
    beta_transfer: float = _f(-1.0, "utility of one transfer ($, negative)", le=0)
    wait_weight: float = _f(2.0, "weight of waiting time in generalised time", ge=0)
    walk_weight: float = _f(2.0, "weight of access/egress walking in generalised time", ge=0)
    active_weight: float = _f(1.5, "weight of walking/cycling as the main mode", ge=0)
    crowding_alpha: float = _f(0.5, "in-vehicle weight 1 + alpha * (load/capacity)^beta", ge=0)
    crowding_beta: float = _f(4.0, "exponent of the transit load ratio", gt=0)


@dataclass(frozen=True)
class PopulationConfig(Config):
    """Synthetic population (drawn from its own seed: a scenario is one fixed population)."""

    agents: int = _f(doc="number of agents (one commute trip each)", ge=1, le=10_000_000)
    seed: int = _f(0, "seed of the population generator", ge=0)
    sample_factor: float = _f(1.0, "share of the real population the agents represent", gt=0)
    vot_median: float = _f(18.0, "median value of time ($/h), lognormal", gt=0)
    vot_sigma: float = _f(0.6, "sigma of log value of time", ge=0)
    car_availability: float = _f(0.85, "share of agents with a car", ge=0, le=1)
    bike_availability: float = _f(0.5, "share of agents with a bike", ge=0, le=1)
    departure_weights: list[float] = _f([], "relative departures per time bin ([] = even)", ge=0)
    work_decay_km: float = _f(5.0, "gravity model: work zone weight * exp(-km / decay)", gt=0)


@dataclass(frozen=True)
class SimulationConfig(Config):
    """The MATSim-style day loop."""

    replan_share: float = _f(
        0.15, "share of agents re-choosing their mode per iteration", gt=0, le=1
    )
    bpr_alpha: float = _f(0.15, "BPR: t = t0 * (1 + alpha * (v/c)^beta)", ge=0)
    bpr_beta: float = _f(4.0, "BPR exponent", gt=0)


@dataclass(frozen=True)
class ScenarioConfig(Config):
    """A whole scenario file."""

    name: str = _f(doc="scenario name")
    network: NetworkConfig = _f(doc="road network")
    zones: ZonesConfig = _f(doc="traffic zones")
    population: PopulationConfig = _f(doc="synthetic population")
    description: str = _f("", "one-line description")
    time_bins: TimeBins = _f(TimeBins(), "departure-time bins")
    transit: TransitConfig = _f(TransitConfig(), "transit lines")
    ride_hail: RideHailConfig = _f(RideHailConfig(), "ride-hail fleet")
    travel: TravelConfig = _f(TravelConfig(), "speeds and costs")
    choice: ChoiceConfig = _f(ChoiceConfig(), "mode-choice model")
    simulation: SimulationConfig = _f(SimulationConfig(), "day loop")

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_cross_fields(self)


# --- strict parsing (envs.config_io) ---------------------------------------------------


def parse_scenario(data: Any, source: str = "scenario") -> ScenarioConfig:
    """Validate a YAML mapping into a :class:`ScenarioConfig` (ScenarioError if invalid)."""
    return from_dict(ScenarioConfig, data, f"scenario {source}", ScenarioError)


def load_scenario_config(path: str | Path) -> ScenarioConfig:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"scenario file not found: {path}")
    data = read_yaml_file(path, ScenarioError, f"scenario {path.name}")
    return parse_scenario(data, path.name)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_cross_fields(cfg: ScenarioConfig) -> None:
    """Checks that involve more than one field (array lengths, exclusive choices)."""
    net = cfg.network
    explicit = net.nodes is not None or net.links is not None
    if net.grid is None and not explicit:
        raise invalid(cfg, "network needs either 'grid' or 'nodes' and 'links'")
    if net.grid is not None and explicit:
        raise invalid(cfg, "network has both 'grid' and explicit 'nodes'/'links'; use one")
    if explicit and (net.nodes is None or net.links is None):
        raise invalid(cfg, "an explicit network needs both 'nodes' and 'links'")
    if net.nodes is not None:
        for i, xy in enumerate(net.nodes):
            if len(xy) != 2:
                raise invalid(cfg, f"network.nodes[{i}] must be [x_km, y_km], got {_show(xy)}")
    z = cfg.zones
    if (z.every is None) == (z.nodes is None):
        raise invalid(cfg, "zones needs exactly one of 'every' (grid networks) or 'nodes'")
    if z.every is not None and net.grid is None:
        raise invalid(cfg, "zones.every only works with a grid network; list zones.nodes instead")
    n_bins = cfg.time_bins.count
    weights = cfg.population.departure_weights
    if weights and len(weights) != n_bins:
        raise invalid(
            cfg,
            f"population.departure_weights has {len(weights)} entries, time_bins.count is {n_bins}",
        )
    if weights and sum(weights) <= 0:
        raise invalid(cfg, "population.departure_weights must not all be 0")
    names = [line.name for line in cfg.transit.lines]
    if len(set(names)) != len(names):
        raise invalid(cfg, "transit line names must be unique")
    for i, line in enumerate(cfg.transit.lines):
        if isinstance(line.stops, GridStops):
            if net.grid is None:
                raise invalid(cfg, f"transit.lines[{i}].stops: row/col stops need a grid network")
            if (line.stops.row is None) == (line.stops.col is None):
                raise invalid(cfg, f"transit.lines[{i}].stops needs exactly one of 'row' or 'col'")
        elif len(line.stops) < 2:
            raise invalid(cfg, f"transit.lines[{i}].stops needs at least 2 stops")


def field_docs(cls: type = ScenarioConfig) -> dict[str, str]:
    """Documentation of every field, keyed by dotted path (for help texts and the README)."""
    out: dict[str, str] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f.metadata.get("key", f.name)
        out[key] = f.metadata.get("doc", "")
        if dataclasses.is_dataclass(hints[f.name]):
            for sub, doc in field_docs(hints[f.name]).items():
                out[f"{key}.{sub}"] = doc
    return out
