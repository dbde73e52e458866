"""Persistence of the marketplace: its own database, MetaData and Alembic directory.

Separate from the cloud database (persistence/ top level).  Imports core and SQLAlchemy only;
never drivers, services or api.
"""

from stratuslab.persistence.marketplace.db import open_database, sqlite_url
from stratuslab.persistence.marketplace.repository import SqlMarketplaceRepository

__all__ = ["SqlMarketplaceRepository", "open_database", "sqlite_url"]
