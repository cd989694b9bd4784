"""Targets, L1 and the ASC update rules (rlsys/calibration/objective.py)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.transport import MODES
from rlsys.calibration.objective import (
    BEAM_URBANSIM_10K,
    FREE_MODES,
    SecantStep,
    fixed_point_step,
    l1,
    mean_shares,
    read_targets,
    target_vector,
    validate_targets,
)


def test_read_targets_yaml_csv_and_missing_modes(tmp_path):
    y = tmp_path / "t.yaml"
    y.write_text("car: 70\nwalk: 20\nbike: 10\n")
    t = read_targets(y)
    assert t["car"] == 70 and t["ride_hail"] == 0.0 and set(t) == set(MODES)
    c = tmp_path / "t.csv"
    c.write_text("mode,share\ncar,70\nwalk,20\nbike,10\n")
    assert read_targets(c) == t
    assert read_targets("configs/calibration/beam-urbansim-10k.yaml") == BEAM_URBANSIM_10K


@pytest.mark.parametrize(
    "text, message",
    [
        ("car: 70\nwalk: 20\n", "sum to 100"),
        ("car: 70\nboat: 30\n", "unknown mode 'boat'"),
        ("car: 110\nwalk: -10\n", "must be >= 0"),
        ("car: lots\n", "must be a number"),
        ("- car\n", "expected a map"),
        ("car: [70\n", "targets file"),
    ],
)
def test_bad_targets_say_what_is_wrong(tmp_path, text, message):
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_targets(p)


def test_targets_within_half_a_point_are_accepted():
    assert validate_targets({"car": 99.6})["car"] == 99.6
    with pytest.raises(ValueError, match="sum to 100"):
        validate_targets({"car": 99.4})
    with pytest.raises(ValueError, match="not found"):
        read_targets("no/such/file.yaml")


def test_l1_and_mean_of_last_k():
    history = [[10.0] * 8, [20.0] * 8, [30.0] * 8]
    assert mean_shares(history, 2).tolist() == [25.0] * 8
    assert mean_shares(history, 10).tolist() == [20.0] * 8
    target = target_vector(BEAM_URBANSIM_10K)
    assert l1(target, target) == 0.0
    shifted = target.copy()
    shifted[MODES.index("car")] -= 2.0
    shifted[MODES.index("walk")] += 2.0
    assert l1(target, shifted) == pytest.approx(4.0)


def test_fixed_point_rule_and_epsilon_for_zero_targets():
    asc = np.zeros(len(FREE_MODES))
    target = target_vector({"car": 60, "walk": 20, "bike": 0, "ride_hail": 20})
    shares = target_vector({"car": 70, "walk": 10, "bike": 10, "ride_hail": 10})
    new = fixed_point_step(asc, shares, target, damping=0.5, epsilon=0.05)
    walk = FREE_MODES.index("walk")
    assert new[walk] == pytest.approx(0.5 * np.log(2.0))
    assert new[FREE_MODES.index("bike")] == pytest.approx(0.5 * np.log(0.05 / 10))
    far = fixed_point_step(asc, shares, target, damping=100.0, bounds=(-10, 10))
    assert far.min() >= -10 and far.max() <= 10


def logit_shares(asc_free: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """A heterogeneous-looking logit: each mode responds with its own gain."""
    v = np.zeros(len(MODES))
    idx = [MODES.index(m) for m in FREE_MODES]
    v[idx] = gain * asc_free + np.linspace(-1, 1, len(FREE_MODES))
    e = np.exp(v - v.max())
    return 100 * e / e.sum()


def test_secant_step_learns_weak_responses_faster_than_the_plain_rule():
    gain = np.array([0.4, 0.5, 0.6, 0.45, 0.7, 0.5, 0.4])
    truth = np.array([1.0, -2.0, 0.5, 1.5, -0.5, 0.8, 2.0])
    target = logit_shares(truth, gain)
    plain, sec = np.zeros(7), np.zeros(7)
    stepper = SecantStep()
    for _ in range(6):
        plain = fixed_point_step(plain, logit_shares(plain, gain), target)
        sec = stepper.step(sec, logit_shares(sec, gain), target)
    err_plain = l1(target, logit_shares(plain, gain))
    err_sec = l1(target, logit_shares(sec, gain))
    assert err_sec < 0.1 and err_sec < err_plain / 5
    again = SecantStep()
    again.load(stepper.to_dict())
    assert np.allclose(again.gain, stepper.gain)


def test_time_targets_read_validate_and_score(tmp_path):
    from rlsys.calibration.objective import (
        mean_times,
        objective,
        read_time_targets,
        time_error,
        time_vector,
    )

    y = tmp_path / "times.yaml"
    y.write_text("car: 20\nwalk_transit: 40.5\n")
    c = tmp_path / "times.csv"
    c.write_text("mode,minutes\ncar,20\nwalk_transit,40.5\n")
    assert read_time_targets(y) == read_time_targets(c) == {"car": 20.0, "walk_transit": 40.5}
    for text, message in (
        ("car: 0\n", "must be > 0"),
        ("boat: 3\n", "unknown mode"),
        ("car: fast\n", "must be a number"),
        ("[1, 2]\n", "expected a map"),
    ):
        y.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_time_targets(y)
    with pytest.raises(ValueError, match="not found"):
        read_time_targets(tmp_path / "missing.yaml")

    target = time_vector({"car": 20.0, "walk_transit": 40.0})
    nan = float("nan")
    # per iteration, MODES order; a mode nobody used is NaN and is skipped in the mean
    history = [[nan] * 8, [nan] * 8]
    car, wt = MODES.index("car"), MODES.index("walk_transit")
    history[0][car], history[1][car] = 21.0, 23.0
    history[1][wt] = 30.0
    times = mean_times(history, last_k=2)
    assert times[car] == pytest.approx(22.0) and times[wt] == pytest.approx(30.0)
    assert np.isnan(times[MODES.index("bike")])
    # mean absolute percentage error over the targeted modes: (10 % + 25 %) / 2
    assert time_error(target, times) == pytest.approx(17.5)
    times[wt] = nan  # a targeted mode nobody used counts as 100 %
    assert time_error(target, times) == pytest.approx((10.0 + 100.0) / 2)
    assert time_error(time_vector({}), times) is None
    assert objective(3.0, None, 2.0) == 3.0
    assert objective(3.0, 17.5, 0.5) == pytest.approx(11.75)


def test_scorer_averages_replications():
    from rlsys.calibration.trainables import Scorer, replication_seeds

    assert replication_seeds(7, 3) == [7, 1007, 2007] and replication_seeds(7, 0) == [7]
    target = [100.0 / 8] * 8
    score = Scorer({"target": target, "last_k": 1, "time_targets": {"car": 10.0}})
    a = [[20.0, 5.0] + [75.0 / 6] * 6]
    b = [[10.0, 15.0] + [75.0 / 6] * 6]
    nan = float("nan")
    ta, tb = [[nan, nan, 8.0] + [nan] * 5], [[nan, nan, nan] + [nan] * 5]
    out = score([a, b], [ta, tb])
    assert out["shares"]["walk"] == pytest.approx(15.0) and out["shares"]["bike"] == 10.0
    assert out["l1"] == pytest.approx(2.5 + 2.5)
    assert out["times"]["car"] == pytest.approx(8.0)  # the replication without car skipped
    assert out["time_error"] == pytest.approx(20.0)
    assert out["objective"] == pytest.approx(25.0)


def test_shipped_hidden_targets_are_what_the_simulation_gives():
    # configs/calibration/hidden-urbansim-10k-*.yaml back a README table: they must stay
    # the shares and times of the hidden ASCs (seed 1, mean of the last 5 of 18)
    from envs.transport import TransportSim, load_scenario
    from rlsys.calibration.config import CONFIG_DIR
    from rlsys.calibration.objective import HIDDEN_ASC, read_time_targets

    out, _ = TransportSim(load_scenario("urbansim-10k-like")).run(HIDDEN_ASC, 18, seed=1)
    shares = read_targets(CONFIG_DIR / "hidden-urbansim-10k-shares.yaml")
    times = read_time_targets(CONFIG_DIR / "hidden-urbansim-10k-times.yaml")
    for m in MODES:
        assert shares[m] == pytest.approx(np.mean([o["mode_shares"][m] for o in out[-5:]]))
    for m, minutes in times.items():
        simulated = np.mean([o["mean_travel_time_min"][m] for o in out[-5:]])
        assert minutes == pytest.approx(simulated, abs=0.005)
