"""rlsys/tuner/keys.py: a trainable's imports stay off the driver's side."""

from __future__ import annotations

import subprocess
import sys

import rlsys.tuner as tuner
from rlsys.tuner import keys


def test_worker_imports_do_not_load_the_driver_side():
    # every Ray worker that runs a calibration job imports this; ConfigSpace, hpbandster
    # and the experiment runner cost ~1 s of each worker's start-up and are not needed there
    code = (
        "import sys, rlsys.calibration.trainables\n"
        "heavy = [m for m in ('ConfigSpace', 'hpbandster', 'rlsys.tuner.experiment',"
        " 'rlsys.tuner.searchers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_names_resolve_lazily_to_one_object():
    assert tuner.BUDGET_KEY is keys.BUDGET_KEY
    from rlsys.tuner.searchers import BUDGET_KEY, HyperbandSearcher

    assert BUDGET_KEY is keys.BUDGET_KEY and tuner.HyperbandSearcher is HyperbandSearcher
    assert sorted(tuner.__all__) == tuner.__all__
    try:
        tuner.not_a_name  # noqa: B018
    except AttributeError as e:
        assert "not_a_name" in str(e)
    else:
        raise AssertionError("unknown names must raise AttributeError")
