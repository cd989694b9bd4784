"""The job-shop part of `rlsys run --suite full`: every policy of the suite (the shipped
GNN-PPO policy and the dispatching rules) on la01-la10 under random machine shutdowns.

    python bench/jobshop_rules.py [--suite full] [--out bench/results/jobshop]

Runs exactly the suite's ``jobshop_rules`` section (``rlsys.run.run_jobshop_rules``, one
Ray task per instance x seed on a local Ray) and writes ``rules_full.md`` (the section of
the run report: number of schedules, invalid ones, wall time, the mean-makespan table and
the gap to the BWS reference at p = 0), ``rules_full.png`` and ``rules_full.csv``.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlsys.config import load_config  # noqa: E402
from rlsys.run import SuiteConfig, run_jobshop_rules, suite_path  # noqa: E402
from rlsys.runtime import init_ray  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="full")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "jobshop")
    args = ap.parse_args()
    cfg = load_config(SuiteConfig, suite_path(args.suite))
    if cfg.jobshop_rules is None:
        raise SystemExit(f"suite {args.suite} has no jobshop_rules section")
    ray = init_ray()
    cpus = int(ray.cluster_resources().get("CPU", 0))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        section = run_jobshop_rules(cfg.jobshop_rules, Path(tmp), None)
        shutil.copy(Path(tmp) / "jobshop_rules.png", args.out / "rules_full.png")
        shutil.copy(Path(tmp) / "jobshop_rules.csv", args.out / "rules_full.csv")
    header = (
        f"`python bench/jobshop_rules.py --suite {args.suite}` (the job-shop part of "
        f"`rlsys run --suite {args.suite}`), local Ray with {cpus} CPUs, "
        f"Python {platform.python_version()}.\n\n"
    )
    # the report's plots live in the run directory; here only the rule comparison is kept
    section = "\n".join(x for x in section.splitlines() if not x.startswith("![")).rstrip()
    section += "\n\n![rules](rules_full.png)\n"
    (args.out / "rules_full.md").write_text(header + section)
    print(header + section)
    print(f"wrote {args.out / 'rules_full.md'}, rules_full.png, rules_full.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
