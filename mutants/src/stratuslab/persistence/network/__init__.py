"""The SQL side of networking: tables (tables.py) and the NetworkRepo (repository.py, with
reservations and security groups in groups.py).  Imports core and persistence only."""

from stratuslab.persistence.network.repository import SqlNetworkRepo
from stratuslab.persistence.network.tables import rule_from_json, rule_to_json

__all__ = ["SqlNetworkRepo", "rule_from_json", "rule_to_json"]
