"""The `bridge` network driver (see driver.py) and the all-in-one data-plane namespace."""

from stratuslab.drivers.network.bridge.driver import BridgeConfig, BridgeDriver
from stratuslab.drivers.network.bridge.namespace import DataPlaneNamespace

__all__ = ["BridgeConfig", "BridgeDriver", "DataPlaneNamespace"]
