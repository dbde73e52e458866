"""Network commands: `stratus network ...`, `stratus reservation ...`, `stratus secgroup ...`,
and the NIC options of run-instance (`nic_requests`).  Talks to /api/v1 only."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import click

from stratuslab.cli.client import Api, CliError
from stratuslab.cli.output import listed, print_json, print_table, wide_option

NET_COLUMNS = [("name", "name"), ("class", "class"), ("subnet", "subnet"), ("segment", "segment"),
               ("size", "size"), ("used", "leases_used"), ("held", "held"), ("ranges", "range_list"),
               ("owner", "owner"), ("rights", "permissions")]
RES_COLUMNS = [("id", "id"), ("network", "network"), ("owner", "owner"), ("size", "size"),
               ("in use", "in_use"), ("addresses", "address_list")]
SG_COLUMNS = [("name", "name"), ("owner", "owner"), ("rules", "rule_count"),
              ("description", "description")]
json_option = click.option("--json", "as_json", is_flag=True, help="print a JSON array")


def _api(ctx: click.Context) -> Api:
    return ctx.obj.api  # type: ignore[no-any-return]


def _show(rows: list[dict[str, Any]], cols: list[tuple[str, str]], as_json: bool) -> None:
    print_json(listed(rows)) if as_json else print_table(rows, cols)


def nic_requests(address: str | None, local_ip: str | None, private_ip: str | None,
                 networks: tuple[str, ...], secgroups: tuple[str, ...]) -> list[dict[str, str]]:
    """run-instance's NIC options -> REST NIC requests ([] = the server's default NIC).
    --network NAME (repeatable) picks networks, the first one taking --address; otherwise
    --address (public), --local-ip [IP] and --private-ip [IP] each add a NIC of that class."""
    nics: list[dict[str, str]] = []
    if networks:
        nics = [{"network": n} for n in networks]
        if address:
            nics[0]["ip"] = address
    elif address:
        nics.append({"network": "public", "ip": address})
    for cls, value in (("local", local_ip), ("private", private_ip)):
        if value is not None:
            nics.append({"network": cls, **({"ip": value} if value != "auto" else {})})
    if secgroups:
        nics = nics or [{}]
        for nic in nics:
            nic["secgroup"] = ",".join(secgroups)
    return nics


# --- networks ----------------------------------------------------------------------------


@click.group("network")
def network() -> None:
    """Virtual networks, their address ranges and holds."""


@network.command("list")
@json_option
@wide_option
@click.pass_context
def network_list(ctx: click.Context, as_json: bool) -> None:
    rows = _api(ctx).get("/api/v1/networks")
    for r in rows:
        r["range_list"] = ",".join(r["ranges"])
    _show(rows, NET_COLUMNS, as_json)


@network.command("show")
@click.argument("name")
@click.pass_context
def network_show(ctx: click.Context, name: str) -> None:
    click.echo(json.dumps(_api(ctx).get(f"/api/v1/networks/{quote(name)}"), indent=2))


@network.command("create")
@click.argument("name")
@click.option("--subnet", required=True, help="IPv4 CIDR, e.g. 10.20.0.0/24")
@click.option("--range", "ranges", multiple=True, help="FIRST-LAST or CIDR (default: the subnet)")
@click.option("--gateway")
@click.option("--dns", multiple=True)
@click.option("--ipv6-prefix", help="a /64")
@click.option("--ipv6-mode", type=click.Choice(["none", "slaac", "static"]))
@click.option("--mac-prefix", help="two hex bytes, e.g. 02:00")
@click.option("--segment-id", type=int, help="VNI or VLAN id (default: from the pool)")
@click.option("--segment-kind", type=click.Choice(["vxlan", "vlan"]))
@click.option("--class", "address_class",
              type=click.Choice(["public", "local", "private", "tenant"]))
@click.pass_context
def network_create(ctx: click.Context, name: str, subnet: str, ranges: tuple[str, ...],
                   gateway: str | None, dns: tuple[str, ...], ipv6_prefix: str | None,
                   ipv6_mode: str | None, mac_prefix: str | None, segment_id: int | None,
                   segment_kind: str | None, address_class: str | None) -> None:
    """Create a network.  Users create networks of their own (class tenant: a segment, bridge
    and DHCP of their own, used by nobody else until shared; --subnet, --range, --gateway, --dns
    and the IPv6 options only); administrators define any network."""
    body = {"name": name, "subnet": subnet, "ranges": list(ranges) or None, "gateway": gateway,
            "dns": list(dns) or None, "ipv6_prefix": ipv6_prefix, "ipv6_mode": ipv6_mode,
            "mac_prefix": mac_prefix, "segment_id": segment_id, "segment_kind": segment_kind,
            "address_class": address_class}
    made = _api(ctx).post("/api/v1/networks", json={k: v for k, v in body.items() if v is not None})
    click.echo(f"{made['name']} segment {made['segment']} size {made['size']}")


@network.command("chmod")
@click.argument("name")
@click.argument("permissions")
@click.pass_context
def network_chmod(ctx: click.Context, name: str, permissions: str) -> None:
    """Set a network's owner/group/other rights: "um-u-----" (share use with the group) or
    octal "640"; using a network for a NIC or a reservation needs the use (u) right."""
    made = _api(ctx).post(f"/api/v1/networks/{quote(name)}/permissions",
                          json={"permissions": permissions})
    click.echo(f"{made['name']} {made['permissions']} group {made['group'] or '-'}")


@network.command("chgrp")
@click.argument("name")
@click.argument("group")
@click.pass_context
def network_chgrp(ctx: click.Context, name: str, group: str) -> None:
    """Give a network to one of your groups (its group rights apply to that group)."""
    made = _api(ctx).post(f"/api/v1/networks/{quote(name)}/permissions", json={"group": group})
    click.echo(f"{made['name']} {made['permissions']} group {made['group'] or '-'}")


@network.command("router")
@click.argument("name")
@click.option("--on/--off", "enabled", default=True, help="add or remove the router")
@click.option("--external", default="public", show_default=True)
@click.pass_context
def network_router(ctx: click.Context, name: str, enabled: bool, external: str) -> None:
    """Connect your network NAME to the cloud's external network with NAT (--off: remove)."""
    made = _api(ctx).post(f"/api/v1/networks/{quote(name)}/router",
                          json={"enabled": enabled, "external": external})
    router = made.get("router")
    click.echo(f"{name}: router {router['ip']} on {router['external']}" if router
               else f"{name}: no router")


