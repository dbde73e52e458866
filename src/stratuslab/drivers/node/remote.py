"""A node served by a `stratus-node` agent, as the services see any node: `connect(name, url,
tls)` returns a `core.node.Node` whose hypervisor and instance storage implement the same ports
over HTTPS (httpx, the front end's client certificate, the agent's certificate checked against
the cloud CA and its CN against the host name).  An agent that cannot be reached is
`Unavailable`; the agent's own errors come back with their kind and text.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stratuslab.core.errors import AuthenticationFailed, CloudError, Unavailable
from stratuslab.core.hypervisor import (
    DiskSpec,
    EventSink,
    HypervisorCaps,
    NicSpec,
    Observation,
    VmHandle,
    VmSpec,
)
from stratuslab.core.instance import PreparedInstance, PrologRequest, QuarantineEntry
from stratuslab.core.node import Node
from stratuslab.core.nodewire import CALLS, AgentInfo, decode, encode, error_from

CALL_TIMEOUT = 120.0  # a start on a loaded host (QEMU spawn, QMP handshake) takes a while


@dataclass(frozen=True)
class AgentTls:
    """The front end's client certificate and the cloud CA its agents' certificates chain to."""

    ca: Path
    cert: Path
    key: Path

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.check_hostname = False  # agents' addresses vary: the CN is checked per answer
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


class AgentClient:
    def __init__(self, host: str, url: str, tls: AgentTls) -> None:
        self.host = host
        self.url = url.rstrip("/")
        self._client = httpx.Client(verify=tls.context(), timeout=CALL_TIMEOUT)

    def _checked(self, response: httpx.Response) -> Any:
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        peer = ssl_object.getpeercert() if ssl_object is not None else None
        names = [v for rdn in (peer or {}).get("subject", ()) for k, v in rdn
                 if k == "commonName"]
        if names != [self.host]:
            raise AuthenticationFailed(f"the agent at {self.url} is not host {self.host} "
                                       f"(its certificate names {names})",
                                       hint="check the host's agent address")
        data = response.json()
        if response.status_code != 200:
            err = data.get("error") or {}
            raise error_from(str(err.get("kind")), str(err.get("message")),
                             str(err.get("hint") or ""))
        return data

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._client.request(method, self.url + path, **kw)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the agent of host {self.host} at {self.url} does not answer: "
                              f"{exc}", hint=f"check stratus-node on {self.host}") from None
        try:
            return self._checked(response)
        except ValueError:
            raise Unavailable(f"the agent of host {self.host} answered "
                              f"{response.status_code} without JSON") from None

    def call(self, port: str, method: str, **args: Any) -> Any:
        _kinds, answer = CALLS[(port, method)]
        data = self.request("POST", "/agent/v1/call", json={
            "port": port, "method": method, "args": {k: encode(v) for k, v in args.items()}})
        return decode(answer, data.get("answer"), f"{port}.{method}")

    def close(self) -> None:
        self._client.close()


class RemoteHypervisor:
    """HypervisorPort over an agent.  Events come back through the agent's reports (the front
    end's agent routes), not through this object: `set_event_sink` keeps nothing."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client
        self._info: AgentInfo | None = None
        self._lock = threading.Lock()

    def _described(self) -> AgentInfo:
        with self._lock:
            if self._info is None:
                info = self.client.request("GET", "/agent/v1/info")
                self._info = decode(AgentInfo, info, "info")
            return self._info

    @property
    def name(self) -> str:
        try:
            return self._described().driver
        except CloudError:
            return "remote"

    @property
    def capabilities(self) -> HypervisorCaps:
        return self._described().capabilities

    def start(self, spec: VmSpec) -> VmHandle:
        handle: VmHandle = self.client.call("hypervisor", "start", spec=spec)
        return handle

    def shutdown(self, handle: VmHandle, timeout: float) -> None:
        self.client.call("hypervisor", "shutdown", handle=handle, timeout=timeout)

    def kill(self, handle: VmHandle) -> None:
        self.client.call("hypervisor", "kill", handle=handle)

    def poweroff(self, handle: VmHandle, timeout: float) -> None:
        self.client.call("hypervisor", "poweroff", handle=handle, timeout=timeout)

    def reboot(self, handle: VmHandle) -> None:
        self.client.call("hypervisor", "reboot", handle=handle)

    def suspend(self, handle: VmHandle) -> VmHandle:
        answer: VmHandle = self.client.call("hypervisor", "suspend", handle=handle)
        return answer

    def resume(self, handle: VmHandle, spec: VmSpec) -> VmHandle:
        answer: VmHandle = self.client.call("hypervisor", "resume", handle=handle, spec=spec)
        return answer

    def status(self, handle: VmHandle) -> Observation:
        answer: Observation = self.client.call("hypervisor", "status", handle=handle)
        return answer

    def list_vms(self) -> list[Observation]:
        answer: list[Observation] = self.client.call("hypervisor", "list_vms")
        return answer

    def console_log(self, handle: VmHandle) -> bytes:
        answer: bytes = self.client.call("hypervisor", "console_log", handle=handle)
        return answer

    def attach_disk(self, handle: VmHandle, disk: DiskSpec) -> str:
        return str(self.client.call("hypervisor", "attach_disk", handle=handle, disk=disk))

    def detach_disk(self, handle: VmHandle, disk_name: str) -> None:
        self.client.call("hypervisor", "detach_disk", handle=handle, disk_name=disk_name)

    def attach_nic(self, handle: VmHandle, nic: NicSpec) -> str:
        return str(self.client.call("hypervisor", "attach_nic", handle=handle, nic=nic))

    def detach_nic(self, handle: VmHandle, mac: str) -> None:
        self.client.call("hypervisor", "detach_nic", handle=handle, mac=mac)

    def set_event_sink(self, sink: EventSink | None) -> None:
        return None

    def close(self) -> None:
        self.client.close()


class RemoteInstanceStorage:
    """InstanceStoragePort over an agent (the instance directories live on the host)."""

    def __init__(self, client: AgentClient) -> None:
        self.client = client

    def prepare(self, request: PrologRequest) -> PreparedInstance:
        answer: PreparedInstance = self.client.call("storage", "prepare", request=request)
        return answer

    def release(self, vm_id: int, *, owner: str, quarantine: bool) -> None:
        self.client.call("storage", "release", vm_id=vm_id, owner=owner, quarantine=quarantine)

    def quarantined(self) -> list[QuarantineEntry]:
        answer: list[QuarantineEntry] = self.client.call("storage", "quarantined")
        return answer

    def purge(self, vm_id: int) -> None:
        self.client.call("storage", "purge", vm_id=vm_id)


def connect(host: str, url: str, tls: AgentTls) -> Node:
    client = AgentClient(host, url, tls)
    return Node(host, RemoteHypervisor(client), RemoteInstanceStorage(client))
