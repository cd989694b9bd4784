import csv

from rlsys.cli import main

SUITE = """
jobshop_rules:
  instances: [ft06, la01]
  policies: [SPT, MWKR]
  shutdown_probs: [0.0, 0.05]
  seeds: "0-1"
transport:
  scenario: small
  iterations: 3
  seeds: "1"
calibration:
  scenario: small
  methods: [fixed-point]
  evaluations: 3
"""


def test_run_suite_and_resume(ray_local, tmp_path, capsys):
    suite = tmp_path / "tiny.yaml"
    suite.write_text(SUITE)
    assert main(["run", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs")]) == 0
    run_dir = next((tmp_path / "runs" / "run").iterdir())
    report = (run_dir / "report.md").read_text()
    assert "## Job shop: dispatching rules" in report and "## Transport simulation" in report
    assert "## Transport calibration" in report and "| fixed-point |" in report
    assert (run_dir / "calibration" / "fixed-point" / "best_asc.yaml").exists()
    summary = report.split("## Summary: best result per workload against its baseline")[1]
    assert "| jobshop (rules) | evaluation | 2 | mean makespan at p=0.05 (min) |" in summary
    assert "| calibration | fixed-point | 1 | best L1 (pp) (min) |" in summary
    for png in ("jobshop_rules.png", "jobshop_gantt.png", "transport_shares.png"):
        assert (run_dir / png).read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(run_dir / "jobshop_rules.csv")))
    assert len(rows) == 2 * 2 * 2 * 2 and all(r["valid"] == "yes" for r in rows)
    # resume: finished parts are read back, not recomputed (their files stay untouched)
    parts = sorted((run_dir / "jobshop_parts").glob("*.json"))
    assert len(parts) == 4
    stamps = [p.stat().st_mtime_ns for p in parts]
    (run_dir / "report.md").unlink()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert [p.stat().st_mtime_ns for p in parts] == stamps
    assert (run_dir / "report.md").exists()


def test_unknown_suite(capsys):
    assert main(["run", "--suite", "nosuch"]) == 2
    assert "unknown suite 'nosuch'" in capsys.readouterr().err


SWEEP_SUITE = """
jobshop_rules: null
transport: null
sweeps:
  - workload: calibration
    search: random
    samples: 3
    budget: 6
    config: {calibration}
  - workload: jobshop
    search: grid
    samples: 2
    budget: 2
    config: {jobshop}
    space:
      train.ppo.learning_rate: {{type: choice, values: [0.0003, 0.003]}}
"""


def test_suite_sweeps_run_through_the_tuner_with_one_summary(ray_local, tmp_path):
    import yaml
    from tiny_configs import TINY_CALIBRATION, TINY_JOBSHOP

    cal, js = tmp_path / "cal.yaml", tmp_path / "js.yaml"
    cal.write_text(yaml.safe_dump(TINY_CALIBRATION))
    js.write_text(yaml.safe_dump(TINY_JOBSHOP))
    suite = tmp_path / "sweeps.yaml"
    suite.write_text(SWEEP_SUITE.format(calibration=cal, jobshop=js))
    assert main(["run", "--suite", str(suite), "--runs-dir", str(tmp_path / "runs")]) == 0
    run_dir = next((tmp_path / "runs" / "run").iterdir())
    report = (run_dir / "report.md").read_text()
    assert "## Summary: best result per workload against its baseline" in report
    assert "| calibration | random | 3 |" in report and "| jobshop | grid | 2 |" in report
    assert "[report](sweeps/0-calibration/report.md)" in report
    assert (run_dir / "sweeps" / "0-calibration" / "best_asc.yaml").exists()
    assert (run_dir / "sweeps" / "1-jobshop" / "best.yaml").exists()
    # resume: both sweeps are finished, nothing runs again
    journal = run_dir / "sweeps" / "1-jobshop" / "tune" / "journal.jsonl"
    lines = journal.read_text()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert journal.read_text() == lines
