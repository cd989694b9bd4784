"""How much the shipped policy leans on the future downtime inside one feature.

    python bench/jobshop_obs_peek.py [--instances la01-la10] [--probs 0.05,0.1] [--seeds 0-2]

The observation's "remaining processing" of an operation in progress is its end time
minus now, and the simulator computes that end from the whole downtime path, so the
feature counts failures that have not happened yet. This runs the shipped policy twice on
the same seeds: as shipped, and with that feature replaced by what a scheduler knows now
(the work left plus the repair in progress, if the machine is down), and prints the mean
makespans and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import envs.jobshop.env as env_module  # noqa: E402
from envs.jobshop.instance import load_instance  # noqa: E402
from envs.jobshop.sim import PROCESSING  # noqa: E402
from rlsys.jobshop.evaluate import parse_instances, parse_probs, parse_seeds, run_policy  # noqa: E402

shipped_observe = env_module.observe


def known_now_observe(sim, topo):
    obs = shipped_observe(sim, topo)
    if not sim.shutdowns.active:
        return obs
    t, K = sim.t, sim.n_ops
    for j in range(sim.n_jobs):
        if sim.job_state[j] != PROCESSING:
            continue
        repaired = sim.shutdowns.down_until(sim.job_machine[j], t)
        known = sim.work_left(j) + (repaired - t if repaired >= 0 else 0)
        obs["op_features"][j * K + sim.next_op[j] - 1, 9] = known / topo.time_scale
    return obs


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", default=",".join(f"la{i:02d}" for i in range(1, 11)))
    p.add_argument("--probs", default="0.05,0.1")
    p.add_argument("--seeds", default="0-2")
    args = p.parse_args()
    insts = [load_instance(n) for n in parse_instances(args.instances)]
    seeds = parse_seeds(args.seeds)
    for prob in parse_probs(args.probs):
        means = {}
        for label, observe in (("as shipped", shipped_observe), ("known now", known_now_observe)):
            env_module.observe = observe  # GNNDispatcher reads it at every call
            spans = [run_policy(i, "pretrained", prob, s).makespan for i in insts for s in seeds]
            means[label] = statistics.mean(spans)
        env_module.observe = shipped_observe
        ratio = means["known now"] / means["as shipped"]
        print(
            f"p={prob:g}: as shipped {means['as shipped']:.1f}, known now "
            f"{means['known now']:.1f} ({100 * (ratio - 1):+.2f} %)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
