"""`envs` (the simulators) imports nothing from `rlsys` (the algorithms and runtime)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ENVS = Path(__file__).resolve().parents[2] / "envs"


def _modules() -> list[str]:
    names = []
    for path in sorted(ENVS.rglob("*.py")):
        parts = path.relative_to(ENVS.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_no_envs_source_imports_rlsys():
    found = []
    for path in sorted(ENVS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                mods = [node.module or ""]
            elif (  # importlib.import_module("rlsys...") / __import__("rlsys...")
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None))
                in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                mods = [str(node.args[0].value)]
            else:
                continue
            found += [
                f"{path.relative_to(ENVS.parent)}:{node.lineno}: {m}"
                for m in mods
                if m.split(".")[0] == "rlsys"
            ]
    assert not found, "envs imports rlsys:\n" + "\n".join(found)


def test_importing_each_envs_module_loads_no_rlsys():
    """Each module in a fresh interpreter: what it imports at import time, transitively."""
    modules = _modules()
    assert "envs.jobshop" in modules and "envs.transport" in modules
    probe = (
        "import importlib, json, sys\n"
        "bad = {}\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    importlib.import_module(name)\n"
        "    loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'rlsys')\n"
        "    if loaded:\n"
        "        bad[name] = loaded\n"
        "        for m in loaded:\n"
        "            del sys.modules[m]\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(modules)],
        cwd=ENVS.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bad = json.loads(result.stdout.strip().splitlines()[-1])
    assert not bad, f"importing these envs modules loads rlsys: {bad}"
