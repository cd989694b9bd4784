"""The CommFormer step of `rlsys run`: one run per graph mode (a grid sweep of the central
tuner), a table, resumable."""

import pytest

from rlsys.run import CommFormerSuiteConfig, run_commformer


def _table(section):
    return [line for line in section.splitlines() if line.startswith("| ")]


@pytest.mark.slow
def test_commformer_suite_step_trains_each_graph_and_skips_finished_ones(ray_local, tmp_path):
    cfg = CommFormerSuiteConfig(
        dim=4, agents=2, graphs=["learned", "none"], updates=2, warmup_updates=1
    )
    section = run_commformer(cfg, tmp_path)
    journal = tmp_path / "commformer" / "tune" / "journal.jsonl"
    assert (tmp_path / "commformer" / "report.md").exists()
    rows = {line.split("|")[1].strip(): line.split("|") for line in _table(section)[1:]}
    assert set(rows) == {"learned", "none"}
    assert rows["none"][5].strip() == "0.00"  # no communication: no messages
    assert float(rows["learned"][5]) > 0
    assert all(int(r[6]) > 0 for r in rows.values())  # env steps
    finished = journal.read_text()
    again = run_commformer(cfg, tmp_path)  # finished modes are read back, not retrained
    assert journal.read_text() == finished
    assert _table(again) == _table(section)
