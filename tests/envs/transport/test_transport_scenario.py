"""Scenario files, validation, networks and transit skims (envs/transport/{config,scenario,
network,transit}.py) on tiny hand-made cities."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from envs.transport import MODES, ScenarioError, TransportSim, load_scenario, read_asc
from envs.transport.network import BinnedRouter, bpr, walk_paths
from envs.transport.scenario import scenario_names


def square_city() -> dict:
    """Four nodes on a 1 km square, two-way streets, zones at opposite corners."""
    links = []
    for a, b in [(0, 1), (1, 3), (3, 2), (2, 0)]:
        for u, v in [(a, b), (b, a)]:
            links.append(
                {"from": u, "to": v, "length_km": 1.0, "free_flow_min": 2.0, "capacity_vph": 600}
            )
    return {
        "name": "square",
        "time_bins": {"count": 2},
        "network": {"nodes": [[0, 0], [1, 0], [0, 1], [1, 1]], "links": links},
        "zones": {"nodes": [0, 3]},
        "transit": {
            "lines": [
                {
                    "name": "a",
                    "stops": [0, 1, 3],
                    "headway_min": 10,
                    "speed_kmh": 20,
                    "fare": 2.0,
                    "vehicle_capacity": 50,
                    "park_and_ride": [1],
                }
            ]
        },
        "population": {"agents": 200, "seed": 1},
    }


def write(tmp_path, data: dict, name: str = "city.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def load_error(tmp_path, data: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, data))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("scenario city.yaml: ")
    return message


def test_shipped_scenarios_have_the_promised_sizes():
    assert {"small", "urbansim-10k-like", "large"} <= set(scenario_names())
    assert load_scenario("small").n_agents == 1000
    assert load_scenario("urbansim-10k-like").n_agents == 10000
    large = load_scenario("large")  # about 0.3 s to build
    assert large.n_agents >= 200_000
    outputs, _ = TransportSim(large).run(None, 1, seed=0)
    assert sum(outputs[0]["mode_shares"].values()) == pytest.approx(100.0)


def test_default_scenario_population_is_plausible():
    sc = load_scenario("urbansim-10k-like")
    pop = sc.population
    assert 0.8 < pop.has_car.mean() < 0.9
    assert 10 < np.median(pop.vot_per_h) < 30
    # every mode must be open to a good share of agents for calibration to reach targets
    sim = TransportSim(sc)
    assert sim.wt_ok[sim.agent_group].mean() > 0.5
    assert sim.pnr_ok[sim.agent_group].mean() > 0.5


def test_explicit_scenario_loads_and_runs(tmp_path):
    sc = load_scenario(write(tmp_path, square_city()))
    assert sc.n_zones == 2 and sc.net.n_links == 8
    outputs, _ = TransportSim(sc).run(None, 3, seed=0)
    assert sum(outputs[-1]["mode_shares"].values()) == pytest.approx(100.0)


def test_unknown_key_is_named(tmp_path):
    data = square_city()
    data["network"]["grd"] = {}
    message = load_error(tmp_path, data)
    assert "unknown key 'network.grd'" in message and "valid: grid, nodes, links" in message


def test_unknown_top_level_key(tmp_path):
    data = square_city()
    data["ride_hailing"] = {}
    assert "unknown key 'ride_hailing'" in load_error(tmp_path, data)


@pytest.mark.parametrize("capacity", [0, -5])
def test_impossible_capacity_names_the_link(tmp_path, capacity):
    data = square_city()
    data["network"]["links"][3]["capacity_vph"] = capacity
    message = load_error(tmp_path, data)
    assert f"network.links[3] (3->1).capacity_vph must be > 0, got {capacity}" in message


def test_zero_capacity_grid(tmp_path):
    data = yaml.safe_load(_small_path().read_text())
    data["network"]["grid"]["arterial_capacity_vph"] = 0
    message = load_error(tmp_path, data)
    assert "network.grid.arterial_capacity_vph must be > 0" in message


def _small_path():
    from envs.transport.scenario import SCENARIO_DIR

    return SCENARIO_DIR / "small.yaml"


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda d: d["population"].update(agents=0), "population.agents must be >= 1"),
        (lambda d: d["population"].update(car_availability=1.5), "car_availability must be <="),
        (lambda d: d["population"].update(agents="many"), "population.agents must be an integer"),
        (lambda d: d["transit"]["lines"][0].update(headway_min=0), "headway_min must be > 0"),
        (lambda d: d["transit"]["lines"][0].update(stops=[0, 9]), "stop 9, not in the network"),
        (lambda d: d["transit"]["lines"][0].update(park_and_ride=[2]), "node 2 is not a stop"),
        (lambda d: d["zones"].update(nodes=[0, 7]), "node 7, not in the network"),
        (lambda d: d["population"].update(departure_weights=[1]), "departure_weights has 1"),
        (lambda d: d["network"]["links"].append(dict(d["network"]["links"][0])), "duplicates"),
        (lambda d: d.pop("population"), "missing key 'population'"),
        (lambda d: d["network"]["links"][0].update(to=0), "is a loop"),
    ],
)
def test_impossible_values(tmp_path, edit, expected):
    data = copy.deepcopy(square_city())
    edit(data)
    assert expected in load_error(tmp_path, data)


def test_disconnected_network(tmp_path):
    data = square_city()
    # cut every link into node 3: zone 1 can no longer be reached
    data["network"]["links"] = [ln for ln in data["network"]["links"] if ln["to"] != 3]
    message = load_error(tmp_path, data)
    assert "disconnected road network" in message
    assert "cannot reach zone 1 (node 3)" in message


def test_missing_scenario_and_bad_yaml(tmp_path):
    with pytest.raises(ScenarioError, match="unknown scenario 'nowhere'"):
        load_scenario("nowhere")
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="scenario bad.yaml"):
        load_scenario(bad)


def test_population_is_fixed_by_the_scenario():
    a, b = load_scenario("small").population, load_scenario("small").population
    assert np.array_equal(a.home, b.home) and np.array_equal(a.vot_per_h, b.vot_per_h)
    assert a.work.min() >= 0 and a.work.max() < load_scenario("small").n_zones


def test_asc_file(tmp_path):
    path = tmp_path / "asc.yaml"
    path.write_text("walk: 1.5\nride_hail_transit: -2\n")
    asc = read_asc(path)
    assert asc[MODES.index("walk")] == 1.5 and asc[MODES.index("ride_hail_transit")] == -2
    assert asc[MODES.index("bike")] == 0.0
    path.write_text("tram: 1\n")
    with pytest.raises(ValueError, match="unknown mode 'tram'.*valid: walk, bike, car"):
        read_asc(path)
    path.write_text("car: 0.5\n")
    with pytest.raises(ValueError, match="car ASC is the reference"):
        read_asc(path)
    path.write_text("car: 0\nwalk: fast\n")
    with pytest.raises(ValueError, match="must be a number"):
        read_asc(path)


def test_bpr():
    t = bpr(np.array([2.0]), np.array([[50.0, 100.0]]).T, np.array([100.0]), 0.15, 4.0)
    assert t.ravel() == pytest.approx([2.0 * (1 + 0.15 / 16), 2.0 * 1.15])


def test_walk_paths_loads_each_route_once(tmp_path):
    sc = load_scenario(write(tmp_path, square_city()))
    router = BinnedRouter(sc.net, sc.zone_node)
    times = np.tile(sc.net.free_flow_min, (2, 1))
    times[1, sc.net.link_lookup()[0, 1]] = 10.0  # bin 1: the route via node 1 is slow
    dist, pred = router.shortest(times)
    assert dist[0, 0, 3] == pytest.approx(4.0) and dist[1, 0, 3] == pytest.approx(4.0)
    n = sc.net.n_nodes
    pairs = np.array([(0 * 2 + 0) * n + 3, (1 * 2 + 0) * n + 3])  # zone 0 -> node 3, bins 0, 1
    pos, link = walk_paths(pred, router.link_of, pairs, sc.zone_node)
    assert np.bincount(pos).tolist() == [2, 2]
    lookup = sc.net.link_lookup()
    bin1 = set((link[pos == 1] - sc.net.n_links).tolist())
    assert bin1 == {lookup[0, 2], lookup[2, 3]}  # avoids the slow link in bin 1


def test_transit_skims_count_transfers_and_fares(tmp_path):
    data = square_city()
    data["transit"]["max_access_walk_km"] = 0.5  # board and alight at the zone nodes only
    data["transit"]["lines"][0]["stops"] = [0, 1]
    data["transit"]["lines"][0]["park_and_ride"] = [0]
    data["transit"]["lines"].append(
        {
            "name": "b",
            "stops": [1, 3],
            "headway_min": 20,
            "speed_kmh": 20,
            "fare": 1.0,
            "vehicle_capacity": 50,
        }
    )
    sc = load_scenario(write(tmp_path, data))
    walk = sc.transit.walk
    od = 0 * sc.n_zones + 1  # zone 0 (node 0) -> zone 1 (node 3), change at node 1
    assert walk.available[od] and not walk.available[0]  # no transit inside a zone
    assert walk.transfers[od] == 1
    assert walk.fare[od] == pytest.approx(3.0)
    assert walk.wait_min[od] == pytest.approx(5.0 + 10.0)
    assert walk.ivt_min[od] == pytest.approx(6.0)
    assert walk.ivt_by_line[od] == pytest.approx([3.0, 3.0])
    assert walk.boardings_by_line[od] == pytest.approx([1.0, 1.0])
    # zone 1 -> zone 0 has no park-and-ride stop to drive to; zone 0 -> 1 does
    pnr = sc.transit.park_and_ride
    assert pnr.available[od] and pnr.access_node[od] == 0
    assert not pnr.available[1 * sc.n_zones + 0]
