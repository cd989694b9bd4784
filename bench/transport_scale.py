"""The transport simulation at scale: time per iteration and peak memory, up to 1,000,000 agents.

    python bench/transport_scale.py [--agents 200000,1000000] [--iterations 5] [--repeats 2]

Each case runs in a fresh process (so its peak resident memory is its own): the `large`
city (17 x 17 km, 81 zones, 2 rail + 8 bus lines) with the population resized to
``agents`` (capacities, ride-hail fleet and transit scale with it, as ``--agents`` does
for ``rlsys transport simulate``). Timed separately: building the scenario (population,
network, skims) and the iterations of a fresh run (iteration 0 included); one thread.
Printed: seconds to build, seconds per iteration (median over repeats), agent-iterations
per second, peak RSS (``getrusage``), and the mode shares of the last iteration (a sanity
check that a bigger sample is the same city). Writes bench/results/transport/scale.md.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(agents: int, iterations: int, repeats: int) -> dict:
    from envs.transport import TransportSim, load_scenario

    t0 = time.perf_counter()
    sim = TransportSim(load_scenario("large", agents=agents))
    build_s = time.perf_counter() - t0
    per_iter, shares = [], {}
    for rep in range(repeats):
        t0 = time.perf_counter()
        out, _ = sim.run(None, iterations, seed=rep + 1)
        per_iter.append((time.perf_counter() - t0) / iterations)
        shares = out[-1]["mode_shares"]
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "agents": sim.scenario.n_agents,
        "build_s": build_s,
        "s_per_iteration": statistics.median(per_iter),
        "peak_rss_mb": peak_kb / 1024,
        "shares": shares,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--agents", default="200000,1000000")
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "transport")
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.iterations, args.repeats)))
        return 0
    rows = []
    for agents in (int(a) for a in args.agents.split(",")):
        cmd = [sys.executable, __file__, "--one", str(agents)]
        cmd += ["--iterations", str(args.iterations), "--repeats", str(args.repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
        if out.returncode != 0:
            print(out.stderr[-3000:])
            return 1
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['agents']:>9,} agents: build {row['build_s']:.1f} s, "
            f"{row['s_per_iteration']:.2f} s/iteration, peak {row['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    modes = list(rows[0]["shares"])
    lines = [
        "# The transport simulation at scale (`large` city, one thread)",
        "",
        f"`python bench/transport_scale.py --agents {args.agents} --iterations "
        f"{args.iterations} --repeats {args.repeats}`: each case in a fresh process; "
        "seconds per iteration are medians over repeats of fresh runs; peak RSS of the "
        "process (scenario, simulation and Python).",
        "",
        "| agents | build s | s / iteration | agent-iterations / s | peak RSS MB | "
        + " | ".join(modes)
        + " |",
        "|---:|---:|---:|---:|---:|" + "---:|" * len(modes),
    ]
    for r in rows:
        rate = r["agents"] / r["s_per_iteration"]
        cells = " | ".join(f"{r['shares'][m]:.2f}" for m in modes)
        lines.append(
            f"| {r['agents']:,} | {r['build_s']:.1f} | {r['s_per_iteration']:.2f} | "
            f"{rate:,.0f} | {r['peak_rss_mb']:,.0f} | {cells} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
