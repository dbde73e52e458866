"""Host side of the tiny guest's test agent on the virtio-serial port ``agent.0``.

The hypervisor exposes the port as a unix socket (``-chardev socket,id=ag,path=SOCK,server=on,
wait=off -device virtio-serial-pci -device virtserialport,chardev=ag,name=agent.0``).  Framing,
one line each way, ASCII:

    host -> guest:  <id> <base64 of a shell command>\\n
    guest -> host:  <id> <exit code> <base64 of the command's stdout and stderr>\\n

``<id>`` is a fresh random hex string; answers with another id (left over from an earlier
request whose caller gave up) are skipped.  The guest runs the command with ``sh`` as root.
Used by tests and diagnostics; production guests are reached over SSH.  Standard library and
core only.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import socket
import time

from stratuslab.core.errors import DriverError


def _connect(socket_path: str, deadline: float) -> socket.socket:
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(socket_path)
            return sock
        except OSError as exc:
            sock.close()
            if time.monotonic() >= deadline:
                raise DriverError(
                    f"guest agent socket {socket_path} does not accept connections: {exc}",
                    hint="is the VM running with the agent.0 virtio-serial port?",
                ) from exc
            time.sleep(0.1)


def _read_answer(sock: socket.socket, ident: str, deadline: float) -> tuple[int, str]:
    buf = b""
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            parts = line.decode("ascii", "replace").strip().split(" ")
            if len(parts) >= 2 and parts[0] == ident:
                try:
                    output = base64.b64decode(parts[2]) if len(parts) > 2 else b""
                    return int(parts[1]), output.decode("utf-8", "replace")
                except (ValueError, binascii.Error) as exc:
                    raise DriverError(f"guest agent answered a malformed line: {line!r}") from exc
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise DriverError("guest agent closed the connection before answering")
        buf += chunk


def run_in_guest(socket_path: str, command: str, timeout: float = 30.0) -> tuple[int, str]:
    """Run `command` with the guest's ``sh``; return (exit code, stdout+stderr).

    Waits up to `timeout` seconds in all (connecting, the guest agent starting, the command).
    """
    deadline = time.monotonic() + timeout
    ident = secrets.token_hex(8)
    request = f"{ident} {base64.b64encode(command.encode()).decode()}\n".encode()
    sock = _connect(socket_path, deadline)
    try:
        sock.sendall(request)
        return _read_answer(sock, ident, deadline)
    except TimeoutError as exc:
        raise DriverError(
            f"guest agent on {socket_path} did not answer {command[:60]!r} within {timeout:.0f} s",
            hint="the guest may still be booting, or the command may hang",
        ) from exc
    finally:
        sock.close()
