"""Calibration reach of the transport simulation: the share of each non-car mode when its
ASC alone is set to -10, 0 or +10 (every other ASC 0).

    python bench/transport_reach.py [--scenario urbansim-10k-like] [--iterations 20] [--seed 1]

Each cell is one fresh run (mean share of the last 5 iterations, percent). Writes
``bench/results/transport/reach.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from envs.transport import MODES, TransportSim, load_scenario  # noqa: E402

LEVELS = (-10.0, 0.0, 10.0)


def mean_shares(sim: TransportSim, asc: dict, iterations: int, seed: int) -> dict[str, float]:
    out, _ = sim.run(asc, iterations, seed=seed)
    return {m: float(np.mean([o["mode_shares"][m] for o in out[-5:]])) for m in MODES}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="urbansim-10k-like")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "transport")
    args = ap.parse_args()
    sim = TransportSim(load_scenario(args.scenario))
    base = mean_shares(sim, {}, args.iterations, args.seed)
    lines = [
        f"# Calibration reach ({args.scenario}, {args.iterations} iterations, seed "
        f"{args.seed}, mean share of the last 5 iterations, %)",
        "",
        f"`python bench/transport_reach.py --scenario {args.scenario} --iterations "
        f"{args.iterations} --seed {args.seed}`",
        "",
        "All ASCs 0: " + ", ".join(f"{m} {base[m]:.2f}" for m in MODES) + ".",
        "",
        "One ASC at a time, every other ASC 0:",
        "",
        "| mode | " + " | ".join(f"ASC {v:+g}" for v in LEVELS) + " |",
        "|---|" + "---:|" * len(LEVELS),
    ]
    for mode in MODES:
        if mode == "car":
            continue  # the reference mode: its ASC is 0
        cells = [
            base[mode] if v == 0 else mean_shares(sim, {mode: v}, args.iterations, args.seed)[mode]
            for v in LEVELS
        ]
        lines.append(f"| {mode} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    text = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "reach.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
