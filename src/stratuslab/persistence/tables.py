"""The cloud database schema (SQLAlchemy Core).  Every change here needs an Alembic migration."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from stratuslab.core.vmspec import InstanceSpec


class SpecJson(TypeDecorator[InstanceSpec]):
    """`vms.spec`: an `InstanceSpec` stored as versioned JSON (core/vmspec.py)."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return value.to_json() if isinstance(value, InstanceSpec) else value

    def process_result_value(self, value: Any, dialect: Dialect) -> InstanceSpec:
        return InstanceSpec.from_json(value if isinstance(value, dict) else None)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True)),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(256)),
    Column("groups", JSON, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("dn", String(512), unique=True),
    Column("created_at", DateTime(timezone=True)),
    Column("template", Text),  # OpenNebula user TEMPLATE (one.user.update)
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

images = Table(
    "images",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("owner", String(64), nullable=False, index=True),
    Column("group", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha1", String(40), nullable=False),
    Column("state", String(16), nullable=False),
    Column("public", Boolean, nullable=False, default=False),
    Column("source", Text),
    Column("kernel", Text),
    Column("initrd", Text),
    Column("cmdline", Text),
    Column("marketplace_id", String(64)),
    Column("created_at", DateTime(timezone=True)),
    Column("inbound_ports", JSON, nullable=False, default=list, server_default="[]"),
    Column("template", Text),  # OpenNebula image TEMPLATE (one.image.update)
    Column("lock", Integer, nullable=False, server_default="0"),  # one.image.lock level
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

vms = Table(
    "vms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("group", String(64), nullable=False),
    Column("state", String(32), nullable=False),
    Column("image_id", Integer, ForeignKey("images.id"), nullable=False),
    Column("instance_type", String(64), nullable=False),
    Column("vcpu", Integer, nullable=False),
    Column("memory_mib", Integer, nullable=False),
    Column("swap_mib", Integer, nullable=False, default=0),
    Column("disk_gb", Integer, nullable=False, default=0, server_default="0"),
    Column("host", String(128)),
    Column("ip", String(64)),
    Column("ipv6", String(64)),
    Column("mac", String(32)),
    Column("error", Text),
    Column("last_action", String(32)),
    Column("spec", SpecJson, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("permissions", String(9), nullable=False, server_default="um-------"),
    Column("lock", Integer, nullable=False, server_default="0"),  # one.vm.lock level
    Index("ix_vms_owner_state", "owner", "state"),
    Index("ix_vms_group_state", "group", "state"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("vm_id", Integer, ForeignKey("vms.id"), index=True),
    Column("target_state", String(32)),
    Column("step", String(64)),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("runner", String(128)),
    Column("heartbeat", DateTime(timezone=True)),
    Column("params", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("request_id", String(64)),
    Index("ix_jobs_state_id", "state", "id"),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

vm_events = Table(
    "vm_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("vm_id", Integer, ForeignKey("vms.id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("host", String(128)),
    Column("ip", String(64)),
    Column("mac", String(32)),
    sqlite_autoincrement=True,  # ids are never reused (migration 0008)
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner", String(64), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("result", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    UniqueConstraint("owner", "key", name="uq_idempotency_owner_key"),
)


# the oldest code revision that still runs on this schema (persistence.db writes it)
schema_compat = Table(
    "schema_compat",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("oldest_code_revision", String(64), nullable=False),
)


hosts = Table(
    "hosts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("state", String(16), nullable=False),  # core.hosts.HostState
    Column("cpus", Integer, nullable=False, server_default="0"),
    Column("memory_mib", Integer, nullable=False, server_default="0"),
    Column("reserved_cpus", Integer, nullable=False, server_default="0"),
    Column("reserved_memory_mib", Integer, nullable=False, server_default="0"),
    Column("load1", Float, nullable=False, server_default="0"),
    Column("memory_available_mib", Integer, nullable=False, server_default="0"),
    Column("version", String(64), nullable=False, server_default=""),
    Column("front_end", String(128), nullable=False, server_default=""),
    Column("attributes", JSON, nullable=False),
    Column("heartbeat_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    sqlite_autoincrement=True,  # ids are never reused
)

# host enrolment (core.enrolment): one-time tokens (hashed) and the certificates the cloud CA
# signed for hosts (serial in hex: 159-bit numbers); a revoked certificate is refused
host_enrolments = Table(
    "host_enrolments",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("host", String(128), nullable=False, index=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
)

host_certificates = Table(
    "host_certificates",
    metadata,
    Column("serial", String(48), primary_key=True),
    Column("host", String(128), nullable=False, index=True),
    Column("not_after", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

compute_quotas = Table(
    "compute_quotas",
    metadata,
    Column("subject_kind", String(8), primary_key=True),
    Column("subject_name", String(64), primary_key=True),
    Column("vms", Integer),
    Column("cpu", Integer),
    Column("memory_mib", Integer),
    Column("disk_gb", Integer),
)
