"""`rlsys commformer`: bad input is a one-line error naming the value, before any work."""

import pytest

from rlsys.cli import main
from rlsys.commformer.model import CommFormerPolicy


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--sparsity", "1.5"], "sparsity must be <= 1, got 1.5"),
        (["--sparsity", "0"], "sparsity must be > 0, got 0"),
        (["--agents", "1"], "agents must be >= 2, got 1"),
        (["--dim", "3", "--agents", "9"], "agents 9 do not fit a 3x3 grid"),
        (["--env", "starcraft"], "name must be one of 'predator_prey', 'capture', 'simple_spread'"),
        (["--graph", "dense"], "graph must be one of 'learned', 'full', 'none', 'random'"),
        (["--steps", "0"], "--steps must be at least 1, got 0"),
        (["--actors", "0"], "--actors must be at least 1, got 0"),
    ],
)
def test_train_rejects_bad_input_in_one_line(argv, message, tmp_path, capsys):
    code = main(["commformer", "train", "--runs-dir", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("rlsys: error: ") and "\n" not in err
    assert message in err
    assert not any(tmp_path.iterdir())  # no run directory made for a refused run


def test_eval_refuses_a_checkpoint_for_another_team_size(tmp_path, capsys):
    path = CommFormerPolicy(n_agents=3, obs_dim=29, n_actions=5).save(
        tmp_path / "n3.pt", {"env": {"name": "predator_prey", "dim": 5, "agents": 3}}
    )
    code = main(["commformer", "eval", "--checkpoint", str(path), "--agents", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "checkpoint is for 3 agents" in err and "the env has 4 agents" in err


def test_eval_refuses_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    assert main(["commformer", "eval", "--checkpoint", str(junk)]) == 2
    assert "not a checkpoint file" in capsys.readouterr().err


def test_eval_runs_a_checkpoint_and_writes_a_gif(tmp_path, capsys):
    path = CommFormerPolicy(n_agents=3, obs_dim=29, n_actions=5, graph="none").save(
        tmp_path / "n3.pt", {"env": {"name": "predator_prey", "dim": 5, "agents": 3}}
    )
    gif = tmp_path / "ep.gif"
    assert (
        main(
            ["commformer", "eval", "--checkpoint", str(path), "--episodes", "5", "--gif", str(gif)]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "predator_prey 5x5 N=3 graph=none" in out and "messages/step 0.00" in out
    assert gif.stat().st_size > 0


def test_the_shipped_checkpoint_is_a_trained_10x10_policy(capsys):
    """`--checkpoint pretrained`: the 10x10/5 policy of rlsys/commformer/pretrained/
    (README: success 0.94 on the 100 evaluation episodes); the first 20 here."""
    assert main(["commformer", "eval", "--checkpoint", "pretrained", "--episodes", "20"]) == 0
    out = capsys.readouterr().out
    assert "predator_prey 10x10 N=5 graph=learned S=0.4" in out
    success = float(out.split("success rate ")[1].split(",")[0])
    assert success >= 0.7


def test_episode_limit_follows_the_grid_unless_given():
    import argparse

    from rlsys.commformer.cli import _apply_flags
    from rlsys.commformer.train import CommFormerTrainConfig

    def flags(**kw):
        base = dict(
            env=None,
            dim=None,
            agents=None,
            vision=None,
            max_steps=None,
            sparsity=None,
            graph=None,
            gating=False,
            seed=None,
            actors=None,
            steps=None,
            init_weights=None,
        )
        return argparse.Namespace(**{**base, **kw})

    for kw, limit in (
        ({}, 40),
        ({"dim": 5, "agents": 3}, 20),
        ({"dim": 20}, 80),
        ({"dim": 5, "agents": 3, "max_steps": 9}, 9),
    ):
        cfg = CommFormerTrainConfig()
        _apply_flags(cfg, flags(**kw))
        assert cfg.env.max_steps == limit, kw
