import numpy as np
import pytest

from envs.jobshop.instance import (
    Instance,
    InstanceError,
    format_standard,
    format_taillard,
    load_instance,
    parse_standard,
    random_instance,
    read_instance,
    write_instance,
)


def test_benchmark_by_name():
    ft06 = load_instance("ft06")
    assert ft06.shape == (6, 6)
    assert ft06.machines[0].tolist() == [2, 0, 1, 3, 5, 4]
    assert ft06.times[0].tolist() == [1, 3, 6, 7, 3, 6]
    assert load_instance("ta41").shape == (30, 20)


@pytest.mark.parametrize("fmt", ["standard", "taillard"])
def test_round_trip(tmp_path, fmt):
    inst = random_instance(7, 4, seed=3)
    path = tmp_path / f"x.{fmt}.txt"
    write_instance(inst, path, fmt)
    back = read_instance(path)  # format detected
    assert np.array_equal(back.machines, inst.machines)
    assert np.array_equal(back.times, inst.times)
    assert back.name == path.stem


def test_formats_differ_and_taillard_is_one_based():
    inst = random_instance(3, 3, seed=0)
    t = format_taillard(inst)
    assert "Machines" in t and " 0" not in t.split("Machines")[1]
    assert format_standard(inst).splitlines()[0] == "3 3"


@pytest.mark.parametrize(
    "text, where",
    [
        ("2 2\n0 5 1 3\n1 4\n", ":3:"),  # short job line
        ("2 2\n0 5 1 3\n1 4 x 2\n", ":3:"),  # not a number
        ("2 2\n0 5 1 -3\n1 4 0 2\n", ":2:"),  # negative time
        ("2 2\n0 5 2 3\n1 4 0 2\n", ":2:"),  # machine out of range
        ("2 2\n0 5 0 3\n1 4 0 2\n", ":2:"),  # machine twice
        ("2 2\n0 5 1 3\n", "header says 2 jobs"),
        ("x y\n", ":1:"),
        ("", "empty"),
    ],
)
def test_malformed_files_name_the_line(tmp_path, text, where):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InstanceError) as err:
        read_instance(path, fmt="standard")
    msg = str(err.value)
    assert where in msg and "\n" not in msg


def test_comments_are_skipped():
    inst = parse_standard("# a comment\n2 2\n0 5 1 3\n# between\n1 4 0 2\n")
    assert inst.times.tolist() == [[5, 3], [4, 2]]


def test_unknown_name_and_missing_file():
    with pytest.raises(InstanceError, match="unknown instance 'nosuch'"):
        load_instance("nosuch")
    with pytest.raises(InstanceError, match="no such instance file"):
        load_instance("does/not/exist.txt")


def test_negative_times_rejected_in_memory():
    with pytest.raises(InstanceError, match="negative processing time"):
        Instance("x", np.array([[0, 1]]), np.array([[3, -1]]))


def test_random_instance_by_name():
    inst = load_instance("random:25x15:3")
    ref = random_instance(25, 15, seed=3)
    assert inst.name == "rand25x15s3" and inst.shape == (25, 15)
    assert (inst.machines == ref.machines).all() and (inst.times == ref.times).all()
    for bad in ["random:25:3", "random:axb:1", "random:5x5", "random:5x5:-1", "random:0x5:1"]:
        with pytest.raises(InstanceError, match="random:NxM:SEED"):
            load_instance(bad)
