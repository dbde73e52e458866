"""Version profiles: which OpenNebula line's XML shapes an endpoint answers with.

OpenNebula's answers changed shape between lines (3.x: top-level MEMORY/CPU of a VM, no image
FSTYPE-less form, networks with TYPE and LEASES; 4.4+: address ranges, monitoring apart, ...).
A client parses the shape of the line it was written for, so each endpoint path claims one line
(`Profile`) and every renderer takes it.  Two shapes exist: the 3.x line (`legacy`, as 3.2's
share/doc/xsd) and the current one (as 7.4's).  Imports only the standard library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CLASSIC_VERSION = "3.2.0"  # the OpenNebula line StratusLab 14.06 shipped
CURRENT_VERSION = "7.4.0"


@dataclass(frozen=True, slots=True)
class Profile:
    version: str  # what one.system.version answers

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    @property
    def legacy(self) -> bool:
        """3.x-era shapes (up to 4.2: before address ranges and the split-out monitoring)."""
        return self.major < 4


def endpoint_versions(default: str) -> Mapping[str, str]:
    """The paths one server answers on, each with the OpenNebula line it claims.

    `/RPC2` and `/xmlrpc` answer as `default` (the `[xmlrpc] one_version` setting); the classic
    StratusLab paths `/pswd/xmlrpc` and `/cert/xmlrpc` always as the 3.2 line the 14.06 client
    parses; `/one/3.2/RPC2` and `/one/7.4/RPC2` pin a line whatever the setting, so 3.x-era and
    current clients can use one server at once.
    """
    return {
        "/RPC2": default,
        "/xmlrpc": default,
        "/pswd/xmlrpc": CLASSIC_VERSION,
        "/cert/xmlrpc": CLASSIC_VERSION,
        "/one/3.2/RPC2": CLASSIC_VERSION,
        "/one/7.4/RPC2": CURRENT_VERSION,
    }
