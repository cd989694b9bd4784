"""A scripted faulty simulator for the external-simulator tests.

    python faulty_sim.py FAULT COUNTER --asc F --shares F [--times F] ...

Runs the transport adapter (``envs.transport.adapter``, the `small` scenario) but,
on the calls that ``FAULT`` names, misbehaves first. ``COUNTER`` is a file holding how
many times the script has run (shared by all its calls in a test).

FAULT: ``crash-first`` (exit 3 on the first call), ``hang-first`` (sleep past any
timeout on the first call), ``garbage-first`` (first call: a share that is not a
number), ``missing-first`` (first call: no ride_hail share), ``sum-first`` (first call:
shares summing to 90), ``slow`` (every call sleeps 0.3 s, then works), ``always-garbage``
(every call writes shares summing to 90), ``ok``.
"""

from __future__ import annotations

import fcntl
import sys
import time
from pathlib import Path


def bump(counter: Path) -> int:
    """Increment the shared call counter (under a lock: workers run in parallel)."""
    with open(counter, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read().strip() or 0) + 1
        f.seek(0)
        f.truncate()
        f.write(str(n))
        return n


def main() -> int:
    fault, counter, rest = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    n = bump(counter)
    shares = Path(rest[rest.index("--shares") + 1])
    first = n == 1
    if fault == "crash-first" and first:
        print("simulated crash: out of licences", file=sys.stderr)
        return 3
    if fault == "hang-first" and first:
        time.sleep(600)
    if fault == "slow":
        time.sleep(0.3)
    from envs.transport.adapter import main as adapter

    code = adapter(["--scenario", "small", *rest])
    text = shares.read_text()
    if fault == "garbage-first" and first:
        shares.write_text(text.replace("walk:", "walk: lots #", 1))
    elif fault == "missing-first" and first:
        shares.write_text(
            "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("ride_hail:"))
        )
    elif (fault == "sum-first" and first) or fault == "always-garbage":
        lines = [ln.split(":") for ln in text.splitlines()]
        shares.write_text("".join(f"{m}: {0.9 * float(v)}\n" for m, v in lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
