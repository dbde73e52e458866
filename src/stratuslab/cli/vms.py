"""VM commands: run-instance, describe-instance, the lifecycle actions, console, list-types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stratuslab.cli import marketplace, network
from stratuslab.cli.client import Api, CliError
from stratuslab.cli.output import listed, print_json, print_table, wide_option
from stratuslab.cli.progress import follow_job, follow_jobs, working
from stratuslab.core.commands import (
    HoldVm,
    KillVm,
    PoweroffVm,
    RebootVm,
    RecoverDelete,
    RecoverFailure,
    RecoverRetry,
    RecoverSuccess,
    ReleaseVm,
    ResumeVm,
    ShutdownVm,
    StartVm,
    StopVm,
    SuspendVm,
    UndeployVm,
    VmCommand,
)

VM_COLUMNS = [("id", "id"), ("state", "state"), ("vcpu", "vcpu"), ("memory", "memory_mib"),
              ("host/ip", "where"), ("name", "name")]

pass_api = click.make_pass_decorator(object)


def _api(ctx: click.Context) -> Api:
    return ctx.obj.api  # type: ignore[no-any-return]


def _parse_context(text: str | None, files: tuple[str, ...]) -> dict[str, str]:
    """StratusLab's --context 'K=V#K2=V2' and --context-file (one K=V a line)."""
    pairs: list[str] = []
    if text:
        pairs += [p for p in text.split("#") if p.strip()]
    for name in files:
        pairs += [ln for ln in Path(name).read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise CliError(f"context entry {pair!r} is not KEY=VALUE")
        out[key.strip()] = value
    return out


def _cloud_init(spec: str | None) -> str | None:
    """StratusLab's --cloud-init 'mime,file#mime,file' -> a MIME multipart user-data."""
    if not spec:
        return None
    parts = []
    for item in spec.split("#"):
        mime, _, path = item.partition(",")
        if not path:
            raise CliError(f"--cloud-init entry {item!r} is not MIME-TYPE,FILE")
        parts.append((mime.strip(), Path(path.strip()).read_text()))
    if len(parts) == 1 and parts[0][0] in ("text/cloud-config", "cloud-config"):
        return parts[0][1]
    boundary = "==stratuslab-boundary=="
    body = [f'Content-Type: multipart/mixed; boundary="{boundary}"', "MIME-Version: 1.0", ""]
    for mime, text in parts:
        body += [f"--{boundary}", f"Content-Type: {mime}", "", text]
    body.append(f"--{boundary}--")
    return "\n".join(body) + "\n"


def _where(vm: dict[str, Any]) -> dict[str, Any]:
    return {**vm, "where": " ".join(x for x in (vm.get("host"), vm.get("ip")) if x)}


def wait_for(api: Api, jobs: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
    """Follow the jobs of a VM request: one job's steps with a bar, several counted (each job's
    steps are lines on stderr when it is not a terminal)."""
    if len(jobs) == 1:
        return [follow_job(api, jobs[0]["id"], label)]
    return follow_jobs(api, [j["id"] for j in jobs], label)


@click.command("run-instance")
@click.argument("image")
@click.option("-t", "--type", "itype", help="instance type (stratus list-types)")
@click.option("-n", "--number", "count", type=int, default=1, show_default=True)
@click.option("--cpu", type=int)
@click.option("--ram", type=int, help="MiB")
@click.option("--swap", type=int, help="MiB")
@click.option("--vm-name", help="VM name, also the guest's host name")
@click.option("-k", "--key", "key_file", help="SSH public key file (default from config)")
@click.option("--context", "context_text", help="K=V#K2=V2")
@click.option("--context-file", multiple=True)
@click.option("--context-method", type=click.Choice(["cloud-init", "one"]))
@click.option("--cloud-init", "cloud_init", help="mime,file#mime,file")
@click.option("--volatile-disk", type=int, multiple=True, help="GB; repeat for several")
@click.option("--hold", is_flag=True, help="create on hold")
@click.option("--persistent-disk", "persistent_disks", multiple=True, metavar="UUID",
              help="attach this volume (writable); repeatable")
@click.option("--readonly-disk", "readonly_disks", multiple=True, metavar="ID",
              help="attach a volume UUID or marketplace image read-only; repeatable")
@click.option("--address", help="the (public) IPv4 address to give the VM")
@click.option("--local-ip", is_flag=False, flag_value="auto", help="add a local-class NIC [IP]")
@click.option("--private-ip", is_flag=False, flag_value="auto", help="add a private NIC [IP]")
@click.option("--network", "networks", multiple=True, help="a NIC on this network; repeatable")
@click.option("--secgroup", "secgroups", multiple=True, help="security group of the NICs")
@click.option("--requirements", default="", metavar="EXPR",
              help='hosts it may run on, e.g. \'CPUS >= 4 & ARCH = "x86*"\'')
@click.option("--rank", default="", metavar="POLICY",
              help="pack, stripe or load (default: the cloud's scheduler policy)")
@click.option("--ha", is_flag=True, help="restart it on another host if its host fails")
@click.option("--idempotency-key", help="a retried call with the same key returns the first VMs")
@click.option("--no-wait", is_flag=True, help="return as soon as the cloud accepted the request")
@click.option("-q", "--quiet", is_flag=True, help="print 'id, ip' per VM only")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def run_instance(ctx: click.Context, image: str, itype: str | None, count: int, cpu: int | None,
                 ram: int | None, swap: int | None, vm_name: str | None, key_file: str | None,
                 context_text: str | None, context_file: tuple[str, ...],
                 context_method: str | None, cloud_init: str | None, volatile_disk: tuple[int, ...],
                 hold: bool, persistent_disks: tuple[str, ...], readonly_disks: tuple[str, ...],
                 address: str | None, local_ip: str | None, private_ip: str | None,
                 networks: tuple[str, ...], secgroups: tuple[str, ...],
                 requirements: str, rank: str, ha: bool,
                 idempotency_key: str | None, no_wait: bool, quiet: bool,
                 as_json: bool) -> None:
    """Start COUNT VMs from IMAGE (an image id, or a 27-character marketplace identifier)."""
    api = _api(ctx)
    cfg = ctx.obj.config
    if marketplace.is_marketplace_id(image):  # verified, policy-checked, downloaded once per node
        image = str(marketplace.fetch_image(api, image))
    for ref in readonly_disks:  # marketplace disks: checked and downloaded here, with progress
        if marketplace.is_marketplace_id(ref):
            marketplace.fetch_image(api, ref)
    if not image.isdigit():
        raise CliError(f"image {image!r} is not an image id; list them with: stratus image list")
    keys = []
    key_path = Path(key_file or cfg.get("user_public_key_file")).expanduser()
    if key_file and not key_path.exists():
        raise CliError(f"SSH public key file {key_path} does not exist")
    if key_path.exists():
        keys.append(key_path.read_text().strip())
    body = {
        "image": int(image), "type": itype or cfg.get("default_instance_type") or None,
        "count": count, "cpu": cpu, "ram": ram, "swap": swap, "name": vm_name, "hold": hold,
        "context_method": context_method or cfg.get("default_context_method"),
        "context": _parse_context(context_text, context_file), "ssh_keys": keys,
        "user_data": _cloud_init(cloud_init), "volatile_disks": list(volatile_disk),
        "persistent_disks": list(persistent_disks), "readonly_disks": list(readonly_disks),
        "nics": network.nic_requests(address, local_ip, private_ip, networks, secgroups),
        "requirements": requirements, "rank": rank, "ha": ha,
    }
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    made = api.post("/api/v1/vms", json=body, headers=headers)
    vms = made["vms"]
    if not (no_wait or hold):
        wait_for(api, made["jobs"], f"starting {len(vms)} VM(s)")
        vms = [api.get(f"/api/v1/vms/{vm['id']}") for vm in vms]
    _report(vms, quiet=quiet, as_json=as_json)
    failed = [vm for vm in vms if vm["state"] == "failed"]
    if failed:
        raise CliError("; ".join(f"VM {vm['id']} failed: {vm.get('error')}" for vm in failed))


def _report(vms: list[dict[str, Any]], *, quiet: bool, as_json: bool) -> None:
    if as_json:
        print_json(vms)
    elif quiet:
        for vm in vms:
            click.echo(f"{vm['id']}, {vm.get('ip') or ''}")
    else:
        print_table([_where(vm) for vm in vms], VM_COLUMNS)


@click.command("describe-instance")
@click.argument("ids", nargs=-1, type=int)
@click.option("-v", "--verbose", is_flag=True, help="add the error message and the event log")
@click.option("--all", "include_done", is_flag=True, help="include finished VMs")
@click.option("--state", multiple=True)
@click.option("--json", "as_json", is_flag=True)
@wide_option
@click.pass_context
def describe_instance(ctx: click.Context, ids: tuple[int, ...], verbose: bool, include_done: bool,
                      state: tuple[str, ...], as_json: bool) -> None:
    """Show VMs (all of yours when no ID is given)."""
    api = _api(ctx)
    if ids:
        vms = [api.get(f"/api/v1/vms/{i}") for i in ids]
    else:
        params: dict[str, Any] = {"include_done": include_done, "limit": 1000}
        if state:
            params["state"] = list(state)
        vms = api.items("/api/v1/vms", params)
    if as_json:
        if verbose:
            for vm in vms:
                vm["events"] = api.get(f"/api/v1/vms/{vm['id']}/events")
        print_json(vms)
        return
    cols = VM_COLUMNS + ([("error", "error")] if verbose else [])
    print_table([_where(vm) for vm in vms], cols)
    if verbose:
        for vm in vms:
            click.echo(f"\nevents of VM {vm['id']}:")
            for ev in api.get(f"/api/v1/vms/{vm['id']}/events"):
                extra = " ".join(f"{k}={ev[k]}" for k in ("host", "ip", "mac") if ev.get(k))
                click.echo(f"  {ev['at']}  {ev['kind']:<12} {ev['actor']:<10} {ev['message']} {extra}")


def _action_command(name: str, command: type[VmCommand]) -> click.Command:
    action = command.action.value

    @click.command(name, help=command.summary)
    @click.argument("ids", nargs=-1, type=int, required=True)
    @click.option("--no-wait", is_flag=True)
    @click.pass_context
    def run(ctx: click.Context, ids: tuple[int, ...], no_wait: bool) -> None:
        api = _api(ctx)
        jobs = [api.post(_action_path(command(i)))["job"] for i in ids]
        if not no_wait:
            jobs = wait_for(api, jobs, f"{action} {len(ids)} VM(s)")
        errors = [f"VM {j['vm_id']}: {j['error']}" for j in jobs if j["state"] == "failed"]
        for j in jobs:
            vm = api.get(f"/api/v1/vms/{j['vm_id']}")
            click.echo(f"{vm['id']} {vm['state']}")
        if errors:
            raise CliError("; ".join(errors))

    return run


def _action_path(cmd: VmCommand) -> str:
    """The REST route of a lifecycle command (POST /api/v1/vms/{id}/actions/{action})."""
    return f"/api/v1/vms/{cmd.vm_id}/actions/{cmd.action.value}"


#: the CLI's name of each lifecycle command (help texts are the commands' own summaries)
ACTIONS: list[tuple[str, type[VmCommand]]] = [
    ("kill-instance", KillVm),
    ("shutdown-instance", ShutdownVm),
    ("suspend-instance", SuspendVm),
    ("resume-instance", ResumeVm),
    ("reboot-instance", RebootVm),
    ("stop-instance", StopVm),
    ("poweroff-instance", PoweroffVm),
    ("start-instance", StartVm),
    ("hold-instance", HoldVm),
    ("release-instance", ReleaseVm),
    ("undeploy-instance", UndeployVm),
]
RECOVER: dict[str, type[VmCommand]] = {
    "retry": RecoverRetry, "success": RecoverSuccess, "failure": RecoverFailure,
    "delete": RecoverDelete,
}


@click.command("recover-instance")
@click.argument("vm_id", type=int)
@click.argument("how", type=click.Choice(list(RECOVER)))
@click.pass_context
def recover_instance(ctx: click.Context, vm_id: int, how: str) -> None:
    """Decide the fate of a VM in a failure state."""
    api = _api(ctx)
    job = api.post(_action_path(RECOVER[how](vm_id)))["job"]
    wait_for(api, [job], f"recover-{how}")
    vm = api.get(f"/api/v1/vms/{vm_id}")
    click.echo(f"{vm_id} {vm['state']}")
    if how == "retry" and (vm["state"] == "failed" or vm["state"].endswith("-failure")):
        raise CliError(f"VM {vm_id} is {vm['state']} again after the retry: "
                       f"{vm.get('error') or 'see stratus console ' + str(vm_id)}; "
                       f"retry later, or decide with: stratus recover-instance {vm_id} "
                       "success|failure|delete", kind="state")


@click.command("console")
@click.argument("vm_id", type=int)
@click.pass_context
def console(ctx: click.Context, vm_id: int) -> None:
    """Print the VM's serial console log."""
    click.echo(_api(ctx).get(f"/api/v1/vms/{vm_id}/console"), nl=False)


@click.command("save-disk")
@click.argument("vm_id", type=int)
@click.argument("name")
@click.pass_context
def save_disk(ctx: click.Context, vm_id: int, name: str) -> None:
    """Save powered-off VM VM_ID's root disk as a new private image NAME (it boots like the VM's
    image); prints the image id."""
    with working(f"saving the disk of VM {vm_id} as image {name} (the disk is flattened)"):
        image = _api(ctx).post(f"/api/v1/vms/{vm_id}/save-disk", json={"name": name},
                               timeout=3600)
    click.echo(image["id"])


@click.command("list-types")
@click.option("--json", "as_json", is_flag=True)
@wide_option
@click.pass_context
def list_types(ctx: click.Context, as_json: bool) -> None:
    """List instance types (CPU, RAM MiB, swap MiB)."""
    types = _api(ctx).get("/api/v1/instance-types")
    if as_json:
        print_json(listed(types))
        return
    for t in types:
        t["mark"] = "*" if t["default"] else ""
    print_table(types, [("type", "name"), ("cpu", "cpu"), ("ram MiB", "ram_mib"),
                        ("swap MiB", "swap_mib"), ("default", "mark")])


COMMANDS: list[click.Command] = [
    run_instance, describe_instance, recover_instance, console, save_disk, list_types,
    *(_action_command(n, c) for n, c in ACTIONS),
]
