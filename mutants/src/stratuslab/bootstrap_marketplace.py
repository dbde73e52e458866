"""Composition root of `stratus-marketplace`: config -> database -> service -> FastAPI app -> uvicorn.

Also used by the all-in-one server (`make_app(MarketplaceConfig)`) to mount the marketplace under
`/marketplace`.  Reads the `[marketplace]` and `[policy]` sections of the TOML config file; the
marketplace has its own database (`marketplace.db` in the data directory unless `database_url`).
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from stratuslab.api.marketplace import create_app
from stratuslab.core.errors import InvalidInput
from stratuslab.persistence.marketplace import SqlMarketplaceRepository, open_database, sqlite_url
from stratuslab.services.marketplace import MarketplaceService, PolicyLists, TrustPolicy, TrustStore

DEFAULT_CA_DIR = "/etc/grid-security/certificates"
#: keys of stratus-server's [marketplace] that only the cloud side reads (a shared file works)
CLOUD_SIDE_KEYS = ("serve", "endpoint", "cache_dir")
POLICY_KEYS = (
    "endorsers_whitelist", "endorsers_blacklist", "images_whitelist", "images_blacklist",
    "checksums_whitelist", "checksums_blacklist",
)


@dataclass(frozen=True)
class MarketplaceConfig:
    data_dir: str = "."
    database_url: str = ""  # empty: sqlite:///<data_dir>/marketplace.db
    ca_dir: str = DEFAULT_CA_DIR
    max_body: int = 10 * 1024 * 1024
    require_email: bool = True
    listen: str = "127.0.0.1:9204"
    policy: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, data: Mapping[str, Any], **overrides: Any) -> MarketplaceConfig:
        mp = {k: v for k, v in data.get("marketplace", {}).items() if k not in CLOUD_SIDE_KEYS}
        unknown = set(mp) - {"data_dir", "database_url", "ca_dir", "max_body", "require_email", "listen"}
        if unknown:
            raise InvalidInput(f"unknown [marketplace] settings: {', '.join(sorted(unknown))}")
        pol = dict(data.get("policy", {}))
        lists = {k: tuple(_as_list(pol[k], k)) for k in POLICY_KEYS if k in pol}
        values = {**mp, **{k: v for k, v in overrides.items() if v is not None}}
        if "data_dir" not in values and "server" in data and "data_dir" in data["server"]:
            values["data_dir"] = data["server"]["data_dir"]
        return cls(policy=lists, **values)

    def policy_lists(self) -> PolicyLists:
        return PolicyLists.of(**{k: list(v) for k, v in self.policy.items()})


def _as_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return value.replace(",", " ").split()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidInput(f"setting [policy] {key} must be a list of strings")


def load_trust(ca_dir: str) -> TrustStore:
    """The CAs of `ca_dir`; the default directory may be absent (then nothing is trusted yet and
    uploads are refused with a hint to set [marketplace] ca_dir); a configured one must exist."""
    if ca_dir == DEFAULT_CA_DIR and not Path(ca_dir).is_dir():
        return TrustStore()
    return TrustStore.from_directory(ca_dir)


def open_service(config: MarketplaceConfig) -> tuple[MarketplaceService, Engine]:
    """The service and its engine (the all-in-one server disposes of the engine at exit)."""
    url = config.database_url or sqlite_url(config.data_dir)
    engine = open_database(url)
    service = MarketplaceService(
        SqlMarketplaceRepository(engine),
        load_trust(config.ca_dir),
        policy=TrustPolicy(config.policy_lists()),
        require_email=config.require_email,
    )
    return service, engine


def make_service(config: MarketplaceConfig) -> MarketplaceService:
    return open_service(config)[0]


def make_app(config: MarketplaceConfig) -> FastAPI:
    return create_app(make_service(config), max_body=config.max_body)


def load_config(path: str | None, **overrides: Any) -> MarketplaceConfig:
    data: dict[str, Any] = {}
    if path:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    return MarketplaceConfig.from_toml(data, **overrides)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="stratus-marketplace", description="StratusLab Marketplace: signed image metadata registry"
    )
    parser.add_argument("--config", help="TOML settings file ([marketplace], [policy])")
    parser.add_argument("--data-dir", help="directory of the marketplace database")
    parser.add_argument("--listen", help="host:port to listen on (default 127.0.0.1:9204)")
    parser.add_argument("--ca-dir", help="directory of trusted CA certificates")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, data_dir=args.data_dir, listen=args.listen, ca_dir=args.ca_dir)
        app = make_app(config)
    except InvalidInput as exc:
        parser.exit(2, f"Error: {exc.full_message}\n")
    host, _, port = config.listen.rpartition(":")
    import uvicorn  # only when serving

    uvicorn.run(app, host=host or "127.0.0.1", port=int(port), log_level="info")


if __name__ == "__main__":
    main()
