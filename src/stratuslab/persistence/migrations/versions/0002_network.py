"""network: networks, address ranges, leases, holds, reservations, security groups

Revision ID: 0002_network
Revises: 0001
Create Date: 2026-11-22 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_network"
down_revision = "0001"
branch_labels = None
depends_on = None
#: code of the previous revision still runs on this schema (expand only: new tables,
#: nullable or defaulted columns); see persistence.db.compatibility_floor
backward_compatible = True


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("subnet", sa.String(length=64), nullable=False),
        sa.Column("address_class", sa.String(length=16), nullable=False),
        sa.Column("segment_kind", sa.String(length=16), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("gateway", sa.String(length=64), nullable=True),
        sa.Column("dns", sa.JSON(), nullable=False),
        sa.Column("mac_prefix", sa.String(length=8), nullable=False),
        sa.Column("ipv6_prefix", sa.String(length=64), nullable=True),
        sa.Column("ipv6_mode", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
        sa.UniqueConstraint("name", name=op.f("uq_networks_name")),
        sa.UniqueConstraint("segment_kind", "segment_id", name="uq_networks_segment"),
    )
    op.create_table(
        "network_ranges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("first_ip", sa.String(length=64), nullable=False),
        sa.Column("last_ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_network_ranges_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_ranges")),
    )
    op.create_index(
        op.f("ix_network_ranges_network_id"), "network_ranges", ["network_id"], unique=False
    )
    op.create_table(
        "network_reservations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_reservations")),
    )
    op.create_index(
        op.f("ix_network_reservations_owner"), "network_reservations", ["owner"], unique=False
    )
    op.create_table(
        "network_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=32), nullable=False),
        sa.Column("ipv6", sa.String(length=64), nullable=True),
        sa.Column("vm_id", sa.Integer(), nullable=True),
        sa.Column("nic_index", sa.Integer(), nullable=False),
        sa.Column("reservation_id", sa.Integer(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_leases")),
        sa.UniqueConstraint("network", "ip", name="uq_network_leases_network_ip"),
    )
    for col in ("vm_id", "reservation_id", "owner"):
        op.create_index(op.f(f"ix_network_leases_{col}"), "network_leases", [col], unique=False)
    op.create_table(
        "network_holds",
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("network", "ip", name=op.f("pk_network_holds")),
    )
    op.create_table(
        "security_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_groups")),
        sa.UniqueConstraint("owner", "name", name="uq_security_groups_owner_name"),
    )


def downgrade() -> None:
    op.drop_table("security_groups")
    op.drop_table("network_holds")
    for col in ("vm_id", "reservation_id", "owner"):
        op.drop_index(op.f(f"ix_network_leases_{col}"), table_name="network_leases")
    op.drop_table("network_leases")
    op.drop_index(op.f("ix_network_reservations_owner"), table_name="network_reservations")
    op.drop_table("network_reservations")
    op.drop_index(op.f("ix_network_ranges_network_id"), table_name="network_ranges")
    op.drop_table("network_ranges")
    op.drop_table("networks")
