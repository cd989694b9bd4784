"""The PARL step of `rlsys run`: tabular + Pendulum per method, a table, resumable."""

import pytest

from rlsys.run import ParlSuiteConfig, run_parl


@pytest.mark.slow
def test_parl_suite_step_runs_each_method_and_skips_finished_ones(ray_local, tmp_path):
    cfg = ParlSuiteConfig(
        methods=["parl", "oracle"], tabular_iterations=3, pendulum_steps=400, pendulum_queries=10
    )
    section = run_parl(cfg, tmp_path)
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ")][1:]
    assert [r[1].strip() for r in rows] == ["parl", "oracle"]
    assert [int(r[4]) for r in rows] == [400, 400]
    assert [int(r[5]) for r in rows] == [10, 0]  # the oracle asks no teacher
    journal = tmp_path / "parl" / "tune" / "journal.jsonl"
    finished = journal.read_text()
    again = run_parl(cfg, tmp_path)  # finished Pendulum runs are read back, not retrained
    assert journal.read_text() == finished
    assert [x for x in again.splitlines() if x.startswith("| ")] == [
        x for x in section.splitlines() if x.startswith("| ")
    ]
