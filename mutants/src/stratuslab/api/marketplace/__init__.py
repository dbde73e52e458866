"""Marketplace REST front end (FastAPI).  Imports core and services only."""

from stratuslab.api.marketplace.app import create_app

__all__ = ["create_app"]
