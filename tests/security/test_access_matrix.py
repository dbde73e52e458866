"""The cross-tenant access matrix: every operation of every API, as the owner of an object
(olive), another user (oscar), an anonymous client and the administrator.

The keys are READ FROM THE ROUTERS (FastAPI route table with included routers and mounted apps:
REST, pdisk, OCCI per collection, marketplace, registration; the XML-RPC method registry), so
a new route or method without a row here FAILS `test_every_route_has_a_row` — never a skip.

Adding a row (one line, usually):
    "POST /api/v1/things/{thing_id}/frob": own(202, objects={"thing_id": "thing"}),
    "XMLRPC one.thing.frob": own(True, objects={"id": "thing"}, body=lambda o: [int(o["id"])]),
- `own(ok)`: the owner gets `ok`; another user gets exactly the answer of a missing object (no
  existence leak: same status, same message once the id is swapped); anonymous 401 (XML-RPC:
  AUTHENTICATION); the admin `ok` (or `admin=`).
- `admin_only(ok)`: users get 403 (XML-RPC: AUTHORIZATION), the admin `ok`.
- `user(ok)`: any authenticated user; `hides="kind"` for listings that must not show the
  owner's object of that kind to others.  `public(ok)`: no credentials needed.
- `objects` names the fresh objects the row needs (tests/helpers/access.py World.make: vm,
  held_vm, vm_with_nic, job, image, volume, secgroup, reservation, template, user, group,
  network); `body` builds the JSON body (XML-RPC: the argument list after the session).
Statuses are written by hand from the API's contract, never derived from the product.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.access import (
    ADMIN,
    MISSING,
    OTHER,
    OWNER,
    Access,
    Row,
    World,
    admin_only,
    application,
    cert_only,
    expand_occi,
    http_routes,
    own,
    plain_path,
    public,
    user,
)
from tests.helpers.authlab import ROOT_DN, ROOT_PW, Sink
from tests.helpers.cloud import make_settings, own_database, seed_data_dir
from tests.helpers.net import free_port

from stratuslab.api.xmlrpc.router import all_methods
from stratuslab.bootstrap import Cloud, build_cloud

AUTHN, AUTHZ, NO_EXISTS, ACTION, API = 0x0100, 0x0200, 0x0400, 0x0800, 0x1000
OCCI_KINDS, OCCI_LINKS = ("compute", "network", "storage"), ("networkinterface", "storagelink")
TEXT = {"Content-Type": "text/plain", "Accept": "text/plain"}
OCCI_QUERY = {"GET": 200, "POST": 400, "DELETE": 400}  # user mixins: no Category given
OCCI_SUSPEND = ('Category: suspend; scheme="http://schemas.ogf.org/occi/infrastructure/compute/'
                'action#"; class="action"\n')
OCCI_UP = ('Category: up; scheme="http://schemas.ogf.org/occi/infrastructure/network/action#"; '
           'class="action"\n')
MP_ID = "A" * 27  # a well-formed marketplace identifier nobody published
MP_IMPORT_MISSING = MP_POLICY_MISSING = 404
ADMIN_IMPORT_MISSING = 400
ROUTER_OK, FLOATING_OK = 200, 409


_FRESH = itertools.count(150)


def _fresh_network() -> dict[str, str]:
    n = next(_FRESH)
    return {"name": f"tenant{n}", "subnet": f"10.{n}.0.0/24"}


def _fresh_vn_template() -> str:
    n = next(_FRESH)
    return (f'NAME="rpcvn{n}"\nAR=[TYPE="IP4",IP="10.{n}.0.10",SIZE="5"]\n'
            f'NETWORK_ADDRESS="10.{n}.0.0"\nNETWORK_MASK="255.255.255.0"')


def _pdisk(prefix: str) -> dict[str, Row]:
    """pdisk paths, the same under each of its prefixes and with a trailing slash (the 14.06
    client's form): form bodies, JSON answers."""
    p = prefix
    if p.endswith("/cert"):  # certificate-only: a password is refused on every path
        return {k.replace("/pdisk", p, 1): cert_only(objects=v.objects, body=v.body, form=v.form)
                for k, v in _pdisk("/pdisk").items()}
    rows = {
        f"GET {p}/disks": user(200, hides="volume"),
        f"POST {p}/disks": user(201, body=lambda o: {"size": "1", "tag": "pd"}, form=True),
        f"GET {p}/disks/{{uuid}}": own(200, objects={"uuid": "volume"}),
        f"PUT {p}/disks/{{uuid}}": own(200, objects={"uuid": "volume"}, form=True,
                                      body=lambda o: {"tag": "renamed"}),
        f"DELETE {p}/disks/{{uuid}}": own(200, objects={"uuid": "volume"}),
        f"GET {p}/disks/{{uuid}}/mounts": own(200, objects={"uuid": "volume"}),
        f"POST {p}/disks/{{uuid}}/mounts": own(
            200, objects={"uuid": "volume", "vm": "vm"}, form=True,
            body=lambda o: {"vm_id": o["vm"]}),
        f"DELETE {p}/disks/{{uuid}}/mounts/{{mount_id}}": own(200, objects={"*": "mount"}),
    }
    return {**rows, **{k + "/": v for k, v in rows.items()}}


REST: dict[str, Row] = {
    # --- VMs and jobs
    "POST /api/v1/vms": user(202, body=lambda o: {"image": int(o["image"]), "hold": True},
                             objects={"image": "public_image"}),
    "GET /api/v1/vms": user(200, hides="vm"),
    "GET /api/v1/vms/{vm_id}": own(200, objects={"vm_id": "vm"}),
    "POST /api/v1/vms/{vm_id}/actions/{action}": own(
        202, objects={"vm_id": "vm", "action": "const:suspend"}),
    "POST /api/v1/vms/{vm_id}/save-disk": own(409, objects={"vm_id": "vm"},
                                             body=lambda o: {"name": "saved"}),
    "DELETE /api/v1/vms/{vm_id}": own(202, objects={"vm_id": "vm"}),
    "GET /api/v1/vms/{vm_id}/events": own(200, objects={"vm_id": "vm"}),
    "GET /api/v1/vms/{vm_id}/console": own(200, objects={"vm_id": "vm"}),
    "POST /api/v1/vms/{vm_id}/secgroups": own(200, objects={"vm_id": "vm", "sg": "secgroup"},
                                             body=lambda o: {"groups": [o["sg"]]}),
    "GET /api/v1/vms/{vm_id}/nics": own(200, objects={"vm_id": "vm"}),
    "POST /api/v1/vms/{vm_id}/nics": own(202, objects={"vm_id": "vm"},
                                        body=lambda o: {"network": "matrixnet"}),
    "DELETE /api/v1/vms/{vm_id}/nics/{nic}": own(202, objects={"vm_id": "vm_with_nic",
                                                               "nic": "const:1"}),
    "GET /api/v1/jobs": user(200, hides="job"),
    "GET /api/v1/jobs/{job_id}": own(200, objects={"job_id": "job"}),
    # --- images
    "GET /api/v1/images": user(200, hides="image"),
    # users may not import server files; admins may (a missing one here)
    "POST /api/v1/images": user(403, body=lambda o: {"name": "x", "source": "/nonexistent/x.raw"},
                                admin=ADMIN_IMPORT_MISSING),
    "POST /api/v1/images/build": user(400, body=lambda o: {"recipe": "no-such"}),
    "GET /api/v1/images/{image_id}": own(200, objects={"image_id": "image"}),
    "DELETE /api/v1/images/{image_id}": own(204, objects={"image_id": "image"}),
    "POST /api/v1/images/marketplace/{identifier}": user(
        MP_IMPORT_MISSING, objects={"identifier": f"const:{MP_ID}"}),
    "GET /api/v1/images/marketplace/{identifier}/policy": user(
        MP_POLICY_MISSING, objects={"identifier": f"const:{MP_ID}"}),
    "GET /api/v1/instance-types": user(200),
    # --- users, groups, tokens
    "GET /api/v1/users": user(200, hides="self"),  # a user sees only their own account
    "POST /api/v1/users": admin_only(201, body=lambda o: {"name": "newbie",
                                                          "password": "Newbie-pw-1"}),
    "GET /api/v1/users/{name}": admin_only(200, objects={"name": "user"}, denied=404),
    "PUT /api/v1/users/{name}/password": admin_only(204, objects={"name": "user"}, denied=404,
                                                    body=lambda o: {"password": "Changed-pw-1"}),
    "DELETE /api/v1/users/{name}": admin_only(204, objects={"name": "user"}),
    "GET /api/v1/groups": user(200),
    "POST /api/v1/groups": admin_only(201, body=lambda o: {"name": "newgroup"}),
    "DELETE /api/v1/groups/{name}": admin_only(204, objects={"name": "group"}),
    "POST /api/v1/tokens": user(201, body=lambda o: {"ttl_hours": 1}),
    "GET /api/v1/tokens": user(200, hides="token"),
    "DELETE /api/v1/tokens/{token_id}": own(204, objects={"token_id": "token"}),
    "GET /api/v1/whoami": user(200),
    # --- compute quotas: read your own (or your group's), set by administrators
    "GET /api/v1/quotas": user(200),
    "GET /api/v1/quotas/users/{name}": own(200, objects={"name": "self"}, denied=403),
    "PUT /api/v1/quotas/users/{name}": admin_only(200, objects={"name": "self"},
                                                  body=lambda o: {"vms": None}),
    "DELETE /api/v1/quotas/users/{name}": admin_only(200, objects={"name": "self"}),
    "GET /api/v1/quotas/groups/{name}": admin_only(200, objects={"name": "group"}),
    "PUT /api/v1/quotas/groups/{name}": admin_only(200, objects={"name": "group"},
                                                   body=lambda o: {"cpu": None}),
    "DELETE /api/v1/quotas/groups/{name}": admin_only(200, objects={"name": "group"}),
    # --- quarantine (admin housekeeping)
    "GET /api/v1/quarantine": admin_only(200),
    "GET /api/v1/quarantine/{vm_id}": admin_only(404, objects={"vm_id": "vm"}),
    "DELETE /api/v1/quarantine": admin_only(200),
    "DELETE /api/v1/quarantine/{vm_id}": admin_only(404, objects={"vm_id": "vm"}),
    "GET /api/v1/storage/quarantine": admin_only(200),
    "DELETE /api/v1/storage/quarantine": admin_only(200),
    "DELETE /api/v1/storage/quarantine/{uuid}": admin_only(409, objects={"uuid": "volume"}),
    # --- hosts as data: users list and show, admins change state (an unknown host for
    # disable/offline, so the matrix's own node keeps accepting VMs); flush needs migration
    "GET /api/v1/hosts": user(200),
    "GET /api/v1/hosts/{name}": user(200, objects={"name": "const:localhost"}),
    "POST /api/v1/hosts/{name}/enable": admin_only(200, objects={"name": "const:localhost"}),
    "POST /api/v1/hosts/{name}/disable": admin_only(404, objects={"name": "const:no-such-host"}),
    "POST /api/v1/hosts/{name}/offline": admin_only(404, objects={"name": "const:no-such-host"}),
    "POST /api/v1/hosts/{name}/flush": admin_only(501, objects={"name": "const:localhost"}),
    "POST /api/v1/hosts/{name}/recover": admin_only(409, objects={"name": "const:localhost"}),
    # --- enrolment: admins add (no cloud CA in this world: 503), revoke, remove hosts; agents
    # trade a token (the token is the credential) and then report with their certificate only
    "POST /api/v1/hosts": admin_only(503, body=lambda o: {"name": "node-x"}),
    "POST /api/v1/hosts/{name}/revoke": admin_only(404, objects={"name": "const:no-such-host"}),
    "DELETE /api/v1/hosts/{name}": admin_only(404, objects={"name": "const:no-such-host"}),
    "POST /api/v1/enrol": public(400, body=lambda o: {"token": "not-a-token", "csr": "x"}),
    "GET /api/v1/enrol/ca": public(503),
    "POST /api/v1/agent/report": cert_only(body=lambda o: {"version": "1", "endpoint": "x"}),
    # --- networks (admin-managed), reservations and security groups (owned)
    "GET /api/v1/networks": user(200),
    # tenant networks: any user makes their own (a new name and subnet per call)
    "POST /api/v1/networks": user(201, body=lambda o: _fresh_network()),
    "GET /api/v1/networks/{name}": user(200, objects={"name": "network"}),
    "DELETE /api/v1/networks/{name}": admin_only(204, objects={"name": "network"}),
    "POST /api/v1/networks/{name}/router": own(
        ROUTER_OK, objects={"name": "tenant_network"}, body=lambda o: {"enabled": True}),
    "POST /api/v1/networks/{name}/floating": own(
        FLOATING_OK, objects={"name": "tenant_network"}, body=lambda o: {"private_ip": "10.1.1.1"}),
    "DELETE /api/v1/networks/{name}/floating/{ip}": own(
        409, objects={"name": "tenant_network", "ip": "const:192.0.2.7"}),
    "POST /api/v1/networks/{name}/permissions": admin_only(
        200, objects={"name": "network"}, body=lambda o: {"permissions": "um-u--u--"}),
    "POST /api/v1/networks/{name}/ranges": admin_only(201, objects={"name": "network"},
                                                      body=lambda o: {"range": "10.1.1.1/32"},
                                                      admin=400),
    "DELETE /api/v1/networks/{name}/ranges/{text:path}": admin_only(
        404, objects={"name": "network", "text": "const:10.1.1.1-10.1.1.2"}),
    "POST /api/v1/networks/{name}/holds": admin_only(201, objects={"name": "const:matrixnet"},
                                                     body=lambda o: {"ip": "10.98.0.200"}),
    "DELETE /api/v1/networks/{name}/holds/{ip}": admin_only(
        404, objects={"name": "const:matrixnet", "ip": "const:10.98.0.201"}),
    "GET /api/v1/reservations": user(200, hides="reservation"),
    "POST /api/v1/reservations": user(201, body=lambda o: {"network": "matrixnet"}),
    "DELETE /api/v1/reservations/{reservation_id}": own(204,
                                                        objects={"reservation_id": "reservation"}),
    "GET /api/v1/secgroups": user(200, hides="secgroup"),
    "POST /api/v1/secgroups": user(201, body=lambda o: {"name": "fresh-group"}),
    # security groups are named per owner: an admin addresses their own namespace (404 here)
    "GET /api/v1/secgroups/{name}": own(200, objects={"name": "secgroup"}, admin=404),
    "DELETE /api/v1/secgroups/{name}": own(204, objects={"name": "secgroup"}, admin=404),
    "POST /api/v1/secgroups/{name}/rules": own(201, objects={"name": "secgroup"}, admin=404,
                                               body=lambda o: {"rule": "inbound tcp 80 0.0.0.0/0"}),
    "POST /api/v1/secgroups/{name}/rules/delete": own(
        200, objects={"name": "secgroup"}, admin=404,
        body=lambda o: {"rule": "inbound tcp 22 0.0.0.0/0"}),
    # --- volumes
    "POST /api/v1/volumes": user(201, body=lambda o: {"size": 1}),
    "GET /api/v1/volumes": user(200, hides="volume"),
    "GET /api/v1/volumes/{uuid}": own(200, objects={"uuid": "volume"}),
    "PATCH /api/v1/volumes/{uuid}": own(200, objects={"uuid": "volume"},
                                        body=lambda o: {"tag": "mine"}),
    "DELETE /api/v1/volumes/{uuid}": own(200, objects={"uuid": "volume"}),
    "POST /api/v1/volumes/{uuid}/attach": own(200, objects={"uuid": "volume", "vm": "vm"},
                                              body=lambda o: {"vm": int(o["vm"])}),
    "POST /api/v1/volumes/{uuid}/detach": own(200, objects={"*": "mount"},
                                              body=lambda o: {"vm": int(o["vm"])}),
    # --- pdisk (classic persistent-disk service)
    **_pdisk("/pdisk"), **_pdisk("/pdisk/pswd"), **_pdisk("/pdisk/cert"),
    # --- XML-RPC endpoints (each method has its own rows below)
    # (XML-RPC answers faults inside a 200; the per-method rows check who may do what)
    "POST /RPC2": public(200), "POST /xmlrpc": public(200), "POST /pswd/xmlrpc": user(200),
    "POST /one/3.2/RPC2": public(200), "POST /one/7.4/RPC2": public(200),
    "POST /cert/xmlrpc": cert_only(),
    # --- cloud load (any user, as StratusLab published it) and Prometheus metrics (admins)
    "GET /api/v1/cloud/load": user(200),
    "GET /metrics": admin_only(200),
    # --- CDMI file storage: the caller's own tree; another user's objects do not exist for them
    "GET /cdmi": user(200, hides="cdmi_container"),
    "PUT /cdmi": user(400),
    "POST /cdmi": user(400),
    "DELETE /cdmi": user(400),
    "GET /cdmi/{path:path}": own(200, objects={"path": "cdmi_object"}),
    "PUT /cdmi/{path:path}": own(201, objects={"path": "cdmi_new"}, body=lambda o: "bytes",
                                 headers={"Content-Type": "text/plain"}),
    "POST /cdmi/{path:path}": own(201, objects={"path": "cdmi_container"},
                                  body=lambda o: {"value": "posted"},
                                  headers={"Content-Type": "application/cdmi-object",
                                           "X-CDMI-Specification-Version": "1.1"}),
    "DELETE /cdmi/{path:path}": own(204, objects={"path": "cdmi_object"}),
    # --- the marketplace: public reads; uploads are authenticated by their XML signature
    "GET /marketplace/": public(200),
    "GET /marketplace/endorsers": public(200),
    "GET /marketplace/endorsers/{email}": public(404, objects={"email": "const:x@example.org"}),
    "GET /marketplace/metadata": public(200),
    "GET /marketplace/metadata/{first}": public(404, objects={"first": "const:NoSuchId"}),
    "GET /marketplace/metadata/{identifier}/{email}": public(
        404, objects={"identifier": "const:NoSuchId", "email": "const:x@example.org"}),
    "GET /marketplace/metadata/{identifier}/{email}/{created}": public(
        404, objects={"identifier": "const:NoSuchId", "email": "const:x@example.org",
                      "created": "const:2020-01-01T00:00:00Z"}),
    "GET /marketplace/policy/{identifier}": public(404, objects={"identifier": "const:NoSuchId"}),
    "POST /marketplace/metadata": public(400, body=lambda o: {"not": "a signed document"}),
    # --- OCCI
    **{f"{m} {p}/-/": user(OCCI_QUERY[m], headers=TEXT)
       for m in ("GET", "POST", "DELETE")
       for p in ("/occi", "/occi/.well-known/org/ogf/occi", "/.well-known/org/ogf/occi")},
    "GET /occi/compute/": user(200, hides="vm", headers=TEXT),
    "GET /occi/storage/": user(200, hides="volume", headers=TEXT),
    "GET /occi/network/": user(200, headers=TEXT),
    "GET /occi/link/networkinterface/": user(200, headers=TEXT),
    "GET /occi/link/storagelink/": user(200, headers=TEXT),
    "GET /occi/compute/{ident}": own(200, objects={"ident": "vm"}, headers=TEXT),
    "DELETE /occi/compute/{ident}": own(200, objects={"ident": "vm"}, headers=TEXT),
    "POST /occi/compute/{ident}": own(200, objects={"ident": "vm"}, query="action=suspend",
                                      headers=TEXT, body=lambda o: OCCI_SUSPEND),
    "PUT /occi/compute/{ident}": own(200, objects={"ident": "vm"}, headers=TEXT,
                                     body=lambda o: 'X-OCCI-Attribute: occi.core.title="t"\n'),
    "GET /occi/storage/{ident}": own(200, objects={"ident": "volume"}, headers=TEXT),
    "DELETE /occi/storage/{ident}": own(200, objects={"ident": "volume"}, headers=TEXT),
    "POST /occi/storage/{ident}": own(200, objects={"ident": "volume"}, headers=TEXT,
                                      body=lambda o: 'X-OCCI-Attribute: occi.core.title="t"\n'),
    "PUT /occi/storage/{ident}": own(200, objects={"ident": "volume"}, headers=TEXT,
                                     body=lambda o: 'X-OCCI-Attribute: occi.core.title="t"\n'),
}


def _occi_collection_rows() -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for kind in OCCI_KINDS:
        rows.setdefault(f"POST /occi/{kind}/", user(400, headers=TEXT))
        rows.setdefault(f"DELETE /occi/{kind}/", user(405, headers=TEXT))
        rows.setdefault(f"PUT /occi/{kind}/", user(405, headers=TEXT))
        for method in ("GET", "POST", "PUT", "DELETE"):  # a template or a user's own mixin
            rows.setdefault(f"{method} /occi/{kind}/{{term}}/",
                            user(404, headers=TEXT, objects={"term": "const:nothing"}))
    for kind in OCCI_LINKS:
        rows.setdefault(f"POST /occi/link/{kind}/", user(400, headers=TEXT))
        rows.setdefault(f"DELETE /occi/link/{kind}/", user(405, headers=TEXT))
        for method, ok in (("GET", 404), ("POST", 405), ("PUT", 405), ("DELETE", 404)):
            rows.setdefault(f"{method} /occi/link/{kind}/{{ident}}",
                            user(ok, headers=TEXT, objects={"ident": "const:none_0"}))
    return rows


REST.update({k: v for k, v in _occi_collection_rows().items() if k not in REST})
REST.update({
    "GET /occi/network/{ident}": user(200, objects={"ident": "matrixnet_id"}, headers=TEXT),
    "DELETE /occi/network/{ident}": admin_only(200, objects={"ident": "network_id"},
                                               headers=TEXT),
    "POST /occi/network/{ident}": admin_only(200, objects={"ident": "matrixnet_id"},
                                             query="action=up", headers=TEXT,
                                             body=lambda o: OCCI_UP),
    # networks are not relabelled yet (501 for everybody, as a partial update answers)
    "PUT /occi/network/{ident}": user(501, objects={"ident": "matrixnet_id"}, headers=TEXT,
                                      body=lambda o: 'X-OCCI-Attribute: occi.network.label="l"\n'),
})

_one = int
_KEEP3 = (-1, -1, -1)
XMLRPC: dict[str, Row] = {
    "one.vm.allocate": user(True, objects={"image": "public_image"},
                            body=lambda o: [f'CPU="1"\nMEMORY="64"\nDISK=[IMAGE_ID="{o["image"]}"]',
                                            True]),
    "one.vm.info": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"])]),
    "one.vm.action": own(True, objects={"id": "vm"}, body=lambda o: ["suspend", _one(o["id"])]),
    "one.vm.rename": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"]), "renamed"]),
    "one.vm.update": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"]), 'A="1"', 0]),
    "one.vm.attach": own(ACTION, denied=ACTION, objects={"id": "vm", "vol": "volume"},  # not yet
                         body=lambda o: [_one(o["id"]), f'DISK=[PERSISTENT_DISK="{o["vol"]}"]']),
    "one.vm.detach": own(NO_EXISTS, objects={"id": "vm"}, body=lambda o: [_one(o["id"]), 7]),
    "one.vm.attachnic": own(True, objects={"id": "vm"},
                            body=lambda o: [_one(o["id"]), 'NIC=[NETWORK="matrixnet"]']),
    "one.vm.detachnic": own(True, objects={"id": "vm_with_nic"},
                            body=lambda o: [_one(o["id"]), 1]),
    "one.vm.deploy": admin_only(ACTION, objects={"id": "vm"},
                                body=lambda o: [_one(o["id"]), 0]),
    "one.vm.migrate": admin_only(ACTION, objects={"id": "vm"},
                                 body=lambda o: [_one(o["id"]), 0]),
    "one.vm.chown": admin_only(True, objects={"id": "vm"}, denied=NO_EXISTS,
                               body=lambda o: [_one(o["id"]), -1, -1]),
    "one.vmpool.info": user(True, hides="vm", body=lambda o: [-2, -1, -1, -1]),
    "one.vmpool.infoextended": user(True, hides="vm", body=lambda o: [-2, -1, -1, -1]),
    "one.vmpool.infoset": user(True, objects={"id": "vm"}, body=lambda o: [o["id"], True]),
    "one.vmpool.monitoring": user(True, body=lambda o: [-2, -1]),
    "one.vmpool.accounting": user(True, body=lambda o: [-2, -1, -1]),
    "one.vm.monitoring": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"])]),
    # a running VM: recover/resize/save answer "wrong state" to those who may see it
    "one.vm.recover": own(ACTION, objects={"id": "vm"}, body=lambda o: [_one(o["id"]), 2]),
    "one.vm.resize": own(ACTION, objects={"id": "vm"},
                         body=lambda o: [_one(o["id"]), 'VCPU="1"', False]),
    "one.vm.disksaveas": own(ACTION, objects={"id": "vm"},
                             body=lambda o: [_one(o["id"]), 0, "saved", "", -1]),
    "one.vm.savedisk": own(ACTION, objects={"id": "vm"},
                           body=lambda o: [_one(o["id"]), 0, "saved"]),
    "one.host.status": admin_only(True, body=lambda o: [0, 0]),
    "one.user.enable": admin_only(True, objects={"id": "user_id"},
                                  body=lambda o: [_one(o["id"]), True]),
    "one.user.addgroup": admin_only(True, objects={"id": "user_id", "g": "group_id"},
                                    body=lambda o: [_one(o["id"]), _one(o["g"])]),
    # a fresh group is not the user's: nothing to remove (the admin is told so)
    "one.user.delgroup": admin_only(NO_EXISTS, objects={"id": "user_id", "g": "group_id"},
                                    body=lambda o: [_one(o["id"]), _one(o["g"])]),
    "one.host.monitoring": user(True, body=lambda o: [0]),
    "one.hostpool.monitoring": user(True, body=lambda o: []),
    "one.cluster.info": user(True, body=lambda o: [0]),
    "one.clusterpool.info": user(True, body=lambda o: []),
    "one.zone.info": user(True, body=lambda o: [0]),
    "one.zonepool.info": user(True, body=lambda o: []),
    "one.template.allocate": user(True, body=lambda o: ['NAME="t"\nCPU="1"']),
    "one.template.info": own(True, objects={"id": "template"}, body=lambda o: [_one(o["id"])]),
    "one.template.instantiate": own(True, objects={"id": "template"},
                                    body=lambda o: [_one(o["id"]), "", True]),
    "one.template.update": own(True, objects={"id": "template"},
                               body=lambda o: [_one(o["id"]), 'CPU="2"', 0]),
    "one.template.clone": own(True, objects={"id": "template"},
                              body=lambda o: [_one(o["id"]), "copy"]),
    "one.template.delete": own(True, objects={"id": "template"}, body=lambda o: [_one(o["id"])]),
    "one.templatepool.info": user(True, hides="template", body=lambda o: [-2, -1, -1]),
    "one.user.allocate": admin_only(True, body=lambda o: ["rpcuser", "Rpc-user-pw1", ""]),
    "one.user.info": admin_only(True, objects={"id": "user_id"}, body=lambda o: [_one(o["id"])],
                                denied=NO_EXISTS),
    "one.userpool.info": user(True, hides="self_id", body=lambda o: []),
    "one.user.passwd": admin_only(True, objects={"id": "user_id"}, denied=NO_EXISTS,
                                  body=lambda o: [_one(o["id"]), "Changed-pw-2"]),
    "one.user.chgrp": admin_only(True, objects={"id": "user_id"},
                                 body=lambda o: [_one(o["id"]), 1]),
    "one.user.delete": admin_only(True, objects={"id": "user_id"},
                                  body=lambda o: [_one(o["id"])]),
    "one.group.allocate": admin_only(True, body=lambda o: ["rpcgroup"]),
    "one.group.info": admin_only(True, objects={"id": "group_id"}, denied=NO_EXISTS,
                                 body=lambda o: [_one(o["id"])]),
    "one.group.delete": admin_only(True, objects={"id": "group_id"}, denied=NO_EXISTS,
                                   body=lambda o: [_one(o["id"])]),
    "one.grouppool.info": user(True, body=lambda o: []),
    "one.image.info": own(True, objects={"id": "image"}, body=lambda o: [_one(o["id"])]),
    "one.imagepool.info": user(True, hides="image", body=lambda o: [-2, -1, -1]),
    "one.image.allocate": user(AUTHZ, body=lambda o: ['NAME="x"\nPATH="/etc/passwd"', 1],
                               admin=True),
    "one.image.delete": own(True, objects={"id": "image"}, body=lambda o: [_one(o["id"])]),
    "one.image.enable": own(True, objects={"id": "image"},
                            body=lambda o: [_one(o["id"]), False]),
    "one.image.persistent": own(True, objects={"id": "image"},
                                body=lambda o: [_one(o["id"]), False]),
    "one.image.chtype": own(True, objects={"id": "image"}, body=lambda o: [_one(o["id"]), "OS"]),
    # hosts come from the configuration: nobody adds or removes one over XML-RPC
    "one.host.allocate": admin_only(ACTION, denied=ACTION,
                                    body=lambda o: ["h2", "kvm", "kvm", "default"]),
    "one.host.enable": admin_only(True, body=lambda o: [0, True]),
    "one.host.delete": admin_only(ACTION, denied=ACTION, body=lambda o: [0]),
    "one.host.info": user(True, body=lambda o: [0]),  # users see hosts (OpenNebula's default)
    "one.hostpool.info": user(True, body=lambda o: []),
    "one.datastore.info": user(True, body=lambda o: [1]),
    "one.datastorepool.info": user(True, body=lambda o: []),
    # the policy is built in: nobody changes ACL rules
    "one.acl.addrule": admin_only(ACTION, denied=ACTION, body=lambda o: ["#5", "@1", "1"]),
    "one.acl.delrule": admin_only(ACTION, denied=ACTION, body=lambda o: [0]),
    "one.acl.info": admin_only(True, body=lambda o: []),
    "one.system.version": user(True, body=lambda o: []),
    "one.system.config": user(True, body=lambda o: []),
    "one.vn.allocate": user(True, body=lambda o: [_fresh_vn_template(), -1]),
    "one.vn.info": user(True, objects={"id": "network_id"}, body=lambda o: [_one(o["id"])]),
    "one.vn.delete": admin_only(True, objects={"id": "network_id"},
                                body=lambda o: [_one(o["id"])]),
    "one.vnpool.info": user(True, body=lambda o: [-2, -1, -1]),
    "one.vn.add_ar": admin_only(True, objects={"*": "rpcnet"}, body=lambda o: [
        _one(o["id"]), f'AR=[TYPE="IP4",IP="{o["prefix"]}.50",SIZE="2"]']),
    "one.vn.update_ar": admin_only(ACTION, denied=ACTION, objects={"*": "rpcnet"},  # not yet
                                   body=lambda o: [_one(o["id"]), 'AR=[AR_ID="0"]']),
    "one.vn.rm_ar": admin_only(True, objects={"*": "rpcnet"}, body=lambda o: [_one(o["id"]), 1]),
    "one.vn.hold": admin_only(True, objects={"*": "rpcnet"},
                              body=lambda o: [_one(o["id"]), f'LEASES=[IP="{o["prefix"]}.12"]']),
    "one.vn.release": admin_only(True, objects={"*": "rpcnet"},
                                 body=lambda o: [_one(o["id"]), f'LEASES=[IP="{o["prefix"]}.11"]']),
    "one.vn.reserve": user(True, objects={"id": "matrixnet_id"},
                           body=lambda o: [_one(o["id"]), 'SIZE="1"']),
    "one.vn.addleases": admin_only(True, objects={"*": "rpcnet"},
                                   body=lambda o: [_one(o["id"]), f'LEASES=[IP="{o["prefix"]}.40"]']),
    "one.vn.rmleases": admin_only(True, objects={"*": "rpcnet"},
                                  body=lambda o: [_one(o["id"]), f'LEASES=[IP="{o["prefix"]}.30"]']),
    # sharing and annotating (chmod rights: owner, group, other; -1 keeps)
    "one.vm.chmod": own(True, objects={"id": "vm"},
                        body=lambda o: [_one(o["id"]), *_KEEP3, 1, 0, 0, *_KEEP3]),
    "one.image.chmod": own(True, objects={"id": "image"},
                           body=lambda o: [_one(o["id"]), *_KEEP3, 0, 0, 0, 0, 0, 0]),
    "one.image.chown": own(True, objects={"id": "image"}, body=lambda o: [_one(o["id"]), -1, -1]),
    "one.image.rename": own(True, objects={"id": "image"},
                            body=lambda o: [_one(o["id"]), f"renamed-{o['id']}"]),
    "one.image.update": own(True, objects={"id": "image"},
                            body=lambda o: [_one(o["id"]), 'DESCRIPTION="x"', 0]),
    "one.image.clone": own(True, objects={"id": "image"},
                           body=lambda o: [_one(o["id"]), f"clone-{o['id']}-{next(_FRESH)}", -1]),
    # lock levels: 1 USE, 2 MANAGE, 3 ADMIN, 4 ALL (MANAGE on the object locks and unlocks)
    "one.vm.lock": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"]), 2, False]),
    "one.vm.unlock": own(True, objects={"id": "vm"}, body=lambda o: [_one(o["id"])]),
    "one.image.lock": own(True, objects={"id": "image"},
                          body=lambda o: [_one(o["id"]), 1, False]),
    "one.image.unlock": own(True, objects={"id": "image"}, body=lambda o: [_one(o["id"])]),
    # a login token is the caller's own: nobody, not even the admin, gets one for another user
    "one.user.login": own(True, objects={"name": "self"}, denied=AUTHZ, admin=AUTHZ,
                          body=lambda o: [o["name"], "", 600, -1]),
    "one.template.chmod": own(True, objects={"id": "template"},
                              body=lambda o: [_one(o["id"]), *_KEEP3, 1, 0, 0, *_KEEP3]),
    "one.template.chown": own(True, objects={"id": "template"},
                              body=lambda o: [_one(o["id"]), -1, -1]),
    "one.template.rename": own(True, objects={"id": "template"},
                               body=lambda o: [_one(o["id"]), "renamed"]),
    "one.vn.chmod": admin_only(True, objects={"id": "network_id"},
                               body=lambda o: [_one(o["id"]), *_KEEP3, *_KEEP3, *_KEEP3]),
    "one.vn.chown": admin_only(True, objects={"id": "network_id"},
                               body=lambda o: [_one(o["id"]), -1, -1]),
    "one.vn.update": admin_only(True, objects={"id": "network_id"},
                                body=lambda o: [_one(o["id"]), 'DESCRIPTION="x"', 1]),
    # users change their own template; another user's is not there for them
    "one.user.update": admin_only(True, objects={"id": "user_id"}, denied=NO_EXISTS,
                                  body=lambda o: [_one(o["id"]), 'X="y"', 0]),
    "one.user.chauth": admin_only(True, objects={"id": "user_id"},
                                  body=lambda o: [_one(o["id"]), "core", "Chauth-pw-1"]),
    "one.host.update": admin_only(True, body=lambda o: [0, 'RACK="r1"', 0]),
    "one.user.quota": admin_only(True, objects={"id": "user_id"},
                                 body=lambda o: [_one(o["id"]), 'VM=[VMS="-1"]']),
    "one.group.quota": admin_only(True, objects={"id": "group_id"},
                                  body=lambda o: [_one(o["id"]), 'VM=[VMS="-1"]']),
}


#: registration (served when LDAP is configured: checked on a cloud with a real slapd)
REGISTRATION: dict[str, Row] = {
    "GET /register": public(200),
    "POST /register": public(200, form=True, body=lambda o: {
        **application(f"form{next(_FRESH)}"), "password_check": "Appl-pw-1234",
        "agreement": "yes"}),
    "POST /api/v1/registrations": public(202, body=lambda o: application(f"api{next(_FRESH)}")),
    "GET /api/v1/registrations": admin_only(200),
    "POST /api/v1/registrations/{uid}/approve": admin_only(200, objects={"uid": "applicant"}),
    "POST /api/v1/registrations/{uid}/reject": admin_only(200, objects={"uid": "applicant"},
                                                          body=lambda o: {"reason": "no"}),
    "GET /register/admin": admin_only(200),
    # a decision needs the page's CSRF token: without it nobody, not even the admin, decides
    "POST /register/admin/{uid}/{decision}": admin_only(
        403, objects={"uid": "applicant", "decision": "const:approve"}, form=True),
}


# --- the world ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, template_db: Path) -> Iterator[World]:
    data = tmp_path_factory.mktemp("matrix")
    seed_data_dir(data, template_db)
    # rows make many tenant networks for the same two users
    cloud: Cloud = build_cloud(make_settings(data, network={"user_max_networks": 1000}))
    cloud.identity.ensure_admin(ADMIN[1])
    try:
        yield World(cloud, tmp_path_factory.mktemp("matrix-files"))
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def reg_world(tmp_path_factory: pytest.TempPathFactory, template_db: Path, slapd: Any,
              smtp_port: int) -> Iterator[World]:
    """A cloud with a directory (real slapd), so the registration routes are served."""
    data = tmp_path_factory.mktemp("matrix-reg")
    # alive next to `world`: on PostgreSQL runs a database of its own (users, login throttle)
    server = own_database("matrix_registration")
    if not server:
        seed_data_dir(data, template_db)
    ldap = {"url": slapd.url, "user_dn_template": "uid={user},ou=users,o=cloud",
            "search_base": "ou=users,o=cloud", "group_base": "ou=groups,o=cloud",
            "bind_dn": ROOT_DN, "bind_password": ROOT_PW, "timeout": 3}
    cloud: Cloud = build_cloud(make_settings(
        data, server=server, auth={"ldap": ldap}, registration={"admin_email": "admin@example.org",
                                                 "rate_limit": 1000},
        mail={"host": "127.0.0.1", "port": smtp_port, "sender": "cloud@example.org",
              "timeout": 5}))
    cloud.identity.ensure_admin(ADMIN[1])
    try:
        yield World(cloud, tmp_path_factory.mktemp("matrix-reg-files"))
    finally:
        cloud.stop()


def route_keys(world: World) -> set[str]:
    routes = expand_occi(http_routes(world.cloud.app.routes), OCCI_KINDS, OCCI_LINKS)
    documentation = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/assets",
                     "/docs/oauth2-redirect"}
    return {f"{m} {p}" for m, p in routes if m != "HEAD" and p not in documentation}


