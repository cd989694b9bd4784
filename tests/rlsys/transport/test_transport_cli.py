"""`rlsys transport simulate` end to end (rlsys/transport/cli.py)."""

from __future__ import annotations

import json

import pytest
import yaml

from envs.transport import MODES
from rlsys.cli import main


def simulate(*args: str) -> int:
    return main(["transport", "simulate", "--scenario", "small", *args])


def test_simulate_writes_json_table_and_plot(tmp_path, capsys):
    asc = tmp_path / "asc.yaml"
    asc.write_text("walk: 1.0\nride_hail: 0.5\n")
    out, png = tmp_path / "run" / "out.json", tmp_path / "shares.png"
    code = simulate(
        "--asc",
        str(asc),
        "--iterations",
        "4",
        "--seed",
        "1",
        "--out",
        str(out),
        "--plot",
        str(png),
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert result["scenario"] == "small" and result["agents"] == 1000
    assert result["asc"]["walk"] == 1.0 and result["asc"]["car"] == 0.0
    assert len(result["per_iteration"]) == 4
    for it in result["per_iteration"]:
        assert list(it["mode_shares"]) == list(MODES)
        assert sum(it["mode_shares"].values()) == pytest.approx(100.0)
        assert set(it["mean_travel_time_min"]) == set(MODES)
        assert it["vmt"] > 0 and it["ride_hail_wait_min"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "ride_hail_transit" in printed and "VMT" in printed


def test_continuing_from_a_saved_state_matches_one_run(tmp_path):
    whole, first, second = tmp_path / "whole.json", tmp_path / "a.json", tmp_path / "b.json"
    state = tmp_path / "state.npz"
    assert simulate("--iterations", "5", "--seed", "4", "--out", str(whole)) == 0
    assert (
        simulate("--iterations", "2", "--seed", "4", "--out", str(first), "--state-out", str(state))
        == 0
    )
    assert simulate("--iterations", "3", "--state-in", str(state), "--out", str(second)) == 0
    one = json.loads(whole.read_text())["per_iteration"]
    two = (
        json.loads(first.read_text())["per_iteration"]
        + json.loads(second.read_text())["per_iteration"]
    )
    assert one == two


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlsys: error: ") and "\n" not in err
    return err


def test_bad_scenario_file_is_one_line_error(tmp_path, capsys):
    from envs.transport.scenario import SCENARIO_DIR

    data = yaml.safe_load((SCENARIO_DIR / "small.yaml").read_text())
    data["network"]["grid"]["capacity_vph"] = -100
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["transport", "simulate", "--scenario", str(path), "--iterations", "1"]) == 2
    err = one_line_error(capsys)
    assert "broken.yaml" in err and "network.grid.capacity_vph must be > 0, got -100" in err


def test_disconnected_scenario_is_one_line_error(tmp_path, capsys):
    links = [
        {"from": 0, "to": 1, "length_km": 1, "free_flow_min": 2, "capacity_vph": 500},
        {"from": 1, "to": 0, "length_km": 1, "free_flow_min": 2, "capacity_vph": 500},
        {"from": 2, "to": 3, "length_km": 1, "free_flow_min": 2, "capacity_vph": 500},
        {"from": 3, "to": 2, "length_km": 1, "free_flow_min": 2, "capacity_vph": 500},
    ]
    data = {
        "name": "islands",
        "network": {"nodes": [[0, 0], [1, 0], [5, 0], [6, 0]], "links": links},
        "zones": {"nodes": [0, 3]},
        "population": {"agents": 10},
    }
    path = tmp_path / "islands.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["transport", "simulate", "--scenario", str(path)]) == 2
    assert "disconnected road network" in one_line_error(capsys)


@pytest.mark.parametrize(
    "asc_text, expected",
    [
        ("car: 2\n", "car ASC is the reference and must be 0"),
        ("scooter: 1\n", "unknown mode 'scooter'"),
    ],
)
def test_bad_asc_file_is_one_line_error(tmp_path, capsys, asc_text, expected):
    asc = tmp_path / "asc.yaml"
    asc.write_text(asc_text)
    assert simulate("--asc", str(asc), "--iterations", "1") == 2
    assert expected in one_line_error(capsys)


def test_bad_arguments(tmp_path, capsys):
    assert simulate("--iterations", "0") == 2
    assert "--iterations must be >= 1" in one_line_error(capsys)
    assert simulate("--asc", str(tmp_path / "none.yaml")) == 2
    assert "ASC file not found" in one_line_error(capsys)
    assert main(["transport", "simulate", "--scenario", "atlantis"]) == 2
    assert "unknown scenario 'atlantis'" in one_line_error(capsys)
