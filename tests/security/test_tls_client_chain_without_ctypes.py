"""Attack surface: the TLS client-chain capture wrote into OpenSSL structures through ctypes,
at pointer offsets of CPython 3.11's private object layout, before checking the result; on
another Python (or a debug build) that is memory corruption reachable by any client.

TLS is now terminated in our own asyncio protocol over pyOpenSSL (a supported API that reads
the peer chain and takes a verify callback), so the package imports no ctypes at all; a real
handshake still brings a whole proxy chain, a self-signed certificate is a 401 with an audit
line rather than a TLS alert (tests/integration/auth/test_tls_uvicorn.py), and a client that
never finishes its handshake is dropped."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import stratuslab
from stratuslab.api.tls.terminator import TlsTerminator, server_context
from stratuslab.services.auth.x509 import issue

PACKAGE = Path(stratuslab.__file__).parent


def test_no_module_of_the_package_uses_ctypes() -> None:
    users = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n == "ctypes" or n.startswith("ctypes.") for n in names):
                users.append(str(path.relative_to(PACKAGE)))
    assert users == []


def test_client_that_never_finishes_its_handshake_is_dropped(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    ca = issue.make_ca("/DC=org/DC=test/CN=Handshake CA", now)
    server = issue.issue_cert(ca, "/DC=org/DC=test/CN=localhost", now, server=True,
                              hosts=["127.0.0.1"])
    (tmp_path / "c.pem").write_bytes(server.cert_pem())
    (tmp_path / "k.pem").write_bytes(server.key_pem())
    context = server_context(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))

    class Inner(asyncio.Protocol):
        made = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            Inner.made = True

    async def scenario() -> bytes:
        srv = await asyncio.get_running_loop().create_server(
            lambda: TlsTerminator(context, Inner(), handshake_timeout=0.2), "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:  # say nothing: the server must end the connection itself
            return await asyncio.wait_for(reader.read(), timeout=60)
        finally:
            writer.close()
            srv.close()
            await srv.wait_closed()

    assert asyncio.run(scenario()) == b""
    assert not Inner.made
