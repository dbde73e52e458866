"""The cloud's certificate authority and the keys of its hosts and front ends (`cryptography`)."""

from stratuslab.drivers.pki.ca import CloudCA, new_key_and_request

__all__ = ["CloudCA", "new_key_and_request"]
