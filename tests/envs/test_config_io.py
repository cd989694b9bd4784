"""The generic strict reader (envs/config_io.py) on small dataclasses of its own."""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import pytest

from envs.config_io import Config, ConfigError, config_field, from_dict, invalid, load_config


@dataclasses.dataclass
class Leaf(Config):
    size: int = config_field(2, ge=1)
    kind: Literal["a", "b"] = "a"


@dataclasses.dataclass
class Tree(Config):
    rate: float = config_field(0.5, gt=0, le=1)
    name: str = "t"
    flag: bool = False
    leaf: Leaf = dataclasses.field(default_factory=Leaf)
    maybe: Leaf | None = None
    leaves: list[Leaf] = dataclasses.field(default_factory=list)
    weights: list[float] = config_field([1.0], ge=0, min_len=1)
    pair: list[int] = config_field([1, 2], min_len=2, max_len=2)
    table: dict[str, float] = config_field({}, ge=0)
    either: Leaf | list[float] = config_field([0.0], ge=0)
    links: list[dict] = config_field([], label="{from}->{to}")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.pair[0] > self.pair[1]:
            raise invalid(self, f"pair must be [low, high], got {self.pair}")


def error(data, source="f.yaml") -> str:
    with pytest.raises(ConfigError) as info:
        from_dict(Tree, data, source)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_reads_nested_lists_unions_and_converts_numbers():
    cfg = from_dict(
        Tree,
        {
            "rate": 1,
            "leaf": {"size": 4.0, "kind": "b"},
            "maybe": {"size": 3},
            "leaves": [{"size": 5}],
            "weights": [0, 2],
            "table": {"x": 3},
            "either": {"size": 7},
        },
    )
    assert cfg.rate == 1.0 and isinstance(cfg.rate, float)
    assert cfg.leaf == Leaf(4, "b") and isinstance(cfg.leaf.size, int)
    assert cfg.maybe == Leaf(3) and cfg.leaves == [Leaf(5)]
    assert cfg.weights == [0.0, 2.0] and cfg.table == {"x": 3.0} and cfg.either == Leaf(7)
    assert from_dict(Tree, {"maybe": None}).maybe is None


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"rate": 0}, "f.yaml: rate must be > 0, got 0"),
        ({"rate": 1.5}, "f.yaml: rate must be <= 1, got 1.5"),
        ({"rate": math.nan}, "f.yaml: rate must be finite, got nan"),
        ({"rate": math.inf}, "rate must be finite, got inf"),
        ({"rate": "fast"}, "rate must be a number, got 'fast'"),
        ({"rate": True}, "rate must be a number, got True"),
        ({"flag": 1}, "flag must be true or false, got 1"),
        ({"name": 3}, "name must be a string, got 3"),
        ({"leaf": {"size": 0}}, "f.yaml: leaf.size must be >= 1, got 0"),
        ({"leaf": {"size": 2.5}}, "leaf.size must be an integer, got 2.5"),
        ({"leaf": {"kind": "c"}}, "leaf.kind must be one of 'a', 'b', got 'c'"),
        ({"leaf": 3}, "leaf must be a mapping, got 3"),
        ({"leaves": [{}, {"size": -1}]}, "leaves[1].size must be >= 1, got -1"),
        ({"weights": [1, -2]}, "weights[1] must be >= 0, got -2"),
        ({"weights": []}, "weights must have at least 1 entries, got []"),
        ({"weights": "1,2"}, "weights must be a list, got '1,2'"),
        ({"pair": [1]}, "pair must have 2 entries, got [1]"),
        ({"pair": [3, 1]}, "f.yaml: pair must be [low, high], got [3, 1]"),
        ({"table": {"x": -1}}, "table.x must be >= 0, got -1"),
        ({"table": {1: 1}}, "table key 1 must be a string, got 1"),
        ({"table": {"x": 1e20}}, "table.x must be within +-1e+15, got 1e+20"),
        ({"leaf": {"size": 10**400}}, "leaf.size must be within +-1e+15, got an integer of 401"),
        ({"weights": [10**400]}, "weights[0] must be within +-1e+15, got an integer of 401"),
        ({"either": {"size": 1, "kind": "z"}}, "either.kind must be one of"),
        ({"either": "x"}, "either must be a mapping or a list, got 'x'"),
        ({"links": [{"from": 1, "to": 2}, 5]}, "links[1] must be a mapping, got 5"),
        ({"bogus": 1}, "f.yaml: unknown key 'bogus' (valid: rate, name, flag, leaf,"),
        ({"leaf": {"bogus": 1}}, "unknown key 'leaf.bogus' (valid: size, kind)"),
        ([1, 2], "f.yaml: the file must be a mapping, got [1, 2]"),
    ],
)
def test_bad_values_name_the_key_and_the_value(data, expected):
    assert expected in error(data)


@dataclasses.dataclass
class Point(Config):
    x: float = 0.0


@dataclasses.dataclass
class Holder(Config):
    p: Point | list[float] = config_field([0.0], ge=0)


@dataclasses.dataclass
class Needs(Config):
    size: int = config_field(ge=1)


def test_range_on_a_union_covers_the_numbers_of_its_dataclass():
    with pytest.raises(ConfigError, match=r"p\.x must be >= 0, got -1"):
        from_dict(Holder, {"p": {"x": -1}})


def test_missing_required_key():
    with pytest.raises(ConfigError, match="missing key 'size'"):
        from_dict(Needs, {})


def test_direct_construction_is_checked():
    with pytest.raises(ConfigError, match="^Leaf: size must be >= 1, got 0$"):
        Leaf(size=0)
    with pytest.raises(ConfigError, match="^Leaf: kind must be one of 'a', 'b', got 'z'$"):
        Leaf(kind="z")
    with pytest.raises(ConfigError, match="Tree: weights\\[0\\] must be >= 0"):
        Tree(weights=[-1.0])
    with pytest.raises(ConfigError, match="Tree: leaf must be a mapping"):
        Tree(leaf={"size": 1})
    with pytest.raises(ConfigError, match="Leaf: size must be >= 1"):
        dataclasses.replace(Leaf(), size=-3)
    assert Tree(weights=(1, 2)).weights == (1, 2)  # tuples and ints are fine from Python


def test_defaults_are_not_shared():
    a, b = Tree(), Tree()
    a.weights.append(5.0)
    assert b.weights == [1.0]


def test_yaml_errors_are_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    for text in ("rate: [1, 2\n", "rate: 2021-02-30\n", "rate: " + "9" * 5000 + "\n", "[" * 600):
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(Tree, path)
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    path.write_bytes(b"\xff\xfe\x00rate")
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        load_config(Tree, path)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(Tree, tmp_path / "missing.yaml")
    path.write_text("")
    assert load_config(Tree, path) == Tree()


def test_overrides_are_checked_and_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("rate: 0.2\n")
    assert load_config(Tree, path, name="y", flag=None) == Tree(rate=0.2, name="y")
    with pytest.raises(ConfigError, match="^options: rate must be > 0, got 0"):
        load_config(Tree, path, rate=0.0)