def test_every_route_has_a_row(world: World) -> None:
    routes = route_keys(world)
    missing = sorted(routes - set(REST))
    stale = sorted(set(REST) - routes)
    assert not missing, ("routes without a row in tests/security/test_access_matrix.py (add "
                         "one: see its docstring):\n  " + "\n  ".join(missing))
    assert not stale, "rows for routes this server no longer has:\n  " + "\n  ".join(stale)


def test_every_registration_route_has_a_row(world: World, reg_world: World) -> None:
    routes = route_keys(reg_world) - route_keys(world)
    missing = sorted(routes - set(REGISTRATION))
    stale = sorted(set(REGISTRATION) - routes)
    assert not missing, "registration routes without a row:\n  " + "\n  ".join(missing)
    assert not stale, "rows for registration routes that no longer exist:\n  " + "\n  ".join(stale)


def test_every_xmlrpc_method_has_a_row() -> None:
    methods = set(all_methods())
    missing, stale = sorted(methods - set(XMLRPC)), sorted(set(XMLRPC) - methods)
    assert not missing, "XML-RPC methods without a row:\n  " + "\n  ".join(missing)
    assert not stale, "rows for XML-RPC methods that no longer exist:\n  " + "\n  ".join(stale)


# --- REST, pdisk, OCCI, marketplace ------------------------------------------------------------