@network.command("floating-add")
@click.argument("name")
@click.argument("private_ip")
@click.pass_context
def network_floating_add(ctx: click.Context, name: str, private_ip: str) -> None:
    """Map a floating address of the external network to PRIVATE_IP of your network NAME."""
    made = _api(ctx).post(f"/api/v1/networks/{quote(name)}/floating",
                          json={"private_ip": private_ip})
    click.echo(f"{made['ip']} -> {made['private_ip']}")


@network.command("floating-remove")
@click.argument("name")
@click.argument("ip")
@click.pass_context
def network_floating_remove(ctx: click.Context, name: str, ip: str) -> None:
    _api(ctx).delete(f"/api/v1/networks/{quote(name)}/floating/{quote(ip)}")
    click.echo(f"{ip} on {name}: floating address removed")


@network.command("delete")
@click.argument("name")
@click.pass_context
def network_delete(ctx: click.Context, name: str) -> None:
    _api(ctx).delete(f"/api/v1/networks/{quote(name)}")
    click.echo(f"network {name} deleted")


@network.command("add-range")
@click.argument("name")
@click.argument("range_text", metavar="RANGE")
@click.pass_context
def network_add_range(ctx: click.Context, name: str, range_text: str) -> None:
    made = _api(ctx).post(f"/api/v1/networks/{quote(name)}/ranges", json={"range": range_text})
    click.echo(f"{made['name']} size {made['size']}: {', '.join(made['ranges'])}")


@network.command("remove-range")
@click.argument("name")
@click.argument("range_text", metavar="RANGE")
@click.pass_context
def network_remove_range(ctx: click.Context, name: str, range_text: str) -> None:
    made = _api(ctx).delete(f"/api/v1/networks/{quote(name)}/ranges/{range_text}")
    click.echo(f"{made['name']} size {made['size']}: {', '.join(made['ranges'])}")


@network.command("hold")
@click.argument("name")
@click.argument("ip")
@click.option("--reason", default="")
@click.pass_context
def network_hold(ctx: click.Context, name: str, ip: str, reason: str) -> None:
    _api(ctx).post(f"/api/v1/networks/{quote(name)}/holds", json={"ip": ip, "reason": reason})
    click.echo(f"{ip} on {name}: held")


@network.command("release-hold")
@click.argument("name")
@click.argument("ip")
@click.pass_context
def network_release_hold(ctx: click.Context, name: str, ip: str) -> None:
    _api(ctx).delete(f"/api/v1/networks/{quote(name)}/holds/{ip}")
    click.echo(f"{ip} on {name}: hold released")


# --- reservations ------------------------------------------------------------------------


@click.group("reservation")
def reservation() -> None:
    """Addresses you keep for later VMs (counted in your lease quota)."""


