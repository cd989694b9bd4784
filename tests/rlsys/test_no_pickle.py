"""No pickle from files a user hands in: a tampered `--resume` directory or checkpoint
never runs code, and every torch.load / np.load in the code refuses pickles."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rlsys.cli import main

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    p
    for d in ("rlsys", "envs", "bench")
    for p in (REPO / d).rglob("*.py")
    if ".venv" not in p.parts
)


class Payload:
    """Unpickling this creates ``marker`` (it calls ``open(marker, "w")``)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def evil(marker: Path) -> bytes:
    blob = pickle.dumps(Payload(marker))
    pickle.loads(blob).close()  # the payload works: unpickling it creates the marker
    assert marker.exists()
    marker.unlink()
    return blob


def test_tampered_calibration_resume_directory_runs_no_code(ray_local, tmp_path):
    """Every pickle Ray Tune wrote, and the file where rlsys's searcher state used to be a
    pickle, are replaced by a payload; the session is marked interrupted; --resume goes
    on from rlsys's own JSON files and never unpickles anything."""
    targets = tmp_path / "targets.yaml"
    targets.write_text(yaml.safe_dump({"car": 70.0, "walk": 10.0, "bike": 10.0, "ride_hail": 10.0}))
    config = tmp_path / "fast.yaml"
    config.write_text("check_seeds: 0\nmax_iterations: 6\n")
    run = tmp_path / "cal"
    args = ["calibrate", "--targets", str(targets), "--scenario", "small", "--method", "bohb"]
    args += ["--workers", "1", "--config", str(config), "--seed", "1", "--quiet"]
    assert main([*args, "--evaluations", "6", "--out", str(run)]) == 0
    session = run / "tune" / "session-1"
    assert list(session.glob("searcher-state-*.json")), "the searcher state is JSON"
    assert not list(run.rglob("searcher-state-*.pkl"))

    marker = tmp_path / "pwned"
    blob = evil(marker)
    planted = [*run.rglob("*.pkl"), session / "searcher-state-2026-01-01_00-00-00.pkl"]
    assert session / "tuner.pkl" in planted  # Tune's own pickle (rlsys never reads it)
    for path in planted:
        path.write_bytes(blob)
    (session / "session-done.json").unlink()  # as if the driver had been killed

    code = main(["calibrate", "--resume", str(run), "--evaluations", "9", "--quiet"])
    assert code == 0
    assert not marker.exists(), "a pickle from the resume directory was loaded"
    assert (run / "evaluations.csv").read_text().count("\n") == 1 + 9


def test_tampered_checkpoints_run_no_code(ray_local, tmp_path, capsys):
    """A policy file and a training checkpoint holding a payload: refused, no code runs."""
    marker = tmp_path / "pwned"
    blob = evil(marker)
    policy = tmp_path / "policy.pt"
    torch.save({"model": Payload(marker), "meta": {}}, policy)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(blob)  # a bare pickle named .pt
    for path in (policy, raw):
        args = ["jobshop", "eval", "--instances", "ft06", "--policies", str(path), "--seeds", "0"]
        assert main([*args, "--shutdown-probs", "0", "--out", str(tmp_path / "r.csv")]) == 2
        assert "not a policy file" in capsys.readouterr().err
        assert not marker.exists()

    run = tmp_path / "train"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"train": {"total_updates": 2}}))
    torch.save({"model": Payload(marker)}, run / "checkpoints" / "latest.pt")
    try:
        code = main(["jobshop", "train", "--resume", str(run)])
    except pickle.UnpicklingError:
        code = "refused"  # torch's weights-only refusal, as a traceback
    assert code in (2, "refused")
    assert not marker.exists(), "a checkpoint's pickle ran code"


def _calls(tree: ast.AST, module: str, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == module
    ]


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else "not a constant"
    return None


def test_every_load_in_the_code_refuses_pickles():
    """torch.load with weights_only=True, np.load never with allow_pickle=True, and no
    pickle / cloudpickle / dill / joblib / shelve / marshal imports in rlsys, envs, bench."""
    assert len(SOURCES) > 30
    torch_loads = 0
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        where = path.relative_to(REPO)
        for call in _calls(tree, "torch", "load"):
            torch_loads += 1
            assert _keyword(call, "weights_only") is True, f"{where}:{call.lineno}"
        for call in _calls(tree, "np", "load") + _calls(tree, "numpy", "load"):
            assert _keyword(call, "allow_pickle") in (None, False), f"{where}:{call.lineno}"
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in {
                    "pickle",
                    "cloudpickle",
                    "dill",
                    "joblib",
                    "shelve",
                    "marshal",
                }, f"{where}:{node.lineno} imports {name}"
    assert torch_loads >= 3  # the policy, the trainer's checkpoints and final.pt


def test_npz_state_files_refuse_pickled_arrays(tmp_path):
    """The transport simulation's state files (`--state-in`) are npz without pickles."""
    from envs.transport import load_state

    marker = tmp_path / "pwned"
    evil(marker)
    path = tmp_path / "state.npz"
    np.savez(path, meta=np.array([Payload(marker)], dtype=object))
    with pytest.raises(ValueError):
        load_state(path)
    assert not marker.exists()
