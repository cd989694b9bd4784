"""The transport simulation as an external command, for ``rlsys calibrate --simulator``.

    python -m envs.transport.adapter --scenario small --asc ASC.yaml --seed 1 \\
        --iterations 18 --state DIR --shares OUT.yaml [--times OUT.yaml] [--last-k 5]

Runs (or, when ``DIR`` holds a state from an earlier call, continues) one simulation up
to ``--iterations`` in total and writes the mean mode shares (and mean travel times) of
its last ``--last-k`` iterations: what an outside simulator would do behind the adapter
file ``configs/calibration/simulators/transport.yaml``. Continuing is bit-identical to
one longer run (the state holds the RNG).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from envs.transport import MODES, TransportSim, load_scenario, read_asc
from envs.transport.sim import state_from_bytes, state_to_bytes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="urbansim-10k-like")
    p.add_argument("--asc", required=True, type=Path)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--iterations", type=int, required=True)
    p.add_argument("--state", required=True, type=Path)
    p.add_argument("--shares", required=True, type=Path)
    p.add_argument("--times", type=Path)
    p.add_argument("--last-k", type=int, default=5)
    args = p.parse_args(argv)
    sim = TransportSim(load_scenario(args.scenario))
    asc = read_asc(args.asc)
    args.state.mkdir(parents=True, exist_ok=True)
    state_file, history_file = args.state / "state.npz", args.state / "history.json"
    state, history = None, {"shares": [], "times": []}
    if state_file.exists():
        state = state_from_bytes(state_file.read_bytes())
        history = json.loads(history_file.read_text())
    todo = args.iterations - len(history["shares"])
    if todo > 0:
        out, state = sim.run(asc, todo, seed=None if state else args.seed, state=state)
        for o in out:
            history["shares"].append([o["mode_shares"][m] for m in MODES])
            t = o["mean_travel_time_min"]
            history["times"].append([np.nan if t.get(m) is None else t[m] for m in MODES])
        state_file.write_bytes(state_to_bytes(state))
        history_file.write_text(json.dumps(history))
    shares = np.mean(history["shares"][-args.last_k :], axis=0)
    args.shares.write_text(
        "".join(f"{m}: {float(v)!r}\n" for m, v in zip(MODES, shares, strict=True))
    )
    if args.times is not None:
        with np.errstate(all="ignore"):
            times = np.nanmean(np.array(history["times"][-args.last_k :], dtype=float), axis=0)
        lines = [f"{m}: {float(v)!r}\n" for m, v in zip(MODES, times, strict=True) if v > 0]
        args.times.write_text("".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
