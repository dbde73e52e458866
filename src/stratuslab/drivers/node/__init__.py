"""The two ends of the front end <-> node agent link: `RemoteNode` (a front end calls an agent's
drivers, mutual TLS with the cloud CA) and `FrontEndLink` (an agent reports to its front end)."""

from stratuslab.drivers.node.remote import AgentTls, connect
from stratuslab.drivers.node.uplink import FrontEndLink

__all__ = ["AgentTls", "FrontEndLink", "connect"]
