"""Wiring of the network feature into the cloud (see bootstrap.cloud.Wiring)."""

from __future__ import annotations

from stratuslab.bootstrap.cloud import Wiring


def wire(w: Wiring) -> None:
    """Nothing wired yet."""


def prepare(w: Wiring) -> None:
    """Choose the data-plane namespace (w.netns) before the node is built."""
