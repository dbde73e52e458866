"""`stratus-server ca init|show`: the cloud's own certificate authority.

`init` makes the CA key and certificate in `<data dir>/ca` (once: every enrolled host trusts it)
and the front end's certificate that agents accept; `show` prints the CA's fingerprint, which
every enrolment token carries so an agent knows it talks to this cloud."""

from __future__ import annotations

import click

from stratuslab.core.errors import CloudError
from stratuslab.ops.common import config_option, data_dir_option, fail, load


@click.group("ca")
def ca() -> None:
    """The cloud's certificate authority (host enrolment, agent TLS)."""


@ca.command("init")
@config_option
@data_dir_option
@click.option("--name", "names", multiple=True,
              help="a DNS name or IP address agents reach this front end at (repeatable; "
                   "default: localhost and 127.0.0.1)")
def init(config: str | None, data_dir: str | None, names: tuple[str, ...]) -> None:
    """Create the cloud CA and this front end's certificate (refused if a CA exists)."""
    from stratuslab.bootstrap.hosts import ca_dir
    from stratuslab.drivers.pki import CloudCA

    try:
        authority = CloudCA(ca_dir(load(config, data_dir)))
        authority.init(names or ("localhost", "127.0.0.1"))
        cert, key = authority.front_end_files()
    except CloudError as exc:
        fail(exc)
    click.echo(f"cloud CA created in {authority.dir} (fingerprint {authority.fingerprint()})")
    click.echo(f"front end certificate: {cert} (key {key}); serve agents with [tls] listen, "
               "cert and key set to these files")


@ca.command("show")
@config_option
@data_dir_option
def show(config: str | None, data_dir: str | None) -> None:
    """Print where the cloud CA is and its SHA-256 fingerprint."""
    from stratuslab.bootstrap.hosts import ca_dir
    from stratuslab.drivers.pki import CloudCA

    try:
        authority = CloudCA(ca_dir(load(config, data_dir)))
        click.echo(f"{authority.dir}/ca.pem sha256 {authority.fingerprint()}")
    except CloudError as exc:
        fail(exc)
