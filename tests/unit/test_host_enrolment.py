"""Host enrolment on a built cloud (real SQLite, the real cloud CA in the data directory): a
token is spent once, expires, names one host; a request for another host, a certificate from
another CA, a revoked or removed host's certificate are all refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from stratuslab.bootstrap import Cloud
from stratuslab.core.entities import Principal
from stratuslab.core.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unavailable,
)
from stratuslab.core.hosts import HostState
from stratuslab.drivers.pki import CloudCA, new_key_and_request
from stratuslab.services.enrolment import EnrolmentService


class ShiftedClock:
    def __init__(self, shift: timedelta) -> None:
        self.shift = shift

    def now(self) -> datetime:
        return datetime.now(UTC) + self.shift


@pytest.fixture
def enrol(cloud: Cloud) -> EnrolmentService:
    CloudCA(cloud.settings.data_dir / "ca").init(["localhost", "127.0.0.1"])
    return cloud.services.enrolment


def _der(pem: str) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)


def _enrolled(enrol: EnrolmentService, admin: Principal, name: str) -> bytes:
    token, _ = enrol.add(admin, name)
    _key, csr = new_key_and_request(name)
    cert, ca = enrol.enroll(token, csr)
    assert ca == enrol.ca.ca_pem()
    return _der(cert)


def test_a_token_enrols_its_host_once(enrol: EnrolmentService, cloud: Cloud,
                                      admin: Principal) -> None:
    token, expires = enrol.add(admin, "node-a")
    assert expires > datetime.now(UTC)
    assert cloud.services.hosts.show(admin, "node-a").state is HostState.INIT
    _key, csr = new_key_and_request("node-a")
    cert, _ca = enrol.enroll(token, csr)
    leaf = x509.load_pem_x509_certificate(cert.encode())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["node-a"]
    assert enrol.identify([_der(cert)]) == "node-a"
    with pytest.raises(AuthenticationFailed, match="unknown, already used or expired"):
        enrol.enroll(token, new_key_and_request("node-a")[1])  # reused


def test_an_expired_token_is_refused(enrol: EnrolmentService, cloud: Cloud,
                                     admin: Principal) -> None:
    token, _ = enrol.add(admin, "node-a")
    later = EnrolmentService(cloud.uow, ShiftedClock(timedelta(hours=2)), enrol.ca)
    with pytest.raises(AuthenticationFailed, match="unknown, already used or expired"):
        later.enroll(token, new_key_and_request("node-a")[1])


def test_a_token_for_another_host_name_is_refused_and_stays_usable(
        enrol: EnrolmentService, admin: Principal) -> None:
    token, _ = enrol.add(admin, "node-a")
    with pytest.raises(InvalidInput, match="names host 'node-b'.*issued for host 'node-a'"):
        enrol.enroll(token, new_key_and_request("node-b")[1])
    enrol.enroll(token, new_key_and_request("node-a")[1])


def test_crafted_tokens_and_requests_are_refused(enrol: EnrolmentService,
                                                 admin: Principal) -> None:
    token, _ = enrol.add(admin, "node-a")
    secret, fingerprint = token.split(".")
    csr = new_key_and_request("node-a")[1]
    with pytest.raises(InvalidInput, match="malformed"):
        enrol.enroll(secret, csr)
    with pytest.raises(AuthenticationFailed, match="another cloud CA"):
        enrol.enroll(f"{secret}.{'0' * 64}", csr)
    with pytest.raises(AuthenticationFailed, match="unknown"):
        enrol.enroll(f"x{secret}.{fingerprint}", csr)
    with pytest.raises(InvalidInput, match="not a PEM"):
        enrol.enroll(token, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n")
    with pytest.raises(InvalidInput, match="not a valid host name"):
        enrol.add(admin, "../etc")


def test_only_administrators_add_revoke_remove(enrol: EnrolmentService, cloud: Cloud,
                                               admin: Principal) -> None:
    cloud.identity.create_user(admin, "alice", "alicepw")
    alice = cloud.identity.check_password("alice", "alicepw")
    for call in (lambda: enrol.add(alice, "node-a"), lambda: enrol.revoke(alice, "localhost"),
                 lambda: enrol.remove(alice, "localhost")):
        with pytest.raises(Forbidden, match="only administrators manage hosts"):
            call()
    with pytest.raises(NotFound):
        enrol.revoke(admin, "no-such-host")


def test_a_certificate_from_another_ca_is_refused(enrol: EnrolmentService, tmp_path: Path,
                                                  admin: Principal) -> None:
    other = CloudCA(tmp_path / "other-ca")
    other.init(["localhost"])
    enrol.add(admin, "node-a")
    forged = other.sign_host(new_key_and_request("node-a")[1], "node-a")
    with pytest.raises(AuthenticationFailed, match="not one the cloud CA issued"):
        enrol.identify([_der(forged.pem)])
    front_end = other.front_end_files()[0].read_text()
    with pytest.raises(AuthenticationFailed):
        enrol.identify([_der(front_end)])
    with pytest.raises(AuthenticationFailed, match="required"):
        enrol.identify([])
    with pytest.raises(AuthenticationFailed):
        enrol.identify([b"not a certificate"])


def test_the_front_end_certificate_is_not_a_host_identity(enrol: EnrolmentService) -> None:
    own = CloudCA(enrol.ca.dir)  # type: ignore[attr-defined]
    with pytest.raises(AuthenticationFailed, match="not a host certificate"):
        enrol.identify([_der(own.front_end_files()[0].read_text())])


def test_revoked_and_removed_hosts_are_refused(enrol: EnrolmentService, cloud: Cloud,
                                               admin: Principal) -> None:
    cert = _enrolled(enrol, admin, "node-a")
    assert enrol.revoke(admin, "node-a") == 1
    assert cloud.services.hosts.show(admin, "node-a").state is HostState.OFFLINE
    with pytest.raises(AuthenticationFailed, match="revoked or unknown"):
        enrol.identify([cert])
    again = _enrolled(enrol, admin, "node-a")  # a new token, a new certificate
    assert enrol.identify([again]) == "node-a"
    enrol.remove(admin, "node-a")
    with pytest.raises(NotFound):
        cloud.services.hosts.show(admin, "node-a")
    with pytest.raises(AuthenticationFailed, match="revoked or unknown"):
        enrol.identify([again])


def test_a_host_with_vms_is_not_removed(enrol: EnrolmentService, cloud: Cloud,
                                        admin: Principal, tmp_path: Path) -> None:
    from stratuslab.core.commands import RunInstance

    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(disk)).id or 0
    cloud.compute.run(admin, RunInstance(img))
    from tests.helpers.cloud import drain

    drain(cloud)
    with pytest.raises(Conflict, match="still holds 1 VM"):
        enrol.remove(admin, "localhost")


def test_without_a_ca_nothing_is_issued(cloud: Cloud, admin: Principal) -> None:
    with pytest.raises(Unavailable, match="stratus-server ca init"):
        cloud.services.enrolment.add(admin, "node-a")
    with pytest.raises(NotFound):
        cloud.services.hosts.show(admin, "node-a")


def test_the_ca_is_made_once(tmp_path: Path) -> None:
    ca = CloudCA(tmp_path / "ca")
    ca.init(["localhost"])
    assert oct((tmp_path / "ca" / "ca.key").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(Conflict, match="already exists"):
        ca.init(["localhost"])


def test_a_host_reports_only_its_own_vms(enrol: EnrolmentService, cloud: Cloud,
                                         admin: Principal, tmp_path: Path) -> None:
    from tests.helpers.cloud import drain

    from stratuslab.core.commands import RunInstance

    disk = tmp_path / "d.raw"
    disk.write_bytes(b"\0" * 4096)
    img = cloud.images.register(admin, "base", str(disk)).id or 0
    [(vm, _)] = cloud.compute.run(admin, RunInstance(img))
    drain(cloud)
    assert cloud.compute.get(admin, vm.id or 0).host == "localhost"
    chain = [_enrolled(enrol, admin, "node-a")]
    forged = {"version": "x", "endpoint": "https://127.0.0.1:9",
              "capacity": {"cpus": 4, "memory_mib": 4096, "load1": 0.5,
                           "memory_available_mib": 2048},
              "vms": [{"vm_id": vm.id, "state": "crashed", "reason": "forged"}]}
    assert cloud.services.agents.receive(chain, forged) == "node-a"
    assert cloud.compute.get(admin, vm.id or 0).state == "running"  # not node-a's VM
    shown = cloud.services.hosts.show(admin, "node-a")
    assert (shown.state, shown.attributes["AGENT_URL"]) == (HostState.MONITORED,
                                                            "https://127.0.0.1:9")
    with pytest.raises(InvalidInput, match="not an https:// URL"):
        cloud.services.agents.receive(chain, {**forged, "endpoint": "file:///etc/passwd"})
    with pytest.raises(InvalidInput, match="unknown fields"):
        cloud.services.agents.receive(chain, {**forged, "extra": 1})
    enrol.revoke(admin, "node-a")
    with pytest.raises(AuthenticationFailed):
        cloud.services.agents.receive(chain, forged)