def _split(key: str) -> tuple[str, str]:
    method, _, path = key.partition(" ")
    return method, path


def _fill(world: World, row: Row) -> dict[str, str]:
    consts = {k: v.removeprefix("const:") for k, v in row.objects.items() if v.startswith("const:")}
    made = world.objects({k: v for k, v in row.objects.items() if not v.startswith("const:")})
    return {**made, **consts}


def _missing_variant(row: Row, objs: Mapping[str, str], path: str) -> dict[str, str] | None:
    """The same request on objects that do not exist (path objects only)."""
    swapped = dict(objs)
    changed = False
    for name, kind in row.objects.items():
        base = kind.split(":")[0]
        if f"{{{name}}}" in plain_path(path) and base in MISSING:
            swapped[name] = MISSING[base]
            changed = True
    return swapped if changed else None


def _text(answer: Any, objs: Mapping[str, str]) -> str:
    text = answer.text
    for value in objs.values():
        text = text.replace(value, "ID")
    return text


def _params(table: Mapping[str, Row]) -> list[Any]:
    return [pytest.param(key, marks=pytest.mark.xfail(strict=True, reason=row.hole))
            if row.hole else key for key, row in sorted(table.items())]


def _same_answer(status: tuple[Any, str], ghost: tuple[Any, str]) -> None:
    assert ghost == status, ("another user's object and a missing object must get the same "
                             f"answer (no existence leak):\n  theirs:  {status}\n  missing: {ghost}")


