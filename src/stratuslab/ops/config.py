"""`stratus-server config check FILE` and `config reference`."""

from __future__ import annotations

from pathlib import Path

import click

from stratuslab.drivers.registry import DriverKind, installed
from stratuslab.ops.common import fail
from stratuslab.settings import Settings, SettingsError, load_settings
from stratuslab.settings.reference import generate, line_of


@click.group("config")
def config() -> None:
    """Check a settings file; print the configuration reference."""


@config.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def check(file: str) -> None:
    """Validate FILE (alone, without the environment); name the bad key and its line."""
    try:
        check_drivers(load_settings(file, env={}))
    except SettingsError as exc:
        where = ""
        if exc.key and exc.key != "-" and Path(file).is_file():
            line = line_of(Path(file).read_text(errors="replace"), exc.key)
            where = f" line {line}" if line else ""
        fail(f"{file}{where}: {exc.full_message}")
    click.echo(f"{file}: ok")


def check_drivers(settings: Settings) -> None:
    """Every driver the settings name is installed (an entry point of its kind's group), as the
    server checks when it builds them; no driver is loaded here."""
    named = [(DriverKind.HYPERVISOR, "hypervisor.driver", settings.hypervisor.driver),
             (DriverKind.NETWORK, "network.driver", settings.network.driver),
             (DriverKind.INSTANCE_STORAGE, "hypervisor.instance_storage",
              settings.hypervisor.instance_storage)]
    named += [(DriverKind.VOLUME_BACKEND, f"storage.pools.{pool}.backend",
               str(table.get("backend", "file"))) for pool, table in settings.storage.pools.items()]
    for kind, key, name in named:
        if name and name not in installed(kind):
            raise SettingsError(f"setting {key}: {name!r} is unknown (no installed driver of "
                                f"entry point group {kind.value} has that name)",
                                hint=f"choose one of: {', '.join(installed(kind))}")


@config.command("reference")
def reference() -> None:
    """Print the configuration reference (Markdown; docs/configuration.md is this output)."""
    click.echo(generate(), nl=False)
