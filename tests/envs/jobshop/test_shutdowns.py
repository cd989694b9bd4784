import numpy as np
import pytest

from envs.jobshop.shutdowns import RepairTime, ShutdownProcess


def _fixed(intervals):
    """A one-machine process with hand-set downtime intervals (then far-future ones)."""
    sp = ShutdownProcess(1, 0.5, seed=0)
    sp.set_intervals(0, [*intervals, (10**9, 10**9 + 1)])
    return sp


def test_finish_time_resume_and_restart():
    sp = _fixed([(5, 8), (12, 13)])
    # 0..5 works 5, down 5..8, works 8..12 (4 more = 9), down 12..13, 1 more -> 14
    assert sp.finish_time(0, 0, 10, resume=True) == 14
    # restart: needs 10 uninterrupted units: 13..23
    assert sp.finish_time(0, 0, 10, resume=False) == 23
    # finishing exactly when a failure starts is not interrupted (half-open)
    assert sp.finish_time(0, 0, 5) == 5
    assert sp.finish_time(0, 8, 4) == 12
    assert sp.finish_time(0, 3, 0) == 3


def test_down_until_half_open():
    sp = _fixed([(5, 8)])
    assert sp.down_until(0, 4) == -1
    assert sp.down_until(0, 5) == 8
    assert sp.down_until(0, 7) == 8
    assert sp.down_until(0, 8) == -1


def test_same_seed_same_path_any_query_order():
    a = ShutdownProcess(4, 0.05, seed=11)
    b = ShutdownProcess(4, 0.05, seed=11)
    c = ShutdownProcess(4, 0.05, seed=12)
    b.intervals(3, 5000)  # generate machine 3 far ahead first
    for i in range(4):
        assert a.intervals(i, 3000) == b.intervals(i, 3000)
    assert a.intervals(0, 3000) != c.intervals(0, 3000)


def test_hazard_and_repair_statistics():
    p, repair = 0.05, RepairTime("uniform", 1, 10)
    sp = ShutdownProcess(8, p, seed=0, repair=repair)
    horizon = 200_000
    ups, downs, total_down = [], [], 0
    for i in range(8):
        prev_end = 0
        for a, b in sp.intervals(i, horizon):
            ups.append(a - prev_end)
            downs.append(b - a)
            prev_end = b
    assert min(ups) >= 1 and min(downs) >= 1 and max(downs) <= 10
    assert np.mean(ups) == pytest.approx(1 / p, rel=0.03)
    assert np.mean(downs) == pytest.approx(5.5, rel=0.03)
    total_down = sum(downs)
    frac = total_down / (sum(ups) + total_down)
    assert frac == pytest.approx(5.5 / (1 / p + 5.5), rel=0.05)


def test_zero_probability_never_fails():
    sp = ShutdownProcess(3, 0.0, seed=0)
    assert sp.intervals(0, 10**6) == []
    assert sp.finish_time(1, 7, 5) == 12


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_bad_probability(p):
    with pytest.raises(ValueError, match="shutdown probability"):
        ShutdownProcess(2, p, seed=0)


@pytest.mark.parametrize("text", ["uniform:5", "uniform:5:2", "gauss:3", "constant:0"])
def test_bad_repair_spec(text):
    with pytest.raises(ValueError):
        RepairTime.parse(text)


def test_copy_is_independent_and_keeps_the_path():
    proc = ShutdownProcess(3, 0.1, seed=5)
    proc.down_until(0, 40)
    twin = proc.copy()
    assert [twin.down_until(0, t) for t in range(40, 400)] == [
        proc.down_until(0, t) for t in range(40, 400)
    ]
    assert twin.intervals(2, 900) == proc.intervals(2, 900)


@pytest.mark.parametrize("t", [0, 37, 250])
def test_resampled_keeps_the_past_and_redraws_the_future(t):
    proc = ShutdownProcess(4, 0.08, seed=1)
    futures = [proc.resampled(t, seed=100 + s) for s in range(20)]
    for i in range(4):
        past = [(a, b) for a, b in proc.intervals(i, t + 1)]
        for fut in futures:
            assert fut.intervals(i, t + 1) == past  # what is known at t, repairs included
            assert fut.down_until(i, t) == proc.down_until(i, t)
            # the future starts after t (or after the repair in progress)
            later = fut.intervals(i, t + 500)[len(past) :]
            assert all(a > t for a, _ in later)
    # futures differ from each other and from the true one
    paths = {tuple(f.intervals(0, t + 500)) for f in futures}
    assert len(paths) > 10 and tuple(proc.intervals(0, t + 500)) not in paths


