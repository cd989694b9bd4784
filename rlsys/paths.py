"""Where the shipped files are: configs, suites and targets are package data.

``rlsys/configs/`` is installed with the package (a checkout also has a top-level
``configs`` symlink to it), so the documented paths (``--config configs/jobshop/default.yaml``)
work from any directory, with an editable install or a plain ``pip install .``.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
"""The shipped YAML files: ``calibration/``, ``jobshop/``, ``suites/``."""


def resolve_path(path: str | Path) -> Path:
    """A path the user gave, as given when it exists (or is absolute); otherwise a relative
    path that starts with ``configs/`` names the shipped file of that name. Anything else is
    returned unchanged, so a "not found" error names the user's path."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    if len(p.parts) > 1 and p.parts[0] == "configs":
        shipped = CONFIG_DIR.joinpath(*p.parts[1:])
        if shipped.exists():
            return shipped
    return p


MIN_FREE_BYTES = 1 << 20
"""Less free space than this where an output goes counts as a full disk."""


def check_writable(path: str | Path, option: str, *, directory: bool = False) -> Path:
    """Fail early (ValueError, one line naming ``option``) unless ``path`` can be written:
    a file (or, with ``directory``, a directory) that exists and is writable, or one that
    the command can create (missing parents included) on a disk that is not full. Writes
    nothing but a nameless probe file; call it before any work starts."""
    p = Path(path)
    where = f"{option} {path}"
    if p.is_dir() and not directory:
        raise ValueError(f"{where}: is a directory")
    if p.exists() and not p.is_dir() and directory:
        raise ValueError(f"{where}: exists and is not a directory")
    base = p if p.is_dir() else p.parent
    while not base.exists() and not base.is_symlink() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{where}: {base} is not a directory")
    try:
        with tempfile.TemporaryFile(dir=base):
            pass
        if p.is_file():
            with open(p, "ab"):
                pass
    except OSError as exc:
        raise ValueError(f"{where}: cannot write there ({exc.strerror or exc})") from None
    if shutil.disk_usage(base).free < MIN_FREE_BYTES:
        raise ValueError(f"{where}: no space left on the device of {base}")
    return p
