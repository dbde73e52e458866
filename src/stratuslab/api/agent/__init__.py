"""The node agent's HTTPS API (served by `stratus-node run`): front ends call the host's
hypervisor and instance-storage drivers through it."""

from stratuslab.api.agent.app import create_agent_app

__all__ = ["create_agent_app"]
