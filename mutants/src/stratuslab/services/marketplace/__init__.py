"""Marketplace services: metadata format, XML-DSig, trust store, site policy and use cases.

Pure logic over bytes and value objects; imports core, lxml, xmlsec and cryptography, never
drivers, persistence, api or settings.
"""

from stratuslab.services.marketplace.policy import PolicyLists, TrustPolicy
from stratuslab.services.marketplace.service import ImageGate, MarketplaceService
from stratuslab.services.marketplace.trust import SigningCredentials, TrustStore

__all__ = [
    "ImageGate",
    "MarketplaceService",
    "PolicyLists",
    "SigningCredentials",
    "TrustPolicy",
    "TrustStore",
]
