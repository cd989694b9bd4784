"""BOHB proposal time: hpbandster's config generator loop against
``rlsys.tuner.searchers.vectorized_bohb``, side by side in the same run.

    python bench/bohb_proposals.py [--proposals 40] [--out FILE.md]

Both generators get the same 80 results of a 7-dimensional bowl at one budget (the
calibration's seven free ASCs, bounds +-10), hence the same KDEs; then both propose from
the same numpy seed with random_fraction 0 (only model-based picks, the expensive kind).
Reports milliseconds per proposal (median over the proposals) and checks that the two
proposed the same configurations.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlsys.tuner.searchers import config_space, vectorized_bohb  # noqa: E402

SPACE = {f"x{i}": (-10.0, 10.0) for i in range(7)}


def fitted(factory, n: int = 80):
    from hpbandster.core.dispatcher import Job

    gen = factory(config_space(SPACE, seed=0), random_fraction=0.0)
    rng = np.random.default_rng(0)
    for i in range(n):
        cfg = {k: float(v) for k, v in zip(SPACE, rng.uniform(-10, 10, len(SPACE)), strict=True)}
        job = Job((0, 0, i), config=cfg, budget=18)
        job.result = {"loss": float(np.abs(np.array(list(cfg.values())) - 1.5).sum()), "info": {}}
        gen.new_result(job)
    return gen


def propose(factory, count: int) -> tuple[list[float], list[dict]]:
    gen = fitted(factory)
    np.random.seed(1)
    times, configs = [], []
    for _ in range(count):
        t0 = time.perf_counter()
        cfg, info = gen.get_config(18)
        times.append(time.perf_counter() - t0)
        assert info["model_based_pick"]
        configs.append({k: float(v) for k, v in cfg.items()})
    return times, configs


def main() -> int:
    from hpbandster.optimizers.config_generators.bohb import BOHB

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--proposals", type=int, default=40)
    ap.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "calibration" / "bohb_proposals.md"
    )
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    loop_t, loop_c = propose(BOHB, args.proposals)
    vec_t, vec_c = propose(vectorized_bohb, args.proposals)
    loop_ms, vec_ms = 1e3 * statistics.median(loop_t), 1e3 * statistics.median(vec_t)
    same = sum(a == b for a, b in zip(loop_c, vec_c, strict=True))
    text = (
        "# BOHB proposals: hpbandster's loop against the vectorised generator\n\n"
        f"`python bench/bohb_proposals.py --proposals {args.proposals}`: 7 dimensions, "
        "80 results at one budget, 64 candidates per proposal (hpbandster's default), "
        "model-based picks only, one thread.\n\n"
        "| generator | ms per proposal (median) |\n|---|---:|\n"
        f"| hpbandster BOHB (loop) | {loop_ms:.1f} |\n"
        f"| vectorized_bohb | {vec_ms:.1f} |\n"
        f"| ratio | {loop_ms / vec_ms:.1f}x |\n\n"
        f"Identical proposals (same seed, same KDEs): {same} of {args.proposals}.\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0 if same == args.proposals else 1


if __name__ == "__main__":
    sys.exit(main())
