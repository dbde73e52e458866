from __future__ import annotations

import hashlib

import pytest
from tests.helpers.marketdocs import NOW, unsigned

from stratuslab.core.marketplace import (
    InvalidMetadata,
    identifier_to_sha1,
    sha1_to_identifier,
)
from stratuslab.services.marketplace import rdf


def test_identifier_is_27_chars_and_round_trips_to_sha1() -> None:
    for data in (b"", b"x", b"tiny image bytes"):
        sha1 = hashlib.sha1(data).hexdigest()
        ident = sha1_to_identifier(sha1)
        assert len(ident) == 27
        assert identifier_to_sha1(ident) == sha1


def test_identifier_of_all_ones_sha1_has_small_first_char() -> None:
    ident = sha1_to_identifier("f" * 40)
    assert ident[0] == "P"  # only 4 bits in the first character
    assert ident[1:] == "_" * 26


def test_build_then_parse_keeps_every_field() -> None:
    doc = unsigned(tags=("tiny", "debian-12"), inbound_ports=(22, 80), description="a test",
                   format="qcow2", compression="gz", kind="disk",
                   locations=("http://127.0.0.1:1/a.gz", "file:///tmp/a.gz"))
    entry = rdf.parse_entry(doc)
    assert entry.os == "debian" and entry.os_version == "12" and entry.arch == "x86_64"
    assert entry.tags == ("tiny", "debian-12")
    assert entry.inbound_ports == (22, 80)
    assert entry.locations == ("http://127.0.0.1:1/a.gz", "file:///tmp/a.gz")
    assert entry.format == "qcow2" and entry.compression == "gz" and entry.kind == "disk"
    assert entry.email == "alice@example.org" and entry.created == NOW
    assert entry.valid_until is not None and entry.valid_until > NOW
    assert entry.sha1 == hashlib.sha1(b"tiny image bytes").hexdigest()
    assert {c.algorithm for c in entry.checksums} == {"SHA-1", "MD5", "SHA-256", "SHA-512"}
    assert rdf.parse_entry(rdf.build_document(entry)) == entry


def test_identifier_not_matching_sha1_is_invalid() -> None:
    doc = unsigned().replace(b"<slreq:value>", b"<slreq:value>0", 1)
    with pytest.raises(InvalidMetadata, match="invalid metadata"):
        rdf.parse_entry(doc)


def test_missing_mandatory_element_is_named() -> None:
    doc = unsigned().replace(b"<dcterms:type>base</dcterms:type>", b"")
    with pytest.raises(InvalidMetadata, match="missing mandatory element type"):
        rdf.parse_entry(doc)


def test_document_type_declarations_are_refused() -> None:
    doc = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>' + unsigned().split(b"?>", 1)[1]
    with pytest.raises(InvalidMetadata):
        rdf.parse_entry(doc)


def test_garbage_is_not_well_formed() -> None:
    with pytest.raises(InvalidMetadata, match="not well-formed"):
        rdf.parse_entry(b"<rdf:RDF")
