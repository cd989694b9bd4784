"""The day loop of envs/transport/sim.py on the `small` scenario (1,000 agents)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from envs.transport import (
    MODES,
    TransportSim,
    load_scenario,
    load_state,
    save_state,
    state_from_bytes,
    state_to_bytes,
)


@pytest.fixture(scope="module")
def sim() -> TransportSim:
    return TransportSim(load_scenario("small"))


def tail_share(outputs: list[dict], mode: str, last: int = 4) -> float:
    return float(np.mean([o["mode_shares"][mode] for o in outputs[-last:]]))


def test_agents_are_conserved(sim):
    outputs, state = sim.run(None, 6, seed=3)
    assert [o["iteration"] for o in outputs] == list(range(6))
    for out in outputs:
        assert set(out["mode_shares"]) == set(MODES)
        assert sum(out["mode_shares"].values()) == pytest.approx(100.0, abs=1e-9)
        assert all(s >= 0 for s in out["mode_shares"].values())
    counts = np.bincount(state.mode, minlength=len(MODES))
    assert counts.sum() == sim.scenario.n_agents
    final = [100.0 * c / counts.sum() for c in counts]
    assert final == pytest.approx([outputs[-1]["mode_shares"][m] for m in MODES])


def test_everyone_chooses_first_then_a_share_replans(sim):
    outputs, _ = sim.run(None, 5, seed=0)
    n = sim.scenario.n_agents
    share = sim.scenario.config.simulation.replan_share
    assert outputs[0]["replanned"] == n
    for out in outputs[1:]:
        assert abs(out["replanned"] - share * n) < 5 * np.sqrt(share * (1 - share) * n)


def test_outputs_are_json_and_physical(sim):
    outputs, _ = sim.run(None, 3, seed=0)
    json.dumps(outputs)  # plain types only
    last = outputs[-1]
    assert last["vmt"] > 0
    assert last["ride_hail_wait_min"] >= sim.scenario.config.ride_hail.base_wait_min
    for mode, minutes in last["mean_travel_time_min"].items():
        if last["mode_shares"][mode] > 0:
            assert minutes > 0
        else:
            assert minutes is None


def test_same_seed_same_output_other_seed_differs(sim):
    a, sa = sim.run({"walk": 1.0}, 5, seed=11)
    b, sb = sim.run({"walk": 1.0}, 5, seed=11)
    c, _ = sim.run({"walk": 1.0}, 5, seed=12)
    assert a == b
    assert np.array_equal(sa.mode, sb.mode)
    assert a != c


@pytest.mark.parametrize("mode", [m for m in MODES if m != "car"])
def test_raising_an_asc_raises_that_share(sim, mode):
    shares = []
    for asc in (-4.0, 0.0, 4.0, 8.0):
        outputs, _ = sim.run({mode: asc}, 8, seed=0)
        shares.append(tail_share(outputs, mode))
    assert shares[-1] > shares[0] + 0.5, shares
    for low, high in zip(shares, shares[1:], strict=False):
        assert high >= low, shares
        if low > 0.5:
            assert high > low, shares


def test_raising_another_asc_lowers_car(sim):
    base, _ = sim.run(None, 8, seed=0)
    up, _ = sim.run({"ride_hail": 3.0}, 8, seed=0)
    assert tail_share(up, "car") < tail_share(base, "car")


def test_more_demand_makes_car_trips_longer():
    # the same city (same capacities) with twice the commuters
    base = TransportSim(load_scenario("small"))
    busy = TransportSim(load_scenario("small", agents=2000, scale_capacity=False))
    car = {"walk": -10.0, "bike": -10.0, "walk_transit": -10.0, "drive_transit": -10.0}
    out_base, _ = base.run(car, 5, seed=0)
    out_busy, _ = busy.run(car, 5, seed=0)
    t_base = out_base[-1]["mean_travel_time_min"]["car"]
    t_busy = out_busy[-1]["mean_travel_time_min"]["car"]
    assert t_busy > 1.1 * t_base
    assert out_busy[-1]["link_volumes"]["max_vc"] > out_base[-1]["link_volumes"]["max_vc"]
    assert out_busy[-1]["vmt"] > 1.5 * out_base[-1]["vmt"]


def test_congestion_feeds_back_into_link_times(sim):
    _, state = sim.run(None, 4, seed=0)
    free = sim.scenario.net.free_flow_min
    assert np.all(state.link_time_min >= free - 1e-12)
    assert state.link_time_min.max() > 1.05 * free.max()


def test_continuation_equals_uninterrupted_run(sim, tmp_path):
    asc = {"ride_hail": 1.0, "walk_transit": -0.5}
    whole, whole_state = sim.run(asc, 10, seed=5)
    first, state = sim.run(asc, 4, seed=5)
    path = tmp_path / "state.npz"
    save_state(state, path)
    second, final = sim.run(asc, 6, state=load_state(path))
    assert first + second == whole
    assert final.iteration == whole_state.iteration == 10
    for key in ("mode", "link_time_min", "ride_hail_wait_min", "crowding"):
        assert np.array_equal(getattr(final, key), getattr(whole_state, key))
    assert final.rng_state == whole_state.rng_state


def test_run_does_not_modify_the_given_state(sim):
    _, state = sim.run(None, 2, seed=1)
    before = state_to_bytes(state)
    sim.run(None, 2, state=state)
    assert state_to_bytes(state) == before
    assert state_to_bytes(state_from_bytes(before)) == before


def test_state_checks(sim):
    _, state = sim.run(None, 1, seed=1)
    with pytest.raises(ValueError, match="differs from the state's seed"):
        sim.run(None, 1, seed=2, state=state)
    other = TransportSim(load_scenario("small", agents=500))
    with pytest.raises(ValueError, match="another scenario"):
        other.run(None, 1, state=state)
    with pytest.raises(ValueError, match="not a transport simulation state"):
        state_from_bytes(b"not an npz")


def test_bad_run_arguments(sim):
    with pytest.raises(ValueError, match="car ASC"):
        sim.run({"car": 1.0}, 1, seed=0)
    with pytest.raises(ValueError, match="unknown mode 'taxi'"):
        sim.run({"taxi": 1.0}, 1, seed=0)
    with pytest.raises(ValueError, match="iterations"):
        sim.run(None, -1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sim.run(None, 1)


def test_bike_can_be_switched_off(sim):
    outputs, _ = sim.run({"bike": -10.0}, 6, seed=0)
    assert tail_share(outputs, "bike") < 0.5
