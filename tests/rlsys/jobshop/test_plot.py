from __future__ import annotations

import struct

from rlsys.jobshop.plot import plot_schedule

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_schedule() -> dict:
    """2 jobs x 2 machines: job 0 blocks machine 0 over [3, 5) while job 1 finishes on
    machine 1; machine 1 is down over [6, 8), which stretches job 0's last operation."""
    return {
        "instance": "tiny",
        "n_jobs": 2,
        "n_machines": 2,
        "makespan": 10,
        "operations": [
            {"job": 0, "index": 0, "machine": 0, "start": 0, "end": 3, "leave": 5},
            {"job": 0, "index": 1, "machine": 1, "start": 5, "end": 10, "leave": 10},
            {"job": 1, "index": 0, "machine": 1, "start": 0, "end": 5, "leave": 5},
            {"job": 1, "index": 1, "machine": 0, "start": 5, "end": 9, "leave": 9},
        ],
        "downtime": [{"machine": 1, "start": 6, "end": 8}],
    }


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    # The IHDR chunk comes first: length, b"IHDR", width, height (big-endian).
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png(tmp_path):
    out = plot_schedule(tiny_schedule(), tmp_path / "sub" / "gantt.png", title="tiny")
    assert out == tmp_path / "sub" / "gantt.png"
    assert out.stat().st_size > 5_000
    width, height = png_size(out)
    assert width >= 800 and height >= 200


def test_plot_height_grows_with_machines(tmp_path):
    # 30 jobs on 20 machines, no downtime key: many colours cycle, rows stay readable.
    ops = [
        {
            "job": j,
            "index": i,
            "machine": i,
            "start": 10 * j,
            "end": 10 * j + 7,
            "leave": 10 * j + 9,
        }
        for j in range(30)
        for i in range(20)
    ]
    big = {"instance": "big", "n_jobs": 30, "n_machines": 20, "makespan": 299, "operations": ops}
    small_h = png_size(plot_schedule(tiny_schedule(), tmp_path / "a.png"))[1]
    big_h = png_size(plot_schedule(big, tmp_path / "b.png"))[1]
    assert big_h > 2 * small_h
