"""`rlsys <command>` (also `python -m rlsys`).

Each workload adds its commands through an ``add_commands(subparsers)`` function in its
own ``cli`` module; a command is a function ``(args) -> exit code``. Errors caused by
the user's input (bad files, unknown names, values out of range) print one line and
exit 2; set RLSYS_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlsys", description="Ray-distributed simulation and reinforcement learning."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from rlsys import run as run_cmd

    run_cmd.add_commands(sub)

    from rlsys.jobshop import cli as jobshop_cli

    jobshop_cli.add_commands(sub)

    from rlsys.commformer import cli as commformer_cli

    commformer_cli.add_commands(sub)

    from rlsys.parl import cli as parl_cli

    parl_cli.add_commands(sub)

    from rlsys.transport import cli as transport_cli

    transport_cli.add_commands(sub)

    from rlsys.calibration import cli as calibration_cli

    calibration_cli.add_commands(sub)

    from rlsys.tuner import cli as tuner_cli

    tuner_cli.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, KeyError) as exc:  # OSError: e.g. the disk filled up mid-run
        if os.environ.get("RLSYS_DEBUG"):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"rlsys: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rlsys: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