def test_resampled_up_times_are_geometric_from_t():
    # memoryless: time from t to the next failure of a machine up at t ~ Geometric(p) >= 1
    p, t = 0.05, 100
    proc = ShutdownProcess(1, p, seed=0)
    while proc.down_until(0, t) >= 0:  # choose a t at which the machine is up
        t += 1
    gaps = []
    for s in range(4000):
        fut = proc.resampled(t, seed=s)
        nxt = [a for a, _ in fut.intervals(0, t + 10_000) if a > t][0]
        gaps.append(nxt - t)
    assert min(gaps) >= 1
    assert abs(np.mean(gaps) - 1 / p) < 0.06 / p


@pytest.mark.parametrize("resume", [True, False])
@pytest.mark.parametrize("prob", [0.01, 0.05, 0.3])
def test_safe_until_covers_every_query_the_compiled_loop_makes(prob, resume):
    """Up to `safe_until(work)`, the intervals drawn so far answer down_until and the
    finish time of any work <= `work` started on an up machine without drawing more (the
    compiled loop relies on it), with the answers of the process with more drawn."""
    from envs.jobshop import kernels

    rng = np.random.default_rng(0)
    checked = 0
    for seed in range(20):
        sp = ShutdownProcess(3, prob, seed)
        # restart needs an uninterrupted up-time of `work` (the simulator refuses odds
        # below 1e-6); keep its waits short here
        longest = 60 if resume else max(2, int(np.log(0.05) / np.log(1 - prob)))
        work = int(rng.integers(1, longest))
        while sp.safe_until(work, resume) < 100:  # as the loop does: draw until it reaches
            sp._extend(0)
        safe = sp.safe_until(work, resume)
        more = sp.copy()
        more._extend(0)
        for t in sorted(rng.integers(0, safe + 1, size=30).tolist()) + [safe]:
            for i in range(3):
                w = int(rng.integers(0, work + 1))
                ptr = sp.ptr.copy()
                r = kernels.down_until(sp.starts, sp.ends, sp.count, ptr, i, t)
                assert r == more.down_until(i, t)
                if r >= 0:  # nothing starts on a machine that is down
                    continue
                end = kernels.finish_time(sp.starts, sp.ends, sp.count, ptr, i, t, w, resume)
                assert end >= t + w
                assert end == more.finish_time(i, t, w, resume)
                checked += 1
    assert checked > 500


def test_down_between_is_the_overlap_with_the_intervals():
    rng = np.random.default_rng(0)
    for seed in range(5):
        proc = ShutdownProcess(3, 0.1, seed)
        for _ in range(200):
            i = int(rng.integers(3))
            lo, hi = sorted(int(x) for x in rng.integers(0, 400, size=2))
            by_hand = sum(max(0, min(b, hi) - max(a, lo)) for a, b in proc.intervals(i, hi))
            assert proc.down_between(i, lo, hi) == by_hand
    assert ShutdownProcess(3, 0.1, 0).down_between(0, 50, 50) == 0
    assert ShutdownProcess(3, 0.0, 0).down_between(0, 0, 10_000) == 0


@pytest.mark.parametrize("repair", ["geometric:5", "uniform:2:9", "constant:4"])
def test_a_long_path_is_the_chunk_by_chunk_path(repair):
    """Long paths are drawn several chunks at a time; the values must be those of one
    (machines, 64) draw per chunk from the two streams, the path's definition."""
    m, chunks = 4, 40
    proc = ShutdownProcess(m, 0.05, seed=11, repair=RepairTime.parse(repair))
    horizon = 0
    while proc.count.min() < chunks * 64:
        horizon += 5_000
        proc.intervals(int(np.argmin(proc.count)), horizon)
    up_seq, repair_seq = np.random.SeedSequence(11).spawn(2)
    up_rng, rep_rng = np.random.default_rng(up_seq), np.random.default_rng(repair_seq)
    up = np.concatenate([up_rng.geometric(0.05, size=(m, 64)) for _ in range(chunks)], axis=1)
    rep = np.concatenate([proc.repair.sample(rep_rng, (m, 64)) for _ in range(chunks)], axis=1)
    ends = np.cumsum(up + rep, axis=1)
    n = chunks * 64
    assert (proc.ends[:, :n] == ends).all()
    assert (proc.starts[:, :n] == ends - rep).all()


def test_schedule_downtime_lists_every_machines_intervals_in_the_schedule_contract():
    sp = ShutdownProcess(3, 0.1, seed=4)
    listed = sp.schedule_downtime(200)
    assert listed, "p = 0.1 over 200 units: some downtime expected"
    for i in range(3):
        mine = [(d["start"], d["end"]) for d in listed if d["machine"] == i]
        assert mine == sp.intervals(i, 200)
    assert {tuple(sorted(d)) for d in listed} == {("end", "machine", "start")}
    assert ShutdownProcess(3, 0.0, seed=4).schedule_downtime(200) == []