@pytest.mark.parametrize("key", _params(REST))
def test_http_route(world: World, key: str) -> None:
    check_http_row(world, key, REST[key])


@pytest.mark.parametrize("key", _params(REGISTRATION))
def test_registration_route(reg_world: World, key: str) -> None:
    check_http_row(reg_world, key, REGISTRATION[key])


def check_http_row(world: World, key: str, row: Row) -> None:
    method, path = _split(key)
    path = path.replace("{text:path}", "{text}")
    objs = _fill(world, row)

    def call(who: tuple[str, str] | None, o: Mapping[str, str] = objs) -> Any:
        return world.rest(who, method, path, row, o)

    def show(answer: Any) -> str:
        return f"{answer.status_code} {answer.text[:300]}"

    anon = call(None)
    assert anon.status_code == (row.ok if row.access is Access.PUBLIC else 401), f"anonymous: {show(anon)}"

    other = call(OTHER)
    if row.access in (Access.OWN, Access.ADMIN, Access.CERT):
        default = {Access.OWN: 404, Access.ADMIN: 403, Access.CERT: 401}[row.access]
        assert other.status_code == (row.denied or default), f"other user: {show(other)}"
        missing = _missing_variant(row, objs, path)
        if other.status_code == 404 and missing is not None:
            ghost = call(OTHER, missing)
            _same_answer((other.status_code, _text(other, objs)),
                         (ghost.status_code, _text(ghost, missing)))
    else:
        assert other.status_code == row.ok, f"other user: {show(other)}"
        if row.hides:
            mine = world.make(row.hides)
            theirs = call(OTHER).text
            assert all(form not in theirs for form in (f'"{mine}"', f">{mine}<", f"/{mine}\n")), \
                f"another user's listing shows the owner's {row.hides} {mine}"
            assert mine in call(OWNER).text, f"the owner's listing lacks the {row.hides} {mine}"

    if row.access is not Access.ADMIN:
        mine_answer = call(OWNER)
        assert mine_answer.status_code == row.ok, f"owner: {show(mine_answer)}"
    answer = call(ADMIN, _fill(world, row))
    assert answer.status_code == row.admin_answer, f"admin: {show(answer)}"


