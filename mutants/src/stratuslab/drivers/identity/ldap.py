"""The Directory port on an LDAP server, with ldap3.

The DIT follows StratusLab's registration service: people are `inetOrgPerson` entries named by
`uid` (DN from a template such as `uid={user},ou=users,o=cloud`, or found by searching
`search_base`), with certificate DNs in `seeAlso`; groups are `groupOfUniqueNames` (also
`groupOfNames`/`posixGroup` when reading) under `group_base`.  A registration's status lives in
`employeeType` (`pending`/`active`; absent means active) and the applicant's note in
`description`.  Network failures become Unavailable.

TLS: `ldaps://` and StartTLS (`start_tls`) always verify the server certificate and host name
(against `ca_file`, else the system's trust store); a clear-text `ldap://` URL is accepted only
on loopback.  `insecure` lifts both, with an error line in the log at start-up.
Imports ldap3 and core only.
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ldap3 import (
    BASE,
    HASHED_SALTED_SHA,
    MODIFY_ADD,
    MODIFY_REPLACE,
    SUBTREE,
    Connection,
    Server,
    Tls,
)
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn
from ldap3.utils.hashed import hashed

from stratuslab.core.directory import AccountStatus, DirectoryUser, NewDirectoryUser
from stratuslab.core.errors import Conflict, InvalidInput, NotFound, Unavailable

log = logging.getLogger("stratuslab.auth")

_PERSON_ATTRS = ["uid", "mail", "givenName", "sn", "seeAlso", "employeeType", "description"]


@dataclass(frozen=True, slots=True)
class LdapConfig:
    url: str
    user_dn_template: str | None = None  # e.g. "uid={user},ou=users,dc=example,dc=org"
    search_base: str | None = None  # where people are searched for when there is no template
    group_base: str | None = None
    bind_dn: str | None = None  # service account for searches and writes
    bind_password: str | None = None
    timeout: float = 5.0
    ca_file: str | None = None  # PEM bundle the server certificate must chain to
    start_tls: bool = False  # StartTLS on ldap:// before any bind
    insecure: bool = False  # accept unverified TLS / clear text to a remote server


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def tls_problem(config: LdapConfig) -> str | None:
    """Why this configuration would send passwords unprotected, or None."""
    parsed = urlsplit(config.url)
    if parsed.scheme == "ldaps" or config.start_tls:
        return None
    if _loopback(parsed.hostname or ""):
        return None  # never leaves the machine
    return (f"LDAP {config.url} would carry passwords in clear text to a remote server")


def _first(entry: Mapping[str, Any], key: str) -> str | None:
    values = entry.get(key) or []
    if isinstance(values, str | bytes):
        values = [values]
    return str(values[0]) if values else None


class LdapDirectory:
    def __init__(self, config: LdapConfig):
        if not (config.user_dn_template or config.search_base):
            raise InvalidInput("LDAP needs user_dn_template or search_base",
                               hint="set [auth.ldap] user_dn_template")
        self.config = config
        problem = tls_problem(config)
        if problem and not config.insecure:
            raise InvalidInput(problem, hint="use an ldaps:// URL or set [auth.ldap] start_tls ="
                               " true (insecure = true accepts the risk; not recommended)")
        if config.insecure:
            log.error("INSECURE: [auth.ldap] insecure = true: the LDAP server's certificate is "
                      "NOT verified%s; passwords may go to whoever answers %s",
                      f" ({problem})" if problem else "", config.url)
        try:
            tls = Tls(validate=ssl.CERT_NONE if config.insecure else ssl.CERT_REQUIRED,
                      ca_certs_file=config.ca_file or None)
        except LDAPException as exc:
            raise InvalidInput(f"[auth.ldap] ca_file {config.ca_file}: {exc}",
                               hint="point ca_file at a readable PEM bundle") from exc
        self.server = Server(config.url, connect_timeout=config.timeout, tls=tls)
        self._receive_timeout = max(1, int(config.timeout))  # ldap3 packs it as an int

    def _bound(self, user: str | None, password: str | None) -> tuple[Connection, bool]:
        """A connection (StartTLS first when configured) and whether the bind succeeded."""
        conn = Connection(self.server, user, password, receive_timeout=self._receive_timeout,
                          raise_exceptions=False)
        conn.open()
        if self.config.start_tls and not conn.start_tls():
            conn.unbind()
            raise Unavailable(f"LDAP {self.config.url} refused StartTLS: "
                              f"{(conn.result or {}).get('description')}",
                              hint="check the server's TLS setup or [auth.ldap] start_tls")
        return conn, bool(conn.bind())

    # connections ---------------------------------------------------------------------------
    @contextmanager
    def _service(self) -> Iterator[Connection]:
        """A connection bound as the service account (anonymous when none is configured)."""
        try:
            conn, ok = self._bound(self.config.bind_dn, self.config.bind_password)
            if not ok:
                conn.unbind()
                raise Unavailable(f"LDAP {self.config.url} refused the service bind "
                                  f"as {self.config.bind_dn}: {conn.result.get('description')}",
                                  hint="check [auth.ldap] bind_dn and bind_password")
        except LDAPException as exc:
            raise Unavailable(f"LDAP {self.config.url} is unreachable: {exc}",
                              hint="check that the LDAP server is running") from exc
        try:
            yield conn
        finally:
            conn.unbind()

    def _search(self, conn: Connection, base: str, query: str, attrs: list[str], *,
                scope: Any = SUBTREE) -> list[tuple[str, dict[str, Any]]]:
        try:
            conn.search(base, query, search_scope=scope, attributes=attrs)
        except LDAPException as exc:
            raise Unavailable(f"LDAP search under {base} failed: {exc}") from exc
        return [(e["dn"], dict(e["attributes"])) for e in conn.response or []
                if e.get("type") == "searchResEntry"]

    def _check(self, conn: Connection, what: str) -> None:
        result = conn.result or {}
        if result.get("result") == 68:
            raise Conflict(f"{what}: the entry already exists",
                           hint="choose another user name")
        if result.get("result") == 32:
            raise NotFound("directory entry", what, listing="ldapsearch")
        if result.get("result") not in (0, None):
            raise Unavailable(f"LDAP {what} failed: {result.get('description')} "
                              f"{result.get('message', '')}".strip())

    # people --------------------------------------------------------------------------------
    def _template_dn(self, uid: str) -> str | None:
        if self.config.user_dn_template:
            return self.config.user_dn_template.format(user=escape_rdn(uid))
        return None

    def _person(self, conn: Connection, uid: str) -> DirectoryUser | None:
        dn = self._template_dn(uid)
        if dn:
            found = self._search(conn, dn, "(objectClass=*)", _PERSON_ATTRS, scope=BASE)
        else:
            found = self._search(conn, str(self.config.search_base),
                                 f"(uid={escape_filter_chars(uid)})", _PERSON_ATTRS)
        return _to_user(*found[0]) if found else None

    def find_user(self, uid: str) -> DirectoryUser | None:
        with self._service() as conn:
            return self._person(conn, uid)

    def check_password(self, uid: str, password: str) -> bool:
        if not password:  # an empty password is an anonymous bind, which always "succeeds"
            return False
        dn = self._template_dn(uid)
        if dn is None:
            person = self.find_user(uid)
            if person is None:
                return False
            dn = person.dn
        try:
            conn, ok = self._bound(dn, password)
            conn.unbind()
        except LDAPException as exc:
            raise Unavailable(f"LDAP {self.config.url} is unreachable: {exc}",
                              hint="check that the LDAP server is running") from exc
        return ok

    def user_for_cert_dn(self, cert_dn: str) -> DirectoryUser | None:
        base = self.config.search_base or _parent(self._template_dn("x") or "")
        with self._service() as conn:
            # pending registrations never map a certificate (nor lock its holder out)
            query = f"(&(seeAlso={escape_filter_chars(cert_dn)})(!(employeeType=pending)))"
            found = self._search(conn, base, query, _PERSON_ATTRS)
        return _to_user(*found[0]) if len(found) == 1 else None

    def list_users(self, status: AccountStatus | None = None) -> list[DirectoryUser]:
        base = self.config.search_base or _parent(self._template_dn("x") or "")
        query = "(objectClass=inetOrgPerson)"
        if status is AccountStatus.PENDING:
            query = "(&(objectClass=inetOrgPerson)(employeeType=pending))"
        elif status is AccountStatus.ACTIVE:
            query = "(&(objectClass=inetOrgPerson)(!(employeeType=pending)))"
        with self._service() as conn:
            return sorted((_to_user(dn, a) for dn, a in self._search(conn, base, query,
                                                                        _PERSON_ATTRS)),
                          key=lambda u: u.uid)

    def add_pending_user(self, new: NewDirectoryUser) -> DirectoryUser:
        dn = self._template_dn(new.uid) or f"uid={escape_rdn(new.uid)},{self.config.search_base}"
        attrs: dict[str, Any] = {
            "uid": new.uid, "cn": f"{new.given_name} {new.surname}", "sn": new.surname,
            "givenName": new.given_name, "mail": new.mail, "employeeType": "pending",
            "userPassword": hashed(HASHED_SALTED_SHA, new.password),
        }
        if new.cert_dn:
            attrs["seeAlso"] = new.cert_dn
        if new.message:
            attrs["description"] = new.message
        with self._service() as conn:
            conn.add(dn, ["inetOrgPerson"], attrs)
            self._check(conn, f"add {dn}")
        return DirectoryUser(new.uid, dn, new.mail, new.given_name, new.surname,
                             (new.cert_dn,) if new.cert_dn else (), AccountStatus.PENDING,
                             new.message)

    def _dn_of(self, conn: Connection, uid: str) -> str:
        person = self._person(conn, uid)
        if person is None:
            raise NotFound("user", uid, listing="stratus registration list")
        return person.dn

    def modify_user(self, uid: str, changes: Mapping[str, Sequence[str]]) -> None:
        with self._service() as conn:
            dn = self._dn_of(conn, uid)
            conn.modify(dn, {k: [(MODIFY_REPLACE, list(v))] for k, v in changes.items()})
            self._check(conn, f"modify {dn}")

    def set_status(self, uid: str, status: AccountStatus) -> None:
        self.modify_user(uid, {"employeeType": [status.value]})

    def delete_user(self, uid: str) -> None:
        with self._service() as conn:
            dn = self._dn_of(conn, uid)
            conn.delete(dn)
            self._check(conn, f"delete {dn}")

    # groups --------------------------------------------------------------------------------
    def groups_of(self, user: DirectoryUser) -> tuple[str, ...]:
        if not self.config.group_base:
            return ()
        dn, uid = escape_filter_chars(user.dn), escape_filter_chars(user.uid)
        query = f"(|(uniqueMember={dn})(member={dn})(memberUid={uid}))"
        with self._service() as conn:
            found = self._search(conn, self.config.group_base, query, ["cn"])
        return tuple(sorted(name for _, a in found if (name := _first(a, "cn"))))

    def add_to_group(self, uid: str, group: str) -> None:
        if not self.config.group_base:
            raise InvalidInput(f"cannot add {uid} to {group}: no LDAP group base",
                               hint="set [auth.ldap] group_base")
        group_dn = f"cn={escape_rdn(group)},{self.config.group_base}"
        with self._service() as conn:
            member = self._dn_of(conn, uid)
            conn.modify(group_dn, {"uniqueMember": [(MODIFY_ADD, [member])]})
            code = (conn.result or {}).get("result")
            if code == 32:  # the group does not exist yet: create it with this member
                conn.add(group_dn, ["groupOfUniqueNames"], {"cn": group, "uniqueMember": member})
                self._check(conn, f"add {group_dn}")
            elif code != 20:  # 20: already a member
                self._check(conn, f"add {uid} to {group_dn}")


def _parent(dn: str) -> str:
    return dn.split(",", 1)[1] if "," in dn else dn


def _to_user(dn: str, attrs: Mapping[str, Any]) -> DirectoryUser:
    see_also = attrs.get("seeAlso") or []
    status = _first(attrs, "employeeType")
    return DirectoryUser(
        uid=_first(attrs, "uid") or "", dn=dn, mail=_first(attrs, "mail"),
        given_name=_first(attrs, "givenName"), surname=_first(attrs, "sn"),
        cert_dns=tuple(str(v) for v in see_also),
        status=AccountStatus.PENDING if status == "pending" else AccountStatus.ACTIVE,
        message=_first(attrs, "description"),
    )
