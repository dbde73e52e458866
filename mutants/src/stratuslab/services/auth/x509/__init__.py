"""X.509 client certificates, grid proxies and VOMS attribute certificates, verified in Python."""

from stratuslab.services.auth.x509.dn import normalise_dn, slash_dn, to_rfc4514
from stratuslab.services.auth.x509.proxy import VerifiedChain, proxy_info, verify_chain
from stratuslab.services.auth.x509.trust import CaDirectory, TrustStore, verify_end_entity
from stratuslab.services.auth.x509.voms import FqanMap, VomsAttributes, VomsVerifier

__all__ = [
    "CaDirectory", "FqanMap", "TrustStore", "VerifiedChain", "VomsAttributes", "VomsVerifier",
    "normalise_dn", "proxy_info", "slash_dn", "to_rfc4514", "verify_chain", "verify_end_entity",
]
