"""The shell blocks of README.md and docs/*.md are run, so the documentation cannot drift.

Every fenced shell block (no language, or sh/bash/shell/console) carries a marker on the line
before it:
- `<!-- doc-test: start -->`: the command that starts the server; this test runs it (from the
  repository root) with its own port and data directory, and with the simulated hypervisor and
  the test run's image build cache given by environment variables (STRATUSLAB_<SECTION>_<KEY>);
- `<!-- doc-test: server -->`: run in order, in one bash session (`set -euo pipefail`, so a
  failing line fails the test) from a scratch directory, against that server; the only change
  made to their text is the endpoint's port;
- `<!-- doc-test: illustration: <why, and which test covers it> -->`: shown, not run here.
A shell block without a marker fails `test_every_shell_block_is_marked`; every settings (TOML)
block must pass `stratus-server config check`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.helpers.servers import BIN, CACHE, free_port
from tests.helpers.waits import wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
SHELL = {"", "sh", "bash", "shell", "console"}
MARK = re.compile(r"^<!-- doc-test: (start|server|illustration)(?:: (.+))? -->$")
FENCE = re.compile(r"^\s*```(\S*)\s*$")  # also inside list items
DOC_PORT = "127.0.0.1:8080"


@dataclass(frozen=True)
class Block:
    where: str  # file:line of the fence
    lang: str
    kind: str | None
    reason: str | None
    text: str


def blocks(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    found, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start = i
        i += 1
        while not lines[i].lstrip().startswith("```"):
            i += 1
        before = next((ln.strip() for ln in reversed(lines[:start]) if ln.strip()), "")
        mark = MARK.match(before)
        found.append(Block(f"{path.relative_to(ROOT)}:{start + 1}", fence.group(1),
                           mark.group(1) if mark else None, mark.group(2) if mark else None,
                           textwrap.dedent("\n".join(lines[start + 1:i]))))
        i += 1
    return found


ALL = [b for path in DOCS for b in blocks(path)]


def test_the_documents_are_read() -> None:
    kinds = [b.kind for b in ALL if b.lang in SHELL]
    assert kinds.count("start") == 1 and kinds.count("server") >= 3, kinds


@pytest.mark.parametrize("block", [b for b in ALL if b.lang in SHELL], ids=lambda b: b.where)
def test_every_shell_block_is_marked(block: Block) -> None:
    assert block.kind, (f"{block.where}: mark the block with <!-- doc-test: server --> (run "
                        "against the test's server) or <!-- doc-test: illustration: why -->")
    if block.kind == "illustration":
        assert block.reason and len(block.reason) > 20, f"{block.where}: say why it is not run"


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "toml"
                                   and not b.text.lstrip().startswith("[project")],
                         ids=lambda b: b.where)
def test_every_settings_block_is_accepted_by_config_check(block: Block, tmp_path: Path) -> None:
    """The README's settings (TOML) blocks name real keys with values of their types."""
    path = tmp_path / "settings.toml"
    path.write_text(block.text)
    res = subprocess.run([str(BIN / "stratus-server"), "config", "check", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"{block.where}: {res.stdout}{res.stderr}"


@pytest.fixture
def started(tmp_path: Path) -> Iterator[str]:
    """The README's own start command, on a free port and a scratch data directory."""
    [start] = [b for b in ALL if b.kind == "start"]
    port = f"127.0.0.1:{free_port()}"
    command = start.text.replace(DOC_PORT, port).replace("/tmp/sl", str(tmp_path / "sl"))
    env = {**os.environ, "STRATUSLAB_HYPERVISOR_DRIVER": "simulated",
           "STRATUSLAB_IMAGES_BUILD_CACHE": f"{CACHE}/images"}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def answers() -> bool:
        assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        try:
            return httpx.get(f"http://{port}/api/v1/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, timeout=60, message="the README's stratus-server never answered")
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        log.close()


def test_server_blocks_run_in_order_against_the_readme_server(
        started: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    script = ["set -euo pipefail"]
    for block in (b for b in ALL if b.kind == "server"):
        script += [f"echo '### {block.where}' >&2", block.text.replace(DOC_PORT, started)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATUSLAB_")}
    env.update(PATH=f"{BIN}:{os.environ['PATH']}", HOME=str(tmp_path))  # ~/.stratuslab is new
    res = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"{res.stderr[-4000:]}\n--- stdout:\n{res.stdout[-2000:]}"
    assert "CREATED results/" in res.stdout and "ATTACHED " in res.stdout, res.stdout
