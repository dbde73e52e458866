"""Wiring of the other API adapters (XML-RPC, OCCI...) onto the main application."""

from __future__ import annotations

from typing import Any

from stratuslab.bootstrap.cloud import Wiring


def wire(w: Wiring, app: Any) -> None:
    """Nothing wired yet."""
