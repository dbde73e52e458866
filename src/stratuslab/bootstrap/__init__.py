"""Composition root (a package: one wiring module per feature, see bootstrap/wiring.py)."""

from stratuslab.bootstrap.cloud import Cloud, admin_password_file, build_cloud, write_secret

__all__ = ["Cloud", "admin_password_file", "build_cloud", "write_secret"]
