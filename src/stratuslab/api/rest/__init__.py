"""The native REST API (/api/v1, FastAPI).  Independent of the other API adapters."""

from stratuslab.api.rest.app import create_app

__all__ = ["create_app"]
