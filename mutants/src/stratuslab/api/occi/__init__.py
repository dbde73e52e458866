"""OGF OCCI 1.2 front end (Core + Infrastructure; text/plain, text/occi, text/uri-list and
application/occi+json renderings).

Wire format only; every decision is the backend's (`backend.OcciBackend`).  Must not import
drivers, persistence, settings, bootstrap, nor the other API adapters.
"""

from stratuslab.api.occi.backend import OcciBackend
from stratuslab.api.occi.router import create_router

__all__ = ["OcciBackend", "create_router"]
