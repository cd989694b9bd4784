import dataclasses

import pytest

from rlsys.config import ConfigError, load_config


@dataclasses.dataclass
class Inner:
    depth: int = 2


@dataclasses.dataclass
class Outer:
    lr: float = 1e-3
    name: str = "x"
    inner: Inner = dataclasses.field(default_factory=Inner)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1\ninner:\n  depth: 5\n")
    cfg = load_config(Outer, path, name="y")
    assert cfg == Outer(lr=1.0, name="y", inner=Inner(depth=5))


def test_unknown_key_and_wrong_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: 1\nbogus: 2\n")
    with pytest.raises(ConfigError, match="bogus: unknown key"):
        load_config(Outer, path)
    path.write_text("inner:\n  depth: deep\n")
    with pytest.raises(ConfigError, match="inner.depth: expected int"):
        load_config(Outer, path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(Outer, tmp_path / "missing.yaml")


@dataclasses.dataclass
class WithOptional:
    inner: Inner | None = dataclasses.field(default_factory=Inner)


def test_optional_nested_dataclass(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  depth: 7\n")
    assert load_config(WithOptional, path).inner == Inner(depth=7)
    path.write_text("inner: null\n")
    assert load_config(WithOptional, path).inner is None


def test_malformed_yaml_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("lr: [1, 2\n")
    with pytest.raises(ConfigError) as err:
        load_config(Outer, path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
