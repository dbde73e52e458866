"""SNIA CDMI 1.1 file storage under /cdmi/ (see `router`)."""

from stratuslab.api.cdmi.router import create_router

__all__ = ["create_router"]
