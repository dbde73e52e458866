"""Machinery of the access matrix (tests/security/test_access_matrix.py): the route tables read
from the routers themselves, a world of objects owned by one user, and the four callers.

The matrix module holds only the table of expected answers; this module knows how to list
every route (FastAPI route table, mounted apps, XML-RPC method registry, OCCI collections), how
to make fresh objects for a row (`World.make`), and how to call as the owner, another user,
an anonymous client and the administrator.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import xmlrpc.client
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from starlette.routing import Mount
from tests.helpers.cloud import drain

OWNER, OTHER, ADMIN = ("olive", "Olive-pw-1"), ("oscar", "Oscar-pw-1"), ("admin", "adminpw")
MISSING = {"vm": "987654", "held_vm": "987654", "vm_with_nic": "987654",
           "volume": "00000000-0000-4000-8000-000000000000", "image": "987653",
           "job": "987652", "secgroup": "no-such-group", "reservation": "987651",
           "template": "987650", "user": "no-such-user", "user_id": "987649",
           "group_id": "987648", "network_id": "987647", "tenant_network": "no-such-network", "token": "0123456789abcdef",
           "cdmi_object": "nobox/none", "cdmi_new": "nobox/new", "cdmi_container": "nobox/"}


class Access(Enum):
    """Who may do a row's request (the others get the refusal the row names)."""

    OWN = "owner and admin; others get the answer of a missing object"
    ADMIN = "administrators only; users get 403"
    CERT = "a client certificate only: every password caller gets 401"
    USER = "any authenticated user"
    PUBLIC = "anyone, even without credentials"


@dataclass(frozen=True)
class Row:
    """One request of the matrix and its expected answers.

    `objects` maps each path placeholder (or body field) to the kind of object the owner makes
    fresh for the row (see World.make).  `ok` is the owner's answer (the admin's for ADMIN
    rows); `admin` the administrator's when it differs.  For REST rows answers are HTTP
    statuses; for XML-RPC rows `True` (success) or the OpenNebula error code.
    """

    access: Access
    ok: int | bool
    objects: Mapping[str, str] = field(default_factory=dict)
    body: Callable[[Mapping[str, str]], Any] | None = None
    form: bool = False  # send the body form-encoded (pdisk)
    admin: int | bool | None = None
    hides: str | None = None  # a listing: the owner's object of that kind is absent for others
    denied: int | bool | None = None  # the others' answer when not the default
    headers: Mapping[str, str] = field(default_factory=dict)
    query: str = ""
    hole: str | None = None  # a known hole being fixed elsewhere: the row is a strict xfail

    @property
    def admin_answer(self) -> int | bool:
        return self.ok if self.admin is None else self.admin


def own(ok: int | bool, **kw: Any) -> Row:
    return Row(Access.OWN, ok, **kw)


def admin_only(ok: int | bool, **kw: Any) -> Row:
    return Row(Access.ADMIN, ok, **kw)


def user(ok: int | bool, **kw: Any) -> Row:
    return Row(Access.USER, ok, **kw)


def public(ok: int | bool, **kw: Any) -> Row:
    return Row(Access.PUBLIC, ok, **kw)


def cert_only(**kw: Any) -> Row:
    return Row(Access.CERT, 401, **kw)


# --- the routes, read from the routers ---------------------------------------------------------

