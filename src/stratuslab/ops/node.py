"""`stratus-node`: the node agent of a hypervisor host.

`enroll` trades an enrolment token (`stratus host add NAME` on the front end) for the host's
certificate: a new key and request made here, signed by the cloud CA, whose fingerprint the
token carries (the agent checks the CA it receives before it sends the token).  The files go
to `<data dir>/agent` (key 0600).  `run` serves the host's drivers to the front ends.
"""

from __future__ import annotations

import hashlib
import ssl

import click

from stratuslab.core.errors import AuthenticationFailed, CloudError, Unavailable
from stratuslab.ops.common import config_option, data_dir_option, fail, load


@click.group()
@click.version_option(package_name="stratuslab")
def main() -> None:
    """StratusLab node agent: enrol this host, then serve its hypervisor to the front ends."""


@main.command("enroll")
@config_option
@data_dir_option
@click.option("--server", required=True, help="the front end's URL (https://HOST:PORT)")
@click.option("--token", required=True, help="the token printed by: stratus host add NAME")
@click.option("--name", help="this host's name, as given to stratus host add "
                             "(default: [server] node_name)")
def enroll(config: str | None, data_dir: str | None, server: str, token: str,
           name: str | None) -> None:
    """Make this host's key and have the cloud CA sign its certificate."""
    import httpx

    from stratuslab.core.enrolment import split_token
    from stratuslab.drivers.pki import new_key_and_request
    from stratuslab.drivers.pki.ca import write_private

    try:
        settings = load(config, data_dir)
        host = name or settings.server.node_name
        _secret, fingerprint = split_token(token)
        base = server.rstrip("/")
        where = settings.data_dir / "agent"
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            # the CA first, unverified, then checked against the token before the token leaves
            ca_pem = httpx.get(f"{base}/api/v1/enrol/ca", verify=False, timeout=30) \
                .raise_for_status().json()["ca"]
            der = ssl.PEM_cert_to_DER_cert(ca_pem)
            if hashlib.sha256(der).hexdigest() != fingerprint:
                raise AuthenticationFailed(f"{server} does not serve the cloud CA the token "
                                           "names", hint="check --server and the token")
            (where / "ca.pem").write_text(ca_pem)
            verify: ssl.SSLContext | bool = (ssl.create_default_context(cafile=str(
                where / "ca.pem")) if base.startswith("https:") else False)
            key, csr = new_key_and_request(host)
            answer = httpx.post(f"{base}/api/v1/enrol", json={"token": token, "csr": csr},
                                verify=verify, timeout=30)
        except httpx.HTTPError as exc:
            raise Unavailable(f"cannot reach the front end at {server}: {exc}",
                              hint="check --server (the URL stratus-server prints)") from None
        if answer.status_code != 200:
            raise AuthenticationFailed(f"the front end refused the enrolment: "
                                       f"{answer.json().get('detail', answer.text)}",
                                       hint="issue a new token: stratus host add " + host)
        write_private(where / "host.key", key)
        (where / "host.pem").write_text(answer.json()["certificate"])
        (where / "server").write_text(base + "\n")
    except CloudError as exc:
        fail(exc)
    click.echo(f"host {host} enrolled with {base}: certificate {where / 'host.pem'}")


@main.command("run")
@config_option
@data_dir_option
@click.option("--listen", default="127.0.0.1:9301", show_default=True,
              help="HOST:PORT the agent serves the front ends on (HTTPS, mutual TLS)")
@click.option("--advertise", help="the URL front ends reach this agent at "
                                  "(default: https://LISTEN)")
@click.option("--hypervisor", help="hypervisor driver: qemu (default), libvirt or simulated")
@click.option("--server", help="the front end's URL (default: the one enroll used)")
def run(config: str | None, data_dir: str | None, listen: str, advertise: str | None,
        hypervisor: str | None, server: str | None) -> None:
    """Serve this host's hypervisor to the front ends and report to them."""
    import asyncio

    import uvicorn

    from stratuslab.api.tls import uvicorn_tls_options
    from stratuslab.bootstrap.agent import agent_dir, build_agent
    from stratuslab.ops.logs import configure_logging
    from stratuslab.ops.serve import bind, url_of

    try:
        settings = load(config, data_dir, hypervisor=hypervisor)
        sock = bind(listen, key="--listen")
        endpoint = advertise or url_of(sock, "https")
        agent = build_agent(settings, endpoint, server=server)
        configure_logging(settings.server)
    except CloudError as exc:
        fail(exc)
    where = agent_dir(settings)
    options = uvicorn_tls_options(str(where / "host.pem"), str(where / "host.key"))
    config_ = uvicorn.Config(agent.app, log_level="warning", access_log=False, log_config=None,
                             server_header=False, **options)
    click.echo(f"stratus-node: host {agent.node.name} ({agent.node.hypervisor.name}) serving "
               f"on {endpoint}")
    asyncio.run(uvicorn.Server(config_).serve(sockets=[sock]))
