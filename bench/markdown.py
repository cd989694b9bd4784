"""Markdown for the results files of the ``bench/`` scripts that compare our code with a
peer's: where and what ran (the header), tables, numbers."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def machine_facts(
    code_paths: list[str], libraries: dict[str, str], load: bool = False
) -> list[str]:
    """Markdown bullets: date, Python and ``libraries`` (name -> version), CPU model, the
    load average when ``load``, and our commit, with the uncommitted files under
    ``code_paths`` (the code the benchmark measures) named."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", *code_paths],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        if dirty:
            commit += " + uncommitted changes in " + ", ".join(line[3:] for line in dirty)
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    versions = ", ".join(f"{name} {v}" for name, v in libraries.items())
    facts = [
        f"- date: {now}",
        f"- python {platform.python_version()}, {versions}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores visible; one thread used "
        "(OMP/MKL/OPENBLAS_NUM_THREADS=1), not pinned",
    ]
    if load:
        avg = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
        facts.append(f"- load average (1 / 5 / 15 min) at the start: {avg}")
    return [*facts, f"- our code: commit {commit}"]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A markdown table, first column left-aligned, the others right-aligned."""
    align = [":--"] + ["--:"] * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(x: float, digits: int = 0) -> str:
    """A number with thousands separators."""
    return f"{x:,.{digits}f}"
