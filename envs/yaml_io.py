"""Reading YAML that users hand in: a syntax error becomes one line, not a traceback."""

from __future__ import annotations

import yaml


def parse_yaml(text: str, where: str, error: type[Exception] = ValueError):
    """``yaml.safe_load(text)``; a syntax error raises ``error("<where>: <first line>")``.

    Also values YAML cannot build (``2021-02-30`` is a date; an integer of 5,000 digits)
    and documents nested too deep for the parser.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise error(f"{where}: {first}") from None
    except (ValueError, OverflowError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{where}: invalid YAML value ({first})") from None
    except RecursionError:
        raise error(f"{where}: YAML nested too deeply") from None