# --- XML-RPC -----------------------------------------------------------------------------------

def _rpc_result(answer: list[Any]) -> bool | int:
    return True if answer[0] is True else int(answer[2])


@pytest.mark.parametrize("method", _params(XMLRPC))
def test_xmlrpc_method(world: World, method: str) -> None:
    row = XMLRPC[method]
    objs = _fill(world, row)

    def call(who: tuple[str, str] | None, o: Mapping[str, str] = objs) -> list[Any]:
        return world.rpc(who, method, row.body(o) if row.body else [])

    anon = call(None)
    assert _rpc_result(anon) == (row.ok if row.access is Access.PUBLIC else AUTHN), anon

    other = call(OTHER)
    if row.access in (Access.OWN, Access.ADMIN):
        default = NO_EXISTS if row.access is Access.OWN else AUTHZ
        assert _rpc_result(other) == (row.denied or default), other
        missing = {k: MISSING[v] for k, v in row.objects.items() if v in MISSING}
        if _rpc_result(other) == NO_EXISTS and missing:
            ghost = call(OTHER, {**objs, **missing})
            theirs, nothing = str(other[1]), str(ghost[1])
            for k in missing:
                theirs, nothing = theirs.replace(objs[k], "ID"), nothing.replace(missing[k], "ID")
            _same_answer((_rpc_result(other), theirs), (_rpc_result(ghost), nothing))
    else:
        assert _rpc_result(other) == row.ok, other
        if row.hides:
            mine = world.make(row.hides)
            entry = re.compile(rf"<(VM|IMAGE|VMTEMPLATE|USER)><ID>{mine}</ID>")
            assert not entry.search(str(call(OTHER)[1])), \
                f"another user sees the owner's {row.hides} {mine}"
            assert entry.search(str(call(OWNER)[1])), f"the owner does not see {mine}"

    if row.access is not Access.ADMIN:
        assert _rpc_result(call(OWNER)) == row.ok
    answer = call(ADMIN, _fill(world, row))
    assert _rpc_result(answer) == row.admin_answer, answer
