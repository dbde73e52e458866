from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from stratuslab.core.auth import Credentials
from stratuslab.core.errors import AuthenticationFailed
from stratuslab.services.auth.chain import AuthenticatorChain
from stratuslab.services.auth.passwordfile import PasswordFileAuthenticator, parse_password_file

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def des_crypt(password: str, salt: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt.crypt(password, salt)


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    path = tmp_path / "login-pswd.properties"
    path.write_text(
        "# original StratusLab forms\n"
        "alice=plainpw,cloud-access\n"
        f"bob: MD5:{hashlib.md5(b'bobpw').hexdigest()},cloud-access,physics\n"
        f"carol=CRYPT:{des_crypt('carolpw', 'ca')},cloud-access\n"
        "! jetty comment\n"
        f"dave = {FAST.hash('davepw')},cloud-access,admin,chemistry\n"
    )
    return path


def test_parse_keeps_argon2_hash_whole_and_splits_groups_from_roles(pwfile: Path) -> None:
    entries = parse_password_file(pwfile.read_text())
    assert entries["dave"].secret.startswith("$argon2id$") and "," in entries["dave"].secret
    assert entries["dave"].roles == {"cloud-access", "admin"}
    assert entries["dave"].groups == ("chemistry",)
    assert entries["bob"].groups == ("physics",)


@pytest.mark.parametrize("user,password", [("alice", "plainpw"), ("bob", "bobpw"),
                                           ("carol", "carolpw"), ("dave", "davepw")])
def test_every_hash_form_accepts_its_password(pwfile, users, user, password) -> None:
    users.add("carol", 3)
    users.add("dave", 4)
    link = PasswordFileAuthenticator(pwfile, users, hasher=FAST)
    principal = link.authenticate(Credentials(username=user, password=password))
    assert principal is not None and principal.user == user
    assert "cloud-access" in principal.roles and principal.method == "password"


def test_wrong_password_fails_and_is_audited(pwfile, users, audit) -> None:
    chain = AuthenticatorChain([PasswordFileAuthenticator(pwfile, users, hasher=FAST)],
                               audit.append)
    with pytest.raises(AuthenticationFailed, match="unknown user name or wrong password"):
        chain.authenticate(Credentials(source="10.0.0.9", username="bob", password="nope"))
    assert audit[-1].success is False and audit[-1].method == "password"
    assert "source=10.0.0.9" in audit[-1].line() and "identity='bob'" in audit[-1].line()


def test_empty_password_is_refused_even_for_a_plain_entry(tmp_path, users) -> None:
    path = tmp_path / "pw"
    path.write_text("alice=\n")
    link = PasswordFileAuthenticator(path, users)
    with pytest.raises(AuthenticationFailed):
        link.authenticate(Credentials(username="alice", password=""))


def test_unknown_user_is_left_to_the_next_link(pwfile, users) -> None:
    link = PasswordFileAuthenticator(pwfile, users, hasher=FAST)
    assert link.authenticate(Credentials(username="zoe", password="x")) is None


def test_file_changes_apply_without_restart(pwfile, users) -> None:
    link = PasswordFileAuthenticator(pwfile, users, hasher=FAST)
    assert link.authenticate(Credentials(username="alice", password="plainpw"))
    pwfile.write_text("alice=newpw,cloud-access\n")
    import os
    os.utime(pwfile, ns=(1, 1))  # make sure the mtime differs even on coarse clocks
    with pytest.raises(AuthenticationFailed):
        link.authenticate(Credentials(username="alice", password="plainpw"))