@reservation.command("create")
@click.argument("network_name", metavar="NETWORK")
@click.option("-n", "--count", type=int, default=1, show_default=True)
@click.option("--name", default="")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def reservation_create(ctx: click.Context, network_name: str, count: int, name: str,
                       as_json: bool) -> None:
    res = _api(ctx).post("/api/v1/reservations",
                         json={"network": network_name, "count": count, "name": name})
    if as_json:
        print_json(res)
    else:
        click.echo(f"{res['id']} {' '.join(res['addresses'])}")


@reservation.command("list")
@json_option
@wide_option
@click.pass_context
def reservation_list(ctx: click.Context, as_json: bool) -> None:
    rows = _api(ctx).get("/api/v1/reservations")
    for r in rows:
        r["address_list"] = ",".join(r["addresses"])
    _show(rows, RES_COLUMNS, as_json)


@reservation.command("delete")
@click.argument("reservation_id", type=int)
@click.pass_context
def reservation_delete(ctx: click.Context, reservation_id: int) -> None:
    _api(ctx).delete(f"/api/v1/reservations/{reservation_id}")
    click.echo(f"reservation {reservation_id} deleted")


# --- security groups ---------------------------------------------------------------------


@click.group("secgroup")
def secgroup() -> None:
    """Security groups: firewall rules for your VMs' NICs, changed live."""


@secgroup.command("create")
@click.argument("name")
@click.option("--rule", "rules", multiple=True, help="e.g. 'inbound tcp 80 0.0.0.0/0'")
@click.option("--description", default="")
@click.pass_context
def secgroup_create(ctx: click.Context, name: str, rules: tuple[str, ...], description: str) -> None:
    _api(ctx).post("/api/v1/secgroups",
                   json={"name": name, "rules": list(rules), "description": description})
    click.echo(f"security group {name} created with {len(rules)} rule(s)")


@secgroup.command("list")
@json_option
@wide_option
@click.pass_context
def secgroup_list(ctx: click.Context, as_json: bool) -> None:
    rows = _api(ctx).get("/api/v1/secgroups")
    for r in rows:
        r["rule_count"] = len(r["rules"])
    _show(rows, SG_COLUMNS, as_json)


@secgroup.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def secgroup_show(ctx: click.Context, name: str, as_json: bool) -> None:
    group = _api(ctx).get(f"/api/v1/secgroups/{quote(name)}")
    if as_json:
        print_json(group)
        return
    click.echo(f"{group['name']} ({group['owner']}) {group['description']}".rstrip())
    for rule in group["rules"]:
        click.echo(f"  {rule}")


@secgroup.command("add-rule")
@click.argument("name")
@click.argument("rule", nargs=-1, required=True)
@click.pass_context
def secgroup_add_rule(ctx: click.Context, name: str, rule: tuple[str, ...]) -> None:
    """Add RULE (DIRECTION PROTOCOL [PORT[-PORT]] [CIDR|group:NAME]); applied live."""
    _api(ctx).post(f"/api/v1/secgroups/{quote(name)}/rules", json={"rule": " ".join(rule)})
    click.echo(f"{name}: rule added: {' '.join(rule)}")


@secgroup.command("del-rule")
@click.argument("name")
@click.argument("rule", nargs=-1, required=True)
@click.pass_context
def secgroup_del_rule(ctx: click.Context, name: str, rule: tuple[str, ...]) -> None:
    _api(ctx).post(f"/api/v1/secgroups/{quote(name)}/rules/delete", json={"rule": " ".join(rule)})
    click.echo(f"{name}: rule deleted: {' '.join(rule)}")


@secgroup.command("delete")
@click.argument("name")
@click.pass_context
def secgroup_delete(ctx: click.Context, name: str) -> None:
    _api(ctx).delete(f"/api/v1/secgroups/{quote(name)}")
    click.echo(f"security group {name} deleted")


@secgroup.command("attach")
@click.argument("vm_id", type=int)
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def secgroup_attach(ctx: click.Context, vm_id: int, names: tuple[str, ...]) -> None:
    """Give every NIC of VM_ID these groups (replacing its previous ones), live."""
    if not names:
        raise CliError("name at least one security group")
    _api(ctx).post(f"/api/v1/vms/{vm_id}/secgroups", json={"groups": list(names)})
    click.echo(f"VM {vm_id}: security groups {', '.join(names)}")


@secgroup.command("detach")
@click.argument("vm_id", type=int)
@click.pass_context
def secgroup_detach(ctx: click.Context, vm_id: int) -> None:
    """Put every NIC of VM_ID back on the default rules (inbound SSH, ICMP and the image's
    ports; outbound all), live."""
    _api(ctx).post(f"/api/v1/vms/{vm_id}/secgroups", json={"groups": []})
    click.echo(f"VM {vm_id}: default security rules")


COMMANDS = [network, reservation, secgroup]
