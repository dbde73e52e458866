"""Contextualization documents: the NoCloud seed files and the OpenNebula ``context.sh``.

Pure functions from a `ContextSpec` to text.  Every value is quoted for the format it lands in
(YAML double-quoted scalars, POSIX shell single quotes), so a value holding shell or YAML
metacharacters stays a literal string; network facts are validated first.  Imports only the
standard library and core.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from stratuslab.core.errors import InvalidInput
from stratuslab.core.instance import ContextSpec, is_reserved_context_key

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
_KEY = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def yaml_str(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def shell_quote(value: str) -> str:
    """POSIX single quotes: nothing inside is expanded; a quote becomes '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


@dataclass(frozen=True, slots=True)
class Nic:
    """One NIC's validated network facts."""

    mac: str
    ip: ipaddress.IPv4Interface | None
    gateway: ipaddress.IPv4Address | None
    ipv6: ipaddress.IPv6Interface | None
    dns: tuple[str, ...]


def _nic(vm: str, index: int, facts: Mapping[str, str]) -> Nic:
    def bad(field: str, value: object, hint: str) -> InvalidInput:
        return InvalidInput(f"VM {vm}: NIC {index} {field} {value!r} is invalid", hint=hint)

    mac = str(facts.get("mac", "")).lower()
    if not _MAC.match(mac):
        raise bad("mac", facts.get("mac"), "write a MAC as six hex pairs: 52:54:00:12:34:56")
    try:
        ip = None
        if facts.get("ip"):
            ip = ipaddress.IPv4Interface(f"{facts['ip']}/{facts.get('prefix') or 24}")
        gateway = ipaddress.IPv4Address(facts["gateway"]) if facts.get("gateway") else None
        ipv6 = None
        if facts.get("ipv6"):
            v6 = str(facts["ipv6"])
            ipv6 = ipaddress.IPv6Interface(v6 if "/" in v6 else f"{v6}/64")
        dns = tuple(str(ipaddress.ip_address(d)) for d in re.split(r"[\s,]+", facts.get("dns", "")) if d)
    except ValueError as exc:
        raise bad("address", dict(facts), f"correct the address: {exc}") from None
    return Nic(mac=mac, ip=ip, gateway=gateway, ipv6=ipv6, dns=dns)


def nics(spec: ContextSpec) -> list[Nic]:
    return [_nic(spec.hostname, i, facts) for i, facts in enumerate(spec.networks)]


def meta_data(spec: ContextSpec) -> str:
    lines = [
        f"instance-id: {yaml_str(spec.instance_id)}",
        f"local-hostname: {yaml_str(spec.hostname)}",
    ]
    if spec.ssh_keys:
        lines.append("public-keys:")
        lines += [f"  - {yaml_str(key)}" for key in spec.ssh_keys]
    return "\n".join(lines) + "\n"


def user_data(spec: ContextSpec) -> str:
    """The user's own user-data when given, else a #cloud-config with hostname and SSH keys."""
    if spec.user_data is not None:
        return spec.user_data
    lines = ["#cloud-config", f"hostname: {yaml_str(spec.hostname)}"]
    if spec.ssh_keys:
        lines.append("ssh_authorized_keys:")
        lines += [f"  - {yaml_str(key)}" for key in spec.ssh_keys]
    return "\n".join(lines) + "\n"


def network_config(spec: ContextSpec) -> str | None:
    """network-config version 2 matching each NIC by MAC; None when the VM has no NIC facts."""
    found = nics(spec)
    if not found:
        return None
    lines = ["version: 2", "ethernets:"]
    for i, nic in enumerate(found):
        lines += [f"  eth{i}:", "    match:", f"      macaddress: {yaml_str(nic.mac)}",
                  f"    set-name: eth{i}"]
        addresses = [str(a) for a in (nic.ip, nic.ipv6) if a is not None]
        if nic.ip is None:
            lines.append("    dhcp4: true")
        if addresses:
            lines.append("    addresses:")
            lines += [f"      - {yaml_str(a)}" for a in addresses]
        if nic.gateway is not None:
            lines.append(f"    gateway4: {yaml_str(str(nic.gateway))}")
        if nic.dns:
            lines += ["    nameservers:", "      addresses:"]
            lines += [f"        - {yaml_str(d)}" for d in nic.dns]
    return "\n".join(lines) + "\n"


def _extra_key(vm: str, key: str) -> str:
    upper = key.strip().upper().replace("-", "_")
    if not _KEY.match(upper):
        raise InvalidInput(
            f"VM {vm}: context key {key!r} is not a valid name",
            hint="use letters, digits and underscores, starting with a letter",
        )
    if is_reserved_context_key(upper):
        raise InvalidInput(
            f"VM {vm}: context key {upper} is set by StratusLab itself",
            hint="choose another name for your --context value",
        )
    return upper


def context_sh(spec: ContextSpec) -> str:
    """The OpenNebula/StratusLab context.sh: KEY='value' lines, values single-quoted."""
    pairs: list[tuple[str, str]] = []
    for i, nic in enumerate(nics(spec)):
        pairs.append((f"ETH{i}_MAC", nic.mac))
        if nic.ip is not None:
            pairs += [(f"ETH{i}_IP", str(nic.ip.ip)), (f"ETH{i}_MASK", str(nic.ip.netmask))]
        if nic.gateway is not None:
            pairs.append((f"ETH{i}_GATEWAY", str(nic.gateway)))
        if nic.ipv6 is not None:
            pairs += [(f"ETH{i}_IP6", str(nic.ipv6.ip)),
                      (f"ETH{i}_IP6_PREFIX_LENGTH", str(nic.ipv6.network.prefixlen))]
        if nic.dns:
            pairs.append((f"ETH{i}_DNS", " ".join(nic.dns)))
    pairs += [("SET_HOSTNAME", spec.hostname), ("HOSTNAME", spec.hostname),
              ("INSTANCE_ID", spec.instance_id)]
    if spec.ssh_keys:
        pairs.append(("SSH_PUBLIC_KEY", "\n".join(spec.ssh_keys)))
    pairs += [(_extra_key(spec.hostname, k), str(v)) for k, v in sorted(spec.extra.items())]
    body = "".join(f"{key}={shell_quote(value)}\n" for key, value in pairs)
    return "# Context variables generated by StratusLab\n" + body
