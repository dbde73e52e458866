"""The native REST API (/api/v1, FastAPI).  Independent of the other API adapters."""

from stratuslab.api.rest.app import create_app
from stratuslab.api.rest.deps import RestContext

__all__ = ["RestContext", "create_app"]
