"""OpenNebula-compatible XML-RPC front end (pyone and the original StratusLab client).

Wire format only: template language, OpenNebula XML, codes and the dispatcher; every decision
is the backend's (`backend.XmlRpcBackend`).  Must not import drivers, persistence, settings,
bootstrap, nor the other API adapters.
"""

from stratuslab.api.xmlrpc.backend import XmlRpcBackend
from stratuslab.api.xmlrpc.profiles import endpoint_versions
from stratuslab.api.xmlrpc.router import create_router

__all__ = ["XmlRpcBackend", "create_router", "endpoint_versions"]
