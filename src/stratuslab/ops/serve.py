"""Serving: claim the listening sockets first (a port in use is reported before anything is
built, and port 0 becomes the real port in what is printed), then build the cloud and hand the
sockets to uvicorn; SIGHUP re-reads the settings a running server may change (ops/reload.py)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import click

from stratuslab.core.errors import Unavailable
from stratuslab.ops.logs import configure_logging
from stratuslab.ops.reload import Reloader
from stratuslab.persistence import db as dbm
from stratuslab.settings import Settings, parse_listen


def bind(listen: str, *, key: str) -> socket.socket:
    host, port = parse_listen(listen, key=key)
    host = host or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    except OSError as exc:
        sock.close()
        raise Unavailable(f"cannot listen on {listen} (setting {key}): {exc.strerror}",
                          hint=f"stop what uses it (ss -ltnp 'sport = :{port}') or choose "
                          "another address with --listen HOST:PORT") from None
    return sock


def url_of(sock: socket.socket, scheme: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def serve(settings: Settings, *, all_in_one: bool,
          reread: Callable[[], Settings] | None = None) -> None:
    """`reread`: the settings as they are now (SIGHUP, `stratus-server reload`); by default the
    ones given."""
    import uvicorn

    from stratuslab.bootstrap import admin_password_file, build_cloud, write_secret
    from stratuslab.persistence.locks import exclusive

    if not all_in_one and not dbm.exists(settings.database_url):
        raise Unavailable(f"there is no database at {dbm.sqlite_path(settings.database_url)}",
                          hint=f"check --data-dir/--config, or create one: stratus-server db "
                          f"upgrade --create --data-dir {settings.data_dir} (or start with "
                          "--all-in-one)")
    plain = bind(settings.server.listen, key="server.listen")
    tls = bind(settings.tls.listen, key="tls.listen") if settings.tls.listen else None
    configure_logging(settings.server)
    try:
        # front ends starting together on one database seed its default rows one at a time
        with exclusive(settings.database_url, "start-up"):
            cloud = build_cloud(settings, create_db=all_in_one)
            generated = cloud.identity.ensure_admin(settings.server.admin_password or None)
    except BaseException:
        plain.close()
        if tls:
            tls.close()
        raise
    if generated:
        path = admin_password_file(settings)
        write_secret(path, generated + "\n")
        # the password goes to the terminal that started the server, never into a log or a
        # service manager's journal that standard output may be
        shown = f"password: {generated} (also in {path})" if sys.stdout.isatty() else \
            f"its password is in {path} (readable by this user only)"
        click.echo(f"bootstrap admin user 'admin' created; {shown}")
    common: dict[str, Any] = {"log_level": "warning", "access_log": False, "log_config": None,
                              "server_header": False}  # api/guard sends the one Server header
    servers = [(uvicorn.Server(uvicorn.Config(cloud.app, **common)), plain)]
    click.echo(f"stratus-server listening on {url_of(plain, 'http')} "
               f"(data in {settings.data_dir})")
    if tls is not None:
        from stratuslab.api.tls import uvicorn_tls_options

        options = uvicorn_tls_options(settings.tls.cert, settings.tls.key)
        servers.append((uvicorn.Server(uvicorn.Config(cloud.app, lifespan="off", **common,
                                                      **options)), tls))
        click.echo(f"stratus-server listening on {url_of(tls, 'https')} (client certificates)")
    with Reloader(settings.data_dir, reread or (lambda: settings), cloud.reload) as reloader:
        asyncio.run(_serve_all(servers, reloader.reload))


async def _serve_all(servers: list[tuple[Any, socket.socket]],
                     reload: Callable[[], None]) -> None:
    """The first (plain) listener owns the app's lifespan; the others stop with it.  SIGHUP
    reloads (in a worker thread: it reads files)."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, reload))
    (first, first_sock), rest = servers[0], servers[1:]
    tasks = [asyncio.create_task(server.serve(sockets=[sock])) for server, sock in rest]
    try:
        await first.serve(sockets=[first_sock])
    finally:
        for server, _sock in rest:
            server.should_exit = True
        for task in tasks:
            await task
