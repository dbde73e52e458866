"""Wiring of the auth feature into the cloud (see bootstrap.cloud.Wiring)."""

from __future__ import annotations

from stratuslab.bootstrap.cloud import Wiring


def wire(w: Wiring) -> None:
    """Nothing wired yet."""
