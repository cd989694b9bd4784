"""One config system: dataclasses with documented fields, loaded from YAML.

The reader lives in :mod:`envs.config_io` (the simulators, which import nothing from
rlsys, read their scenario files with it too); this module re-exports it for rlsys. A
field's type hint gives its type and allowed values (``Literal[...]``), ``config_field``
its range; configs derive from ``Config`` so that one built in Python is checked too.
Unknown keys, wrong types and out-of-range values raise ``ConfigError`` (a ValueError)
with one line naming the file, the key path and the value.
"""

from envs.config_io import (
    Config,
    ConfigError,
    config_field,
    from_dict,
    invalid,
    load_config,
    read_yaml_file,
    validate,
)

__all__ = [
    "Config",
    "ConfigError",
    "config_field",
    "from_dict",
    "invalid",
    "load_config",
    "read_yaml_file",
    "validate",
]
