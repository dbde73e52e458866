"""VM lifecycle jobs record where they are (the job's `step`), which the CLI's progress shows.

Over a real SQLite database and the simulated drivers; the node's drivers are wrapped by spies
(the real call still runs) that read the VM's job at the moment the driver is called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.cloud import drain

from stratuslab.bootstrap import Cloud
from stratuslab.core.commands import RunInstance, vm_command
from stratuslab.core.entities import Principal


def _spy_steps(cloud: Cloud, vm_id: int, monkeypatch: pytest.MonkeyPatch,
               calls: list[tuple[Any, str]]) -> list[tuple[str, str | None]]:
    """Wrap each driver method in `calls` (object, method name); each call appends the method
    name and the step of the VM's running job at that moment."""
    seen: list[tuple[str, str | None]] = []

    def wrap(real: Callable[..., Any], name: str) -> Callable[..., Any]:
        def spy(*args: Any, **kwargs: Any) -> Any:
            with cloud.runner.uow(readonly=True) as uow:
                job = uow.jobs.active_for_vm(vm_id)
            seen.append((name, job.step if job else None))
            return real(*args, **kwargs)
        return spy

    for obj, name in calls:
        monkeypatch.setattr(obj, name, wrap(getattr(obj, name), name))
    return seen


def test_deploy_and_shutdown_jobs_record_each_step(
        cloud: Cloud, admin: Principal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "disk.raw"
    f.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(f))
    assert img.id is not None
    [(vm, job)] = cloud.compute.run(admin, RunInstance(img.id, name="web"))
    assert vm.id is not None and job.id is not None
    node = cloud.nodes["localhost"]
    seen = _spy_steps(cloud, vm.id, monkeypatch, [
        (node.storage, "prepare"), (node.hypervisor, "start"), (node.hypervisor, "shutdown"),
        (node.storage, "release")])
    drain(cloud)
    assert seen == [("prepare", "prolog: disks over the image on localhost"),
                    ("start", "boot on localhost")]
    # the finished job tells where it ended: the VM's state
    assert cloud.compute.job(admin, job.id).step == "now running"
    seen.clear()
    stop = cloud.compute.act(admin, vm_command("shutdown", vm.id))
    drain(cloud)
    assert seen == [("shutdown", "shutdown: waiting for the guest to stop"),
                    ("release", "epilog: stopping, disks to quarantine")]
    assert cloud.compute.job(admin, stop.id).step == "now done"
