"""Loopback networking helpers: free ports and small HTTP servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_http(handler: Any) -> Iterator[str]:
    """Run an HTTP server with `handler` on 127.0.0.1; yields its base URL (no trailing slash)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def http_directory(directory: Path) -> Iterator[str]:
    """Serve the files of `directory` over HTTP on 127.0.0.1; yields the base URL."""
    with serve_http(functools.partial(_QuietFiles, directory=str(directory))) as url:
        yield url


@contextlib.contextmanager
def www_directory(parent: Path) -> Iterator[tuple[Path, str]]:
    """A new `parent/www` directory served over HTTP on 127.0.0.1: (directory, base URL)."""
    root = parent / "www"
    root.mkdir()
    with http_directory(root) as url:
        yield root, url
