"""The CommFormer step of `rlsys run`: one run per graph mode, a table, resumable."""

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
    for graph in ("learned", "none"):
        assert (tmp_path / "commformer" / graph / "final.pt").exists()
    rows = {line.split("|")[1].strip(): line.split("|") for line in _table(section)[1:]}
    assert set(rows) == {"learned", "none"}
    assert rows["none"][5].strip() == "0.00"  # no communication: no messages
    assert float(rows["learned"][5]) > 0
    final = tmp_path / "commformer" / "none" / "final.pt"
    mtime = final.stat().st_mtime_ns
    again = run_commformer(cfg, tmp_path)  # finished modes are evaluated, not retrained
    assert final.stat().st_mtime_ns == mtime
    assert _table(again) == _table(section)
