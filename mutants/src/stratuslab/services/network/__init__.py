"""Network use cases: network definitions, IP address management and security groups.

Pure logic over the NetworkRepo port (repository.py); the lead's NetworkService wires it to the
unit of work, quotas and the node's network driver.  Imports core only.
"""

from stratuslab.services.network.definitions import (
    DEFAULT_CLASSES,
    SegmentPool,
    add_range,
    create_network,
    ensure_default_networks,
    get_network,
    network_from_table,
    validate,
)
from stratuslab.services.network.ipam import Ipam, NetworkUsage, lease_message
from stratuslab.services.network.repository import NetworkRepo
from stratuslab.services.network.secgroups import parse_rule, rules_for_nic, validate_group

__all__ = [
    "DEFAULT_CLASSES",
    "Ipam",
    "NetworkRepo",
    "NetworkUsage",
    "SegmentPool",
    "add_range",
    "create_network",
    "ensure_default_networks",
    "get_network",
    "lease_message",
    "network_from_table",
    "parse_rule",
    "rules_for_nic",
    "validate",
    "validate_group",
]
