"""The classic `stratus-NAME` commands of the original StratusLab client.

`stratus-NAME ARGS` is `stratus [global options] NAME [other ARGS]`, the global options taken
from anywhere on the line.  Sits above cli/main.py (it runs the `stratus` group), so the
command modules never import it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from stratuslab.cli.main import cli

GLOBAL_OPTIONS = {"--endpoint", "-u", "--username", "-p", "--password", "--token", "--section"}


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """(global options with their values, everything else) of a classic command line."""
    globals_: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in GLOBAL_OPTIONS and i + 1 < len(argv):
            globals_ += argv[i : i + 2]
            i += 2
            continue
        if arg.split("=", 1)[0] in GLOBAL_OPTIONS and "=" in arg:
            globals_.append(arg)
        else:
            rest.append(arg)
        i += 1
    return globals_, rest


def run(name: str) -> None:
    globals_, rest = split_argv(sys.argv[1:])
    cli(args=[*globals_, name, *rest], prog_name=f"stratus-{name}")


def run_instance() -> None:
    run("run-instance")


def describe_instance() -> None:
    run("describe-instance")


def kill_instance() -> None:
    run("kill-instance")


def shutdown_instance() -> None:
    run("shutdown-instance")


def create_volume() -> None:
    run("create-volume")


def describe_volumes() -> None:
    run("describe-volumes")


def update_volume() -> None:
    run("update-volume")


def attach_volume() -> None:
    run("attach-volume")


def detach_volume() -> None:
    run("detach-volume")


def delete_volume() -> None:
    run("delete-volume")
