"""Start-up resync of the data plane: after a server restart, the segments and DHCP host entries
of every network that still has VM leases.  Imports core and services only."""

from __future__ import annotations

import logging

from stratuslab.core.errors import CloudError
from stratuslab.core.network import NetworkDriverPort
from stratuslab.core.ports import UnitOfWorkFactory
from stratuslab.services.network.service import repo_of

log = logging.getLogger("stratuslab.network")


def resync_data_plane(uow: UnitOfWorkFactory, driver: NetworkDriverPort) -> None:
    """A failure is logged and the server still starts; new deploys retry the data plane."""
    try:
        with uow(readonly=True) as tx:
            repo = repo_of(tx)
            for network in repo.list_networks():
                leases = [le for le in repo.leases(network.name) if le.vm_id is not None]
                if not leases:
                    continue
                driver.ensure_segment(network)
                for lease in leases:
                    driver.add_dhcp_host(network, lease)
    except CloudError as exc:
        log.warning("network: resync failed: %s", exc.full_message)
