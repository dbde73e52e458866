"""The one place that runs external commands.

Argument lists only (never a shell string), a timeout on every call, and the command's stderr
carried into the `DriverError` the user sees.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stratuslab.core.errors import DriverError

DEFAULT_TIMEOUT = 60.0
log = logging.getLogger("stratuslab.drivers.process")

#: what `spawn` returns, and what waiting on it may raise (so drivers need not import subprocess)
Process = subprocess.Popen[bytes]
TimeoutExpired = subprocess.TimeoutExpired


@dataclass(frozen=True, slots=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    """Run `argv`; raise DriverError naming the command and quoting its stderr on failure."""
    argv = tuple(str(a) for a in argv)
    log.debug("run %s", " ".join(argv))
    try:
        proc = subprocess.run(
            argv,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
            check=False,
        )
    except FileNotFoundError as exc:
        raise DriverError(
            f"{argv[0]} is not installed", hint="run scripts/setup.sh to install what is missing"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise DriverError(f"{' '.join(argv[:3])} timed out after {timeout:.0f} s") from exc
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
    log.debug("%s exited %d", argv[0], proc.returncode)
    if check and proc.returncode != 0:
        raise DriverError(
            f"{' '.join(argv[:3])} failed (exit {proc.returncode}): "
            f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
        )
    return result


def spawn(
    argv: Sequence[str],
    *,
    stdout_path: str | None = None,
    stderr_path: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start a long-running process (QEMU, dnsmasq, tgtd) detached from our process group."""
    out = open(stdout_path, "ab") if stdout_path else subprocess.DEVNULL
    err = open(stderr_path, "ab") if stderr_path else subprocess.DEVNULL
    log.debug("spawn %s", " ".join(str(a) for a in argv))
    try:
        return subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=None if env is None else {**os.environ, **env},
            cwd=cwd,
            start_new_session=new_session,
        )
    except FileNotFoundError as exc:
        raise DriverError(
            f"{argv[0]} is not installed", hint="run scripts/setup.sh to install what is missing"
        ) from exc
    finally:
        for f in (out, err):
            if hasattr(f, "close"):
                f.close()
