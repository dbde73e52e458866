"""Drivers: hypervisor, storage, network and monitoring backends.

Import `core` only; never `services`, `persistence` or each other's kinds.
"""
