"""Composition root (a package: one wiring module per feature)."""

from stratuslab.bootstrap.cloud import Cloud, admin_password_file, build_cloud, write_secret
from stratuslab.bootstrap.wiring import Wiring

__all__ = ["Cloud", "Wiring", "admin_password_file", "build_cloud", "write_secret"]
