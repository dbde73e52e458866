"""The user's client configuration, with StratusLab's precedence:
command-line option, then STRATUSLAB_<KEY> environment variable, then the config file
(~/.stratuslab/stratuslab-user.cfg, INI: [default] plus named sections picked by
`selected_section` or --section), then the built-in default."""

from __future__ import annotations

import configparser
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULTS: Mapping[str, str] = {
    "endpoint": "http://127.0.0.1:8080",
    "username": "",
    "password": "",
    "token": "",
    "user_public_key_file": "~/.ssh/id_rsa.pub",
    "default_instance_type": "",
    "default_context_method": "cloud-init",
    "marketplace_endpoint": "",
    "pdisk_endpoint": "",
    "endpoint_timeout": "30",
}


def config_path() -> Path:
    return Path(os.environ.get("STRATUSLAB_CONFIG", "~/.stratuslab/stratuslab-user.cfg")).expanduser()


@dataclass(frozen=True)
class ClientConfig:
    values: Mapping[str, str]

    def get(self, key: str) -> str:
        return self.values.get(key, DEFAULTS.get(key, ""))

    @property
    def endpoint(self) -> str:
        return self.get("endpoint").rstrip("/")


def load(options: Mapping[str, str | None], *, section: str | None = None,
         env: Mapping[str, str] | None = None, path: Path | None = None) -> ClientConfig:
    env = os.environ if env is None else env
    path = path or config_path()
    parser = configparser.ConfigParser(interpolation=None)
    file_values: dict[str, str] = {}
    if path.exists():
        parser.read(path)
        if parser.has_section("default"):
            file_values.update(parser.items("default"))
        chosen = section or file_values.get("selected_section")
        if chosen and parser.has_section(chosen):
            file_values.update(parser.items(chosen))
    values = dict(DEFAULTS)
    values.update(file_values)
    for key in DEFAULTS:
        env_value = env.get(f"STRATUSLAB_{key.upper()}")
        if env_value is not None:
            values[key] = env_value
    for key, value in options.items():
        if value is not None:
            values[key] = value
    return ClientConfig(values)
