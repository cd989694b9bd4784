"""Reading YAML that users hand in: a syntax error becomes one line, not a traceback."""

from __future__ import annotations

import yaml


def parse_yaml(text: str, where: str, error: type[Exception] = ValueError):
    """``yaml.safe_load(text)``; a syntax error raises ``error("<where>: <first line>")``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise error(f"{where}: {first}") from None
