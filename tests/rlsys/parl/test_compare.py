"""`rlsys parl compare`: runs on Ray, results.csv / results.md / plot, continues a study."""

import csv

from rlsys.cli import main


def test_compare_writes_results_and_reuses_finished_runs(ray_local, tmp_path, capsys):
    argv = ["parl", "compare", "--methods", "parl,oracle", "--seeds", "1", "--steps", "400",
            "--queries", "10", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert {r["method"] for r in rows} == {"parl", "oracle"}
    assert set(rows[0]) == {"method", "seed", "env_steps", "queries", "true_return"}
    assert (tmp_path / "true_return.png").exists()
    assert "| parl |" in (tmp_path / "results.md").read_text()
    final = tmp_path / "runs" / "parl-seed1" / "final.pt"
    stamp = final.stat().st_mtime_ns
    assert main(argv) == 0  # nothing left to train: the finished runs are kept
    assert final.stat().st_mtime_ns == stamp
    assert "every one of" not in capsys.readouterr().err


def test_compare_bad_methods_is_one_line(tmp_path, capsys):
    assert main(["parl", "compare", "--methods", "rlhf", "--out", str(tmp_path)]) == 2
    assert "--methods 'rlhf'" in capsys.readouterr().err
