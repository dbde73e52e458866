"""Tables of the marketplace database (its own MetaData; separate from the cloud database).

Dates are stored as fixed-width UTC strings `yyyy-mm-ddTHH:MM:SSZ`, which sort and compare the same
way in SQLite and PostgreSQL.  Indexes serve the default query (latest, not deprecated, not expired,
newest first) and each filter, so search stays fast with 100,000 entries.  Imports SQLAlchemy only.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: One row per entry: the small, indexed columns that queries filter, count and sort on.
entries = Table(
    "mp_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identifier", String(27), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created", String(20), nullable=False),
    Column("latest", Boolean, nullable=False, default=True),
    Column("deprecated", Boolean, nullable=False, default=False),
    Column("valid_until", String(20), nullable=True),  # NULL: never expires
    Column("os", String(100), nullable=False, default=""),
    Column("os_version", String(100), nullable=False, default=""),
    Column("arch", String(50), nullable=False, default=""),
    Column("kind", String(20), nullable=False, default="machine"),
    Column("sha1", String(40), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("title", Text, nullable=False, default=""),
    Column("location", Text, nullable=False, default=""),
    Column("search_text", Text, nullable=False, default=""),  # lowercased, for free-text q
    Column("uploaded", String(20), nullable=False),
    UniqueConstraint("identifier", "email", "created", name="uq_mp_entries_key"),
    # status filters: counted from the index alone; newest-first pages walk the second one
    Index("ix_mp_entries_status", "latest", "deprecated", "valid_until"),
    Index("ix_mp_entries_latest_created", "latest", "deprecated", "created"),
    Index("ix_mp_entries_email_created", "email", "created"),
    Index("ix_mp_entries_os", "os", "latest", "deprecated", "valid_until"),
    Index("ix_mp_entries_arch", "arch", "latest", "deprecated", "valid_until"),
    Index("ix_mp_entries_kind", "kind", "latest", "deprecated", "valid_until"),
)

#: The big parts, read only for the rows of the page being returned.
documents = Table(
    "mp_documents",
    metadata,
    Column("entry_id", Integer, ForeignKey("mp_entries.id"), primary_key=True),
    Column("summary", Text, nullable=False),  # JSON of the parsed entry
    Column("raw", LargeBinary, nullable=False),  # the exact signed original
)

tags = Table(
    "mp_tags",
    metadata,
    Column("entry_id", Integer, ForeignKey("mp_entries.id"), primary_key=True),
    Column("tag", String(200), primary_key=True),
    Index("ix_mp_tags_tag", "tag", "entry_id"),
)

endorsers = Table(
    "mp_endorsers",
    metadata,
    Column("email", String(320), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("entries", Integer, nullable=False, default=0),
    Column("last_created", String(20), nullable=True),
)
