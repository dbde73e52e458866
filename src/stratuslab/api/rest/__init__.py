"""The native REST API (/api/v1, FastAPI).  Independent of the other API adapters."""

from stratuslab.api.rest.app import RestContext, create_app

__all__ = ["RestContext", "create_app"]
