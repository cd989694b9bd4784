"""cluster/ configs: the runtime_env for `ray job submit`, the `ray up` launcher config and
the KubeRay manifests (no cloud or Kubernetes here: validated as Ray / KubeRay read them)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "cluster"
KUBERAY = CLUSTER / "kuberay"
IMAGE = "rayproject/ray:2.60.0-py311-cpu"
RAYJOBS = {
    "rayjob-run.yaml": "run",
    "rayjob-jobshop-eval.yaml": "jobshop",
    "rayjob-transport.yaml": "transport",
    "rayjob-calibrate.yaml": "calibrate",
    "rayjob-commformer.yaml": "commformer",
    "rayjob-parl.yaml": "parl",
}
# The documented form of `rlsys calibrate` (its command is being written separately).
CALIBRATE_OPTIONS = {
    "--targets", "--scenario", "--method", "--max-iterations", "--evaluations",
    "--workers", "--seed", "--address", "--resume", "--out",
}  # fmt: skip


# ---------------------------------------------------------------- runtime_env.yaml


def test_runtime_env_is_what_ray_job_submit_accepts(tmp_path):
    from ray.dashboard.modules.dashboard_sdk import parse_runtime_env_args
    from ray.runtime_env import RuntimeEnv

    env = parse_runtime_env_args(
        runtime_env=str(CLUSTER / "runtime_env.yaml"), working_dir=str(tmp_path)
    )
    assert set(env) == {"excludes", "env_vars", "working_dir"}
    RuntimeEnv(**env)  # raises on unknown fields or wrong types
    assert all(isinstance(v, str) for v in env["env_vars"].values())
    assert env["env_vars"]["OMP_NUM_THREADS"] == "1"
    assert env["env_vars"]["PYTHONUNBUFFERED"] == "1"


def test_runtime_env_excludes_venv_runs_and_checkpoints(tmp_path):
    """Package a fake repo the way `ray job submit --working-dir` does: what is left."""
    from ray._private.runtime_env.packaging import create_package

    excludes = yaml.safe_load((CLUSTER / "runtime_env.yaml").read_text())["excludes"]
    repo = tmp_path / "repo"
    files = [
        "rlsys/__init__.py", "rlsys/jobshop/model.pt", "configs/suites/quick.yaml",
        "README.md", ".venv/bin/python", ".venv/lib/site.py", "runs/run/1/ckpt.pt",
        "runs/run/1/report.md", "rlsys/__pycache__/x.cpython-311.pyc", ".git/HEAD",
        ".cluster/ray/session/x.log", "tests/tmp/runs/a/model.pt",
    ]  # fmt: skip
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x")
    create_package(str(repo), tmp_path / "pkg.zip", include_gitignore=False, excludes=excludes)
    names = {n for n in zipfile.ZipFile(tmp_path / "pkg.zip").namelist() if not n.endswith("/")}
    # shipped model files outside runs/ stay: only run outputs and checkpoints are dropped
    assert names == {
        "rlsys/__init__.py", "rlsys/jobshop/model.pt", "configs/suites/quick.yaml", "README.md",
    }  # fmt: skip


# ---------------------------------------------------------------- ray-cluster.yaml


def _launcher_config() -> dict:
    return yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text())


def test_launcher_config_matches_rays_autoscaler_schema():
    import ray.autoscaler

    config = _launcher_config()
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    try:
        import jsonschema
    except ImportError:  # a manual check of the keys the schema allows and requires
        assert set(schema["required"]) <= set(config) <= set(schema["properties"])
    else:
        jsonschema.validate(config, schema)
        # what `ray up` does before it launches anything: merge the provider's defaults
        # (AWS here) and validate the result
        from ray.autoscaler._private.util import prepare_config, validate_config

        validate_config(prepare_config(config))


def test_launcher_config_installs_the_project_and_uses_token_auth():
    config = _launcher_config()
    assert config["provider"]["type"] == "aws"
    types = config["available_node_types"]
    assert config["head_node_type"] in types and len(types) == 2
    (worker,) = (t for name, t in types.items() if name != config["head_node_type"])
    assert 1 <= worker["min_workers"] <= worker["max_workers"] <= config["max_workers"]
    assert config["docker"]["image"] == IMAGE
    setup = " ".join(config["setup_commands"])
    assert "requirements.lock" in setup and "-e ." in setup
    assert config["file_mounts"]["~/rlsys"] == "."
    assert "~/.ray/auth_token" in config["file_mounts"]
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in config[key] if "ray start" in c]
        assert start and all("RAY_AUTH_MODE=token" in c for c in start), key
    assert any("--head" in c for c in config["head_start_ray_commands"])
    assert all("$RAY_HEAD_IP" in c for c in config["worker_start_ray_commands"] if "start" in c)
    for excluded in (".venv", "runs", ".git", ".cluster"):
        assert excluded in config["rsync_exclude"]


# ---------------------------------------------------------------- KubeRay


def _docs(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((KUBERAY / name).read_text()) if d]


def test_kuberay_files_are_exactly_the_cluster_and_one_rayjob_per_workload():
    assert {p.name for p in KUBERAY.glob("*.yaml")} == {"raycluster.yaml", *RAYJOBS}


def test_raycluster_manifest():
    docs = _docs("raycluster.yaml")
    assert [(d["apiVersion"], d["kind"]) for d in docs] == [
        ("v1", "PersistentVolumeClaim"),
        ("ray.io/v1", "RayCluster"),
    ]
    cluster = docs[1]
    assert cluster["metadata"]["name"] == "rlsys"
    spec = cluster["spec"]
    assert spec["rayVersion"] == "2.60.0"
    assert spec["authOptions"] == {"mode": "token"}
    head = spec["headGroupSpec"]
    (worker,) = spec["workerGroupSpecs"]
    assert worker["minReplicas"] <= worker["replicas"] <= worker["maxReplicas"]
    assert all(isinstance(v, str) for g in (head, worker) for v in g["rayStartParams"].values())
    claim = docs[0]["metadata"]["name"]
    for group in (head, worker):
        pod = group["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == IMAGE
        (init,) = pod["initContainers"]
        assert init["image"] == IMAGE and "requirements.lock" in init["args"][0]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert "/opt/rlsys/src" in env["PYTHONPATH"].split(":")
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == claim
        assert mounts["/opt/rlsys"] in {m["name"] for m in init["volumeMounts"]}


def _rlsys_parser():
    from rlsys.cli import build_parser

    return build_parser()


@pytest.mark.parametrize("name", sorted(RAYJOBS))
def test_rayjob_entrypoint_is_the_ray_job_submit_command(name):
    (job,) = _docs(name)
    assert (job["apiVersion"], job["kind"]) == ("ray.io/v1", "RayJob")
    spec = job["spec"]
    assert spec["clusterSelector"] == {"ray.io/cluster": "rlsys"}
    yaml.safe_load(spec["runtimeEnvYAML"])  # a YAML string inside the manifest
    argv = shlex.split(spec["entrypoint"])
    assert argv[:3] == ["python", "-m", "rlsys"] and argv[3] == RAYJOBS[name]
    # the file documents the same command for `ray job submit ... -- <entrypoint>`
    assert "ray job submit" in (KUBERAY / name).read_text()
    parser = _rlsys_parser()
    commands = parser._subparsers._group_actions[0].choices
    if argv[3] == "calibrate":
        flags = {a.split("=")[0] for a in argv[4:] if a.startswith("--")}
        assert flags <= CALIBRATE_OPTIONS and {"--targets", "--method", "--out"} <= flags
        assert (REPO / argv[argv.index("--targets") + 1]).is_file()
        if "calibrate" not in commands:
            pytest.skip("rlsys calibrate is not registered yet: checked the documented form")
    args = parser.parse_args(argv[3:])  # exits (SystemExit) on an unknown command or flag
    assert callable(args.func)


def test_local_sh_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed")
    result = subprocess.run(
        ["shellcheck", str(CLUSTER / "local.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert os.access(CLUSTER / "local.sh", os.X_OK)


# ---------------------------------------------------------------- pinned source

COMMIT_PLACEHOLDER = "RLSYS_COMMIT_SHA"
MOVING_REF = re.compile(
    r"refs/heads/|/archive/(main|master|develop)\b|/(tree|blob)/(main|master)\b"
    r"|[@#](main|master|HEAD)\b|--branch\b|\bgit (clone|pull|checkout)\b"
)


def test_no_manifest_fetches_a_moving_branch():
    """The KubeRay pods fetch one commit's tarball; `ray up` syncs the local checkout."""
    for path in [*sorted(KUBERAY.glob("*.yaml")), CLUSTER / "ray-cluster.yaml"]:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            assert not MOVING_REF.search(line), f"{path.name}:{n}: {line.strip()}"
    assert _launcher_config()["file_mounts"]["~/rlsys"] == "."