def plain_path(path: str) -> str:
    """'/cdmi/{path:path}' -> '/cdmi/{path}': placeholders without their converters."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def http_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(METHOD, path) of every HTTP route, through included routers and mounted apps."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # an included router (FastAPI >= 0.16x)
            for ctx in contexts():
                for method in sorted(ctx.methods or ()):
                    yield method, prefix + ctx.path
        elif isinstance(route, Mount):
            yield from http_routes(getattr(route.app, "routes", None) or (), prefix + route.path)
        elif getattr(route, "methods", None):
            for method in sorted(route.methods):
                yield method, prefix + route.path


def expand_occi(routes: Iterable[tuple[str, str]], kinds: Iterable[str],
                links: Iterable[str]) -> Iterator[tuple[str, str]]:  # fmt: skip
    """OCCI routes take the collection as a parameter: one key per collection of the server."""
    for method, path in routes:
        if "/link/{collection}" in path:
            names: Iterable[str] = links
        elif "{collection}" in path:
            names = kinds
        else:
            yield method, path
            continue
        for name in names:
            yield method, path.replace("{collection}", name)


def application(uid: str) -> dict[str, str]:
    return {"uid": uid, "email": f"{uid}@example.org", "given_name": "Ann", "surname": "Plicant",
            "password": "Appl-pw-1234"}


# --- the world ---------------------------------------------------------------------------------

class World:
    """A simulated cloud with an owner (olive), another user (oscar) and the admin, and fresh
    objects of the owner on demand.  Requests go through the real ASGI app in process."""

    def __init__(self, cloud: Any, tmp: Path, *, extra_routes: Iterable[tuple[str, str]] = ()):
        self.cloud = cloud
        self.tmp = tmp
        self.client = TestClient(cloud.app, raise_server_exceptions=True)
        self.counter = itertools.count(1)
        admin = cloud.identity.check_password(*ADMIN)
        for name, password in (OWNER, OTHER):
            cloud.identity.create_user(admin, name, password)
        self.admin = admin
        self.owner = cloud.identity.check_password(*OWNER)
        base = tmp / "base.raw"
        base.write_bytes(b"\0" * 65536)
        self.base_image = cloud.images.register(admin, "matrix-base", str(base), public=True)
        self.network = "matrixnet"
        cloud.services.network.create(
            admin, self.network, {"subnet": "10.98.0.0/24"})
        self.extra_routes = list(extra_routes)

    # every kind of object a row may need, made fresh and owned by `olive`
    def make(self, kind: str) -> str:
        return str(getattr(self, f"_make_{kind.replace('-', '_')}")())

    def objects(self, wanted: Mapping[str, str]) -> dict[str, str]:
        """Fresh objects for a row: {placeholder: kind}; the placeholder "*" takes a kind whose
        maker fills several placeholders at once (e.g. "mount": uuid and mount_id)."""
        made: dict[str, str] = {}
        for name, kind in wanted.items():
            if name == "*":
                made.update(getattr(self, f"_make_{kind}")())
            else:
                made[name] = self.make(kind)
        return made

    def _n(self) -> int:
        return next(self.counter)

    def _run(self, *, hold: bool) -> Any:
        from stratuslab.core.commands import RunInstance

        [(vm, job)] = self.cloud.compute.run(self.owner, RunInstance(
            self.base_image.id, hold=hold, name=f"m{self._n()}"))
        if not hold:
            drain(self.cloud)
        return vm, job

    def _make_vm(self) -> int:
        vm, _ = self._run(hold=False)
        return int(vm.id)

    def _make_held_vm(self) -> int:
        vm, _ = self._run(hold=True)
        return int(vm.id)

    def _make_self(self) -> str:
        return OWNER[0]

    def _make_self_id(self) -> int:
        return int(self.cloud.identity.get_user(self.admin, OWNER[0]).id)

    def _make_token(self) -> str:
        """A token of the owner, by the id `stratus token list` shows."""
        self.cloud.identity.issue_token(self.owner)
        return str(self.cloud.identity.list_tokens(self.owner)[-1]["id"])

    def _make_applicant(self) -> str:
        """A pending registration (made anonymously, as applicants do)."""
        uid = f"appl{self._n()}"
        answer = self.client.post("/api/v1/registrations", json=application(uid))
        assert answer.status_code == 202, answer.text
        return uid

    def _make_public_image(self) -> int:
        return int(self.base_image.id)

    def _make_mount(self) -> dict[str, str]:
        vm_id = self._make_vm()
        uuid = self._make_volume()
        vm = self.cloud.compute.get(self.owner, vm_id)
        self.cloud.services.vm_volumes.attach(self.owner, vm, [uuid])
        return {"uuid": uuid, "mount_id": f"{uuid}_{vm_id}", "vm": str(vm_id)}

    def _make_rpcnet(self) -> dict[str, str]:
        """A network with one small range and one held address: id, its prefix (a.b.c)."""
        n = self._n() % 200 + 20
        name, prefix = f"rpcnet{n}", f"10.{n}.9"
        svc = self.cloud.services.network
        svc.create(self.admin, name, {"subnet": f"{prefix}.0/24", "ranges": [
            f"{prefix}.10-{prefix}.20", f"{prefix}.30-{prefix}.30"]})
        svc.hold(self.admin, name, f"{prefix}.11")
        return {"id": str(self._network_id(name)), "prefix": prefix}

    def _make_user_id(self) -> int:
        return int(self.cloud.identity.get_user(self.admin, self._make_user()).id)

    def _make_group_id(self) -> int:
        name = self._make_group()
        return int(next(g.id for g in self.cloud.identity.list_groups(self.admin)
                        if g.name == name))

    def _network_id(self, name: str) -> int:
        svc = self.cloud.services.network
        return int(next(v.network.id for v in svc.networks() if v.network.name == name))

    def _make_network_id(self) -> int:
        return self._network_id(self._make_network())

    def _make_matrixnet_id(self) -> int:
        return self._network_id(self.network)

    def _make_job(self) -> int:
        _, job = self._run(hold=True)
        return int(job.id)

    def _make_vm_with_nic(self) -> str:
        vm_id = self._make_vm()
        vm = self.cloud.compute.get(self.owner, vm_id)
        self.cloud.services.vm_nics.attach(self.owner, vm, self.network)
        return f"{vm_id}"

    def _make_image(self) -> int:
        f = self.tmp / f"img{self._n()}.raw"
        f.write_bytes(f.name.encode() * 4096)
        img = self.cloud.images.register(self.admin, f.name, str(f))
        with self.cloud.uow() as uow:  # made by the admin, handed to the owner
            uow.images.update(dataclasses.replace(img, owner=OWNER[0], group="users"))
            uow.commit()
        return int(img.id)

    def _make_volume(self) -> str:
        from stratuslab.core.volumes import CreateVolume

        vol = self.cloud.services.volumes.create(
            self.owner, CreateVolume(size_gb=1, tag=f"t{self._n()}"))
        return str(vol.uuid)

    def _make_cdmi_container(self) -> str:
        """A CDMI container of the owner's: its path with the trailing slash."""
        name = f"box{self._n()}"
        self.cloud.features.cdmi.service.make_container(self.owner, [name], {})
        return name + "/"

    def _make_cdmi_object(self) -> str:
        box = self._make_cdmi_container().rstrip("/")
        self.cloud.features.cdmi.service.put_data(
            self.owner, [box, "obj"], [b"olive's bytes"], mimetype="text/plain", metadata={})
        return f"{box}/obj"

    def _make_cdmi_new(self) -> str:
        """Where the owner may create an object: a name in one of their containers."""
        return self._make_cdmi_container() + "new"

    def _make_secgroup(self) -> str:
        name = f"sg{self._n()}"
        self.cloud.services.network.create_group(self.owner, name,
                                                           ["inbound tcp 22 0.0.0.0/0"])
        return name

    def _make_reservation(self) -> int:
        made, _ = self.cloud.services.network.reserve(self.owner, self.network, 1)
        return int(made.id)

    def _make_template(self) -> int:
        tpl = self.cloud.services.templates.create(
            self.owner, f"tpl{self._n()}", f'CPU="1"\nMEMORY="64"\nDISK=[IMAGE_ID="{self.base_image.id}"]')
        return int(tpl.id)

    def _make_user(self) -> str:
        name = f"throwaway{self._n()}"
        self.cloud.identity.create_user(self.admin, name, "Throw-away-1")
        return name

    def _make_group(self) -> str:
        name = f"grp{self._n()}"
        self.cloud.identity.create_group(self.admin, name)
        return name

    def _make_tenant_network(self) -> str:
        """A tenant network of the owner."""
        n = self._n() % 200 + 20
        name = f"tn{n}"
        self.cloud.services.network.create(self.owner, name,
                                                     {"subnet": f"10.{n}.11.0/24"})
        return name

    def _make_network(self) -> str:
        name = f"net{self._n()}"
        n = self._n() % 200 + 20
        self.cloud.services.network.create(self.admin, name,
                                                     {"subnet": f"10.{n}.7.0/24"})
        return name

    # --- callers -----------------------------------------------------------------------------

    def rest(self, who: tuple[str, str] | None, method: str, path: str, row: Row,
             objs: Mapping[str, str]) -> Any:  # fmt: skip
        body = row.body(objs) if row.body else None
        kw: dict[str, Any] = {"headers": dict(row.headers)}
        if who is not None:
            kw["auth"] = who
        if isinstance(body, str):
            kw["content"] = body.encode()
        elif body is not None:
            kw["data" if row.form else "json"] = body
        url = plain_path(path).format(**objs) + (f"?{row.query}" if row.query else "")
        return self.client.request(method, url, **kw)

    def rpc(self, who: tuple[str, str] | None, method: str, args: list[Any]) -> list[Any]:
        session = ":".join(who) if who else ""
        body = xmlrpc.client.dumps((session, *args), method, allow_none=False)
        answer = self.client.post("/RPC2", content=body.encode(),
                                  headers={"Content-Type": "text/xml"})
        assert answer.status_code == 200, answer.text
        return list(xmlrpc.client.loads(answer.content, use_builtin_types=True)[0][0])
