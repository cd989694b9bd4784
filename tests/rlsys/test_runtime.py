import dataclasses

import yaml

from rlsys.runtime import derive_seeds, init_ray, make_run_dir


def test_derived_seeds_are_distinct_and_reproducible():
    a = derive_seeds(0, 16)
    assert len(set(a)) == 16
    assert a == derive_seeds(0, 16)
    assert a != derive_seeds(1, 16)
    assert derive_seeds(0, 4) == a[:4]


@dataclasses.dataclass
class _Cfg:
    lr: float = 0.1
    names: list = dataclasses.field(default_factory=lambda: ["a"])


def test_run_dir_layout(tmp_path):
    d1 = make_run_dir("jobshop", _Cfg(), root=tmp_path)
    d2 = make_run_dir("jobshop", {"x": 1}, root=tmp_path)
    assert d1.parent == tmp_path / "jobshop" and d1 != d2
    assert yaml.safe_load((d1 / "config.yaml").read_text()) == {"lr": 0.1, "names": ["a"]}


def test_init_ray_is_idempotent(ray_local):
    assert init_ray() is ray_local
    assert ray_local.cluster_resources()["CPU"] == 2