def test_raycluster_fetches_the_commit_it_names():
    spec = _docs("raycluster.yaml")[1]["spec"]
    for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
        (init,) = group["template"]["spec"]["initContainers"]
        env = {e["name"]: e["value"] for e in init["env"]}
        # Kubernetes expands $(RLSYS_COMMIT) from the variable defined before it
        assert [e["name"] for e in init["env"]][:2] == ["RLSYS_COMMIT", "RLSYS_SOURCE"]
        assert env["RLSYS_SOURCE"].endswith("/archive/$(RLSYS_COMMIT).tar.gz")
        commit = env["RLSYS_COMMIT"]
        assert commit == COMMIT_PLACEHOLDER or re.fullmatch(r"[0-9a-f]{40}", commit), commit
    # the init script stops on anything but a full hash (the placeholder included)
    (guard,) = [line for line in init["args"][0].splitlines() if "RLSYS_COMMIT" in line]
    for value, code in [("0123abcd" * 5, 0), (COMMIT_PLACEHOLDER, 1), ("main", 1), ("", 1)]:
        run = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{guard}"],
            env={"RLSYS_COMMIT": value, "PATH": os.environ["PATH"]},
            capture_output=True,
        )
        assert run.returncode == code, (value, run.stderr)


def test_launcher_sync_keeps_the_shipped_policy():
    """`ray up` rsyncs the checkout: the pretrained policy (package data) must go along."""
    import fnmatch

    for pattern in _launcher_config()["rsync_exclude"]:
        for shipped in ("rlsys/jobshop/pretrained/gnn_ppo.pt", "rlsys/configs/suites/quick.yaml"):
            assert not fnmatch.fnmatch(shipped, pattern.replace("**/", "*")), pattern
