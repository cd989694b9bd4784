"""Gantt chart of a schedule in the schedule-JSON contract (specs/jobshop.md).

One row per machine; time (time units) on the x axis. Per operation: processing
``[start, end)`` as a solid bar in the job's colour, blocking ``[end, leave)`` as a
lighter hatched bar in the same colour. Machine downtime ``[start, end)`` is drawn on
top, cross-hatched, so that a failure hiding part of an operation stays visible.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

_BAR_HEIGHT = 0.8
_DOWNTIME_FACE = "#555555"
_DOWNTIME_EDGE = "#b2182b"


def _job_colour(job: int) -> tuple[float, float, float, float]:
    """RGBA colour of a job. tab20 holds 10 hues in dark/light pairs; taking the dark
    ones first keeps neighbouring job numbers apart, and a light bar is not mistaken
    for a faded (blocking) dark one. Colours repeat every 20 jobs; the number written
    in the bar tells such jobs apart."""
    index = job % 20
    return colormaps["tab20"](2 * index if index < 10 else 2 * (index - 10) + 1)


def _faded(colour: tuple[float, ...], weight: float = 0.3) -> tuple[float, float, float]:
    """``colour`` mixed with white; ``weight`` is the share of the colour."""
    return tuple(weight * c + (1.0 - weight) for c in colour[:3])


def plot_schedule(schedule: dict, path: str | Path, title: str | None = None) -> Path:
    """Draw ``schedule`` as a Gantt chart and save it as a PNG at ``path``.

    Args:
        schedule: a dict with ``n_machines``, ``makespan``, ``operations`` (each with
            ``job``, ``machine``, ``start``, ``end``, ``leave``) and optionally
            ``downtime`` (each with ``machine``, ``start``, ``end``); times in time units.
        path: output file; parent folders are created.
        title: figure title; defaults to the instance name and the makespan.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_machines = int(schedule["n_machines"])
    makespan = int(schedule["makespan"])
    ops = schedule["operations"]
    downtime = schedule.get("downtime", [])

    # Height grows with the machine count so rows stay legible up to 20+ machines.
    # A bare Figure renders with Agg and touches no pyplot state: headless in tests,
    # servers and Ray workers, and it never switches the backend of a notebook user.
    fig = Figure(figsize=(12, 1.2 + 0.45 * n_machines))
    ax = fig.add_subplot()
    horizon = max(
        [makespan, 1] + [int(op["leave"]) for op in ops] + [int(d["end"]) for d in downtime]
    )
    # Label only bars wide enough for the digits (a character at 8 pt takes about 0.6%
    # of the 12-inch axis).
    min_label_width = 0.006 * horizon
    # Outlines are a fixed number of pixels; on bars only a few pixels wide they would
    # hide the job colour, so such bars go without.
    min_outlined_width = 0.004 * horizon

    for op in ops:
        job, row = int(op["job"]), int(op["machine"])
        start, end, leave = int(op["start"]), int(op["end"]), int(op["leave"])
        colour = _job_colour(job)
        y = row - _BAR_HEIGHT / 2
        if end > start:
            ax.broken_barh(
                [(start, end - start)],
                (y, _BAR_HEIGHT),
                facecolors=colour,
                edgecolors="black",
                linewidth=0.4 if end - start >= min_outlined_width else 0.0,
            )
            if end - start >= min_label_width * len(str(job)):
                # Above the downtime layer, on a pale box: readable on any job colour and
                # when a failure covers the middle of the bar.
                ax.text(
                    (start + end) / 2,
                    row,
                    str(job),
                    ha="center",
                    va="center",
                    fontsize=8,
                    zorder=5,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.7},
                )
        if leave > end:
            ax.broken_barh(
                [(end, leave - end)],
                (y, _BAR_HEIGHT),
                facecolors=_faded(colour),
                edgecolors=colour,
                hatch="///",
                linewidth=0.4 if leave - end >= min_outlined_width else 0.0,
            )

    for d in downtime:
        start, end = int(d["start"]), int(d["end"])
        ax.broken_barh(
            [(start, end - start)],
            (int(d["machine"]) - _BAR_HEIGHT / 2, _BAR_HEIGHT),
            facecolors=_DOWNTIME_FACE,
            edgecolors=_DOWNTIME_EDGE,
            hatch="xx",
            linewidth=0.6,
            alpha=0.9,
            zorder=3,
        )

    ax.axvline(makespan, color="black", linestyle="--", linewidth=1.0, zorder=4)
    ax.set_xlim(0, horizon * 1.02)
    ax.set_ylim(n_machines - 0.5, -0.5)  # machine 0 on top
    ax.set_yticks(range(n_machines))
    ax.set_yticklabels([str(i) for i in range(n_machines)])
    ax.set_xlabel("time")
    ax.set_ylabel("machine")
    ax.grid(axis="x", linestyle=":", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_title(title or f"{schedule.get('instance', '')}  makespan {makespan}".strip())
    legend = [
        Patch(facecolor=_job_colour(0), edgecolor="black", label="processing (colour = job)"),
        Patch(
            facecolor=_faded(_job_colour(0)),
            edgecolor=_job_colour(0),
            hatch="///",
            label="blocking",
        ),
        Patch(facecolor=_DOWNTIME_FACE, edgecolor=_DOWNTIME_EDGE, hatch="xx", label="downtime"),
        Line2D([0], [0], color="black", linestyle="--", label=f"makespan = {makespan}"),
    ]
    ax.legend(
        handles=legend,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
        frameon=False,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    return path
