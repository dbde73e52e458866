"""Composition root (a package: one wiring module per feature)."""

from stratuslab.bootstrap.cloud import Cloud, Wiring, admin_password_file, build_cloud

__all__ = ["Cloud", "Wiring", "admin_password_file", "build_cloud"]
