"""Progress of long operations: one Rich display for every job the CLI waits for.

A job reports where it is (`step`, `progress {done, total}` in bytes when it moves data); the
display shows the step, a bar and the bytes when there are some, else a spinner.  When stderr
is not a terminal, each new step is one line on stderr instead (scripts and logs see what
happened; stdout keeps only the result).  Imports cli modules only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from stratuslab.cli.client import Api
from stratuslab.cli.output import stderr_console

Update = Callable[[list[dict[str, Any]]], None]


@contextmanager
def job_display(label: str, *, count: int | None = None) -> Iterator[Update]:
    """A display labelled `label` of one job (its step and bytes), or of `count` jobs (how many
    have finished); yields the update to give Api.wait_jobs."""
    console = stderr_console()
    columns: tuple[ProgressColumn, ...] = (
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
        TransferSpeedColumn(), TimeElapsedColumn())
    if count is not None:  # several jobs: the bar counts finished ones
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    said: dict[int, str] = {}  # the last step written of each job (stderr not a terminal)
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(label if count else f"{label}: queued", total=count)

        def update(jobs: list[dict[str, Any]]) -> None:
            for job in jobs:
                step = job.get("step") or job["state"]
                if not console.is_terminal and said.get(job["id"]) != step:
                    said[job["id"]] = step
                    click.echo(f"{label}: {_whose(job, count)}{step}", err=True)
            if count is not None:
                finished = sum(1 for j in jobs if j["state"] in ("done", "failed"))
                progress.update(task, completed=finished)
                return
            job = jobs[0]
            moved = job.get("progress") or {}
            progress.update(task, description=f"{label}: {job.get('step') or job['state']}",
                            completed=moved.get("done") or 0, total=moved.get("total"))

        yield update


def _whose(job: dict[str, Any], count: int | None) -> str:
    """Which of several jobs a step line is about (its VM when it has one)."""
    if count is None:
        return ""
    return f"VM {job['vm_id']}: " if job.get("vm_id") else f"job {job['id']}: "


def follow_job(api: Api, job_id: int, label: str) -> dict[str, Any]:
    """Wait for one job with a progress display; the finished job."""
    with job_display(label) as update:
        [job] = api.wait_jobs([job_id], on_update=update)
    return job


def follow_jobs(api: Api, job_ids: list[int], label: str) -> list[dict[str, Any]]:
    """Wait for several jobs, the bar counting those finished; the finished jobs."""
    with job_display(label, count=len(job_ids)) as update:
        return api.wait_jobs(job_ids, on_update=update)


@contextmanager
def working(label: str) -> Iterator[None]:
    """A spinner on a terminal while one long request runs (the server answers when it is
    done); nothing otherwise, so that an error is the first thing on stderr."""
    console = stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(label):
        yield
