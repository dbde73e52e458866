"""Password-file authenticator: argon2 entries and the original `login-pswd.properties`.

Lines are `user = secret[,name...]` (also `user: secret,...`; `#` and `!` comments).  The secret
is an argon2 hash (`$argon2id$...`, contains commas itself), or one of the Jetty forms the
original proxy read: `MD5:<hex>`, `CRYPT:<DES crypt>`, or plain text.  Listed names that are
roles (`cloud-access`, `admin`, `user`) become roles, others groups.  The file is re-read when
it changes (the original needed a restart).  Imports argon2-cffi and core only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import Argon2Error, InvalidHashError

from stratuslab.core.auth import Credentials
from stratuslab.core.entities import Principal, Role
from stratuslab.services.auth.common import BadPassword, UserResolver, resolve

_LINE = re.compile(r"^\s*([^=:\s]+)\s*[=:]\s*(.*?)\s*$")
_ARGON2 = re.compile(r"^(\$argon2(?:id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[^$,\s]+\$[^$,\s]+)(.*)$")
_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class PasswordEntry:
    user: str
    secret: str
    groups: tuple[str, ...]
    roles: frozenset[str]


def parse_password_file(text: str) -> dict[str, PasswordEntry]:
    entries: dict[str, PasswordEntry] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        user, value = m.groups()
        argon = _ARGON2.match(value)
        if argon:
            secret, rest = argon.group(1), argon.group(2)
        else:
            secret, _, rest = value.partition(",")
        names = [n.strip() for n in rest.split(",") if n.strip()]
        entries[user] = PasswordEntry(
            user, secret.strip(),
            tuple(n for n in names if n not in _ROLES), frozenset(n for n in names if n in _ROLES),
        )
    return entries


def check_secret(secret: str, password: str, *, hasher: PasswordHasher) -> bool:
    if secret.startswith("$argon2"):
        try:
            return hasher.verify(secret, password)
        except (Argon2Error, InvalidHashError):
            return False
    if secret.startswith("MD5:"):
        digest = hashlib.md5(password.encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(digest, secret[4:].lower())
    if secret.startswith("CRYPT:"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # the Jetty CRYPT form is DES crypt; removed in 3.13: see report

        stored = secret[6:]
        return hmac.compare_digest(crypt.crypt(password, stored) or "", stored)
    if secret.startswith("OBF:"):
        return False  # Jetty obfuscation is not a hash; refuse rather than guess
    return hmac.compare_digest(secret.encode(), password.encode())


class PasswordFileAuthenticator:
    """Returns None for users the file does not list, so LDAP can be asked next."""

    method = "password"

    def __init__(self, path: str | Path, resolve_user: UserResolver, *,
                 hasher: PasswordHasher | None = None):
        self.path = Path(path)
        self.resolve_user = resolve_user
        self.hasher = hasher or PasswordHasher()
        self._stamp: int | None = None
        self._entries: dict[str, PasswordEntry] = {}

    def entries(self) -> dict[str, PasswordEntry]:
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            return {}
        if stamp != self._stamp:
            self._entries = parse_password_file(self.path.read_text())
            self._stamp = stamp
        return self._entries

    def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.username is None or credentials.password is None:
            return None
        entry = self.entries().get(credentials.username)
        if entry is None:
            return None
        if not credentials.password or not check_secret(entry.secret, credentials.password,
                                                        hasher=self.hasher):
            raise BadPassword(f"wrong password for user {entry.user}",
                                       hint="check the password given to the client")
        return resolve(self.resolve_user, entry.user, self.method,
                       groups=entry.groups, roles=entry.roles)
