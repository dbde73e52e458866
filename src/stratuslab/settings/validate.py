"""Checks that span several keys or look inside table-valued settings (the per-key choices,
bounds and units are checked by `loader` from each field's declaration)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from stratuslab.settings.model import Settings, SettingsError, parse_duration

DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")


def validate(s: Settings) -> None:
    for key, url in (("server.database_url", s.server.database_url),
                     ("marketplace.database_url", s.marketplace.database_url)):
        if url and not url.startswith(DATABASE_SCHEMES):
            raise SettingsError(f"setting {key}: {url.split(':', 1)[0]!r} databases are not "
                                "supported", hint="use sqlite:///PATH or postgresql://USER:PASSWORD@"
                                "HOST/DB (or leave it empty for SQLite in the data directory)")
    for name, values in s.instance_types.types.items():
        if (not isinstance(values, list) or len(values) not in (2, 3)
                or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values)):
            raise SettingsError(f"setting instance_types.types.{name}: expected [cpu, ram_mib, "
                                "swap_mib] (whole numbers)")
    if s.instance_types.default not in s.instance_types.types:
        raise SettingsError(
            f"setting instance_types.default: {s.instance_types.default!r} is not a defined type",
            hint=f"choose one of {', '.join(sorted(s.instance_types.types))}")
    for origin in s.server.trusted_origins:
        if not re.match(r"^https?://[^/\s]+$", origin):
            raise SettingsError(f"setting server.trusted_origins: {origin!r} is not an origin",
                                hint="write scheme://host[:port], e.g. https://portal.example.org")
    _validate_auth(s)
    _validate_storage(s)


def _validate_storage(s: Settings) -> None:
    st = s.storage
    for name, table in st.pools.items():
        if not isinstance(table, Mapping):
            raise SettingsError(f"setting storage.pools.{name} must be a table")
    if st.pools and st.default_pool not in st.pools:
        raise SettingsError(f"setting storage.default_pool: {st.default_pool!r} is not a pool",
                            hint=f"define [storage.pools.{st.default_pool}] or choose one of "
                            f"{', '.join(sorted(st.pools))}")
    for name, table in s.network.classes.items():
        if not isinstance(table, Mapping):
            raise SettingsError(f"setting network.classes.{name} must be a table")


def _validate_auth(s: Settings) -> None:
    if s.auth.ldap.url and not (s.auth.ldap.user_dn_template or s.auth.ldap.search_base):
        raise SettingsError("setting auth.ldap.url is set without user_dn_template or search_base",
                            hint='add e.g. user_dn_template = "uid={user},ou=users,dc=example,dc=org"')
    tls = s.tls
    if any((tls.listen, tls.cert, tls.key)) and not all((tls.listen, tls.cert, tls.key)):
        raise SettingsError("settings tls.listen, tls.cert and tls.key go together",
                            hint="set all three to serve HTTPS with client certificates")
    parse_duration(s.registration.rate_window, key="registration.rate_window")
