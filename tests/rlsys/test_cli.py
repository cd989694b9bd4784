"""`rlsys` entry point: user-caused errors are one line and exit code 2."""

import errno

from rlsys import cli


def test_an_os_error_mid_run_is_one_line(monkeypatch, capsys):
    def full_disk(args):
        raise OSError(errno.ENOSPC, "No space left on device", "runs/x/metrics.jsonl")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=full_disk)
    sub = parser._subparsers._group_actions[0].choices["jobshop"]
    sub._subparsers._group_actions[0].choices["rules"].set_defaults(func=full_disk)
    assert cli.main(["jobshop", "rules"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlsys: error: ") and "No space left" in err and "\n" not in err
