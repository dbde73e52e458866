"""Persistence of the cloud database: SQLAlchemy 2.0 tables, repositories, unit of work, Alembic.

Imports `core` only; never drivers or services.
"""
