"""StratusLab image-metadata documents (RDF/XML) <-> `MetadataEntry`, with the format's constraints.

Parsing never resolves entities, DTDs or network resources.  `build_document` writes an unsigned
entry in the shape the original `stratus-build-metadata` wrote.  Pure logic: imports core and lxml,
never drivers, persistence or api.
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree

from stratuslab.core.marketplace import (
    IDENTIFIER_RE,
    Checksum,
    Endorsement,
    Endorser,
    InvalidMetadata,
    MetadataEntry,
    format_date,
    identifier_to_sha1,
    parse_date,
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DCTERMS = "http://purl.org/dc/terms/"
SLREQ = "http://mp.stratuslab.eu/slreq#"
SLTERMS = "http://mp.stratuslab.eu/slterms#"
DS = "http://www.w3.org/2000/09/xmldsig#"
XML_BASE = "http://mp.stratuslab.eu/"
NSMAP = {"rdf": RDF, "dcterms": DCTERMS, "slreq": SLREQ, "slterms": SLTERMS}
KINDS = ("machine", "disk")
FORMATS = ("", "raw", "qcow2", "iso", "vmdk", "vdi")
COMPRESSIONS = ("", "gz", "bz2", "xz")
MAX_DOCUMENT = 10 * 1024 * 1024


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def secure_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
    )


def parse_xml(raw: bytes) -> etree._ElementTree:
    if len(raw) > MAX_DOCUMENT:
        raise InvalidMetadata(f"document is {len(raw)} bytes, more than {MAX_DOCUMENT}")
    try:
        tree = etree.ElementTree(etree.fromstring(raw, secure_parser()))
    except etree.XMLSyntaxError as exc:
        raise InvalidMetadata(f"not well-formed XML ({exc})") from exc
    if tree.docinfo.doctype:
        raise InvalidMetadata("document type declarations are not accepted")
    return tree


def description_of(root: etree._Element) -> etree._Element:
    if root.tag != _q(RDF, "RDF"):
        raise InvalidMetadata(f"root element is {root.tag}, expected rdf:RDF")
    descs = root.findall(_q(RDF, "Description"))
    if len(descs) != 1:
        raise InvalidMetadata(f"expected exactly one rdf:Description, found {len(descs)}")
    return descs[0]


def parse_entry(raw: bytes) -> MetadataEntry:
    """Parse and check a metadata document (signed or not)."""
    return entry_from_tree(parse_xml(raw))


def entry_from_tree(tree: etree._ElementTree) -> MetadataEntry:
    desc = description_of(tree.getroot())
    identifier = _one(desc, DCTERMS, "identifier", required=True)
    about = desc.get(_q(RDF, "about"), "")
    if about and about.lstrip("#") != identifier:
        raise InvalidMetadata(f"rdf:about {about!r} differs from dcterms:identifier {identifier!r}")
    if not IDENTIFIER_RE.match(identifier):
        raise InvalidMetadata(f"identifier {identifier!r} is not 27 characters of A-Z a-z 0-9 - _")
    checksums = _checksums(desc)
    sha1s = [c for c in checksums if c.algorithm.upper().replace("-", "") == "SHA1"]
    if len(sha1s) != 1:
        raise InvalidMetadata(f"expected exactly one SHA-1 checksum, found {len(sha1s)}")
    if identifier_to_sha1(identifier) != sha1s[0].value:
        raise InvalidMetadata(f"identifier {identifier} does not encode SHA-1 {sha1s[0].value}")
    entry = MetadataEntry(
        identifier=identifier,
        bytes=_int(_one(desc, SLREQ, "bytes", required=True), "slreq:bytes"),
        checksums=checksums,
        endorsement=_endorsement(desc),
        type=_one(desc, DCTERMS, "type", required=True),
        kind=_one(desc, SLTERMS, "kind") or "machine",
        os=_one(desc, SLTERMS, "os"),
        os_version=_one(desc, SLTERMS, "os-version"),
        arch=_one(desc, SLTERMS, "os-arch"),
        format=_one(desc, DCTERMS, "format"),
        compression=_one(desc, DCTERMS, "compression"),
        locations=tuple(_all(desc, SLTERMS, "location")),
        valid_until=_date_or_none(_one(desc, DCTERMS, "valid")),
        deprecated=_deprecated(desc),
        title=_one(desc, DCTERMS, "title"),
        description=_one(desc, DCTERMS, "description"),
        version=_one(desc, SLTERMS, "version"),
        creator=_one(desc, DCTERMS, "creator"),
        tags=tuple(_all(desc, DCTERMS, "alternative")),
        inbound_ports=tuple(_int(p, "slterms:inbound-port") for p in _all(desc, SLTERMS, "inbound-port")),
        hypervisor=_one(desc, SLTERMS, "hypervisor"),
    )
    _check_values(entry)
    return entry


def _check_values(entry: MetadataEntry) -> None:
    if entry.kind not in KINDS:
        raise InvalidMetadata(f"slterms:kind {entry.kind!r} is not one of {', '.join(KINDS)}")
    if entry.compression not in COMPRESSIONS:
        raise InvalidMetadata(f"dcterms:compression {entry.compression!r} is not gz, bz2 or xz")
    if entry.bytes < 0:
        raise InvalidMetadata(f"slreq:bytes {entry.bytes} is negative")
    for loc in entry.locations:
        if not loc.startswith(("http://", "https://", "file:", "ftp://", "pdisk:")):
            raise InvalidMetadata(f"location {loc!r} is not an http(s), ftp, file or pdisk URL")


def _children(desc: etree._Element, ns: str, name: str) -> list[etree._Element]:
    return list(desc.findall(_q(ns, name)))


def _text(el: etree._Element) -> str:
    # Comments are outside a URI="" signature reference: read the text around them, never only
    # the part before one (the comment-injection trick against SAML parsers).
    return "".join(el.itertext()).strip()


def _one(desc: etree._Element, ns: str, name: str, *, required: bool = False) -> str:
    found = _children(desc, ns, name)
    if len(found) > 1:
        raise InvalidMetadata(f"{name} appears {len(found)} times; at most once is allowed")
    if not found or not _text(found[0]):
        if required:
            raise InvalidMetadata(f"missing mandatory element {name}")
        return ""
    return _text(found[0])


def _all(desc: etree._Element, ns: str, name: str) -> list[str]:
    return [_text(e) for e in _children(desc, ns, name) if _text(e)]


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise InvalidMetadata(f"{what} {text!r} is not an integer") from exc


def _date_or_none(text: str) -> datetime | None:
    return parse_date(text) if text else None


def _deprecated(desc: etree._Element) -> str | None:
    found = _children(desc, SLTERMS, "deprecated")
    if len(found) > 1:
        raise InvalidMetadata("deprecated appears more than once")
    if not found:
        return None
    return _text(found[0]) or "deprecated"


def _checksums(desc: etree._Element) -> tuple[Checksum, ...]:
    out = []
    for el in _children(desc, SLREQ, "checksum"):
        alg = _one(el, SLREQ, "algorithm", required=True)
        value = _one(el, SLREQ, "value", required=True).lower()
        if not all(ch in "0123456789abcdef" for ch in value):
            raise InvalidMetadata(f"checksum {alg} value {value!r} is not hexadecimal")
        out.append(Checksum(alg, value))
    if not out:
        raise InvalidMetadata("missing mandatory element checksum")
    return tuple(out)


def _endorsement(desc: etree._Element) -> Endorsement:
    found = _children(desc, SLREQ, "endorsement")
    if len(found) != 1:
        raise InvalidMetadata(f"expected exactly one slreq:endorsement, found {len(found)}")
    el = found[0]
    created = parse_date(_one(el, DCTERMS, "created", required=True))
    endorsers = _children(el, SLREQ, "endorser")
    if len(endorsers) != 1:
        raise InvalidMetadata("endorsement must contain exactly one slreq:endorser")
    who = endorsers[0]
    email = _one(who, SLREQ, "email", required=True)
    return Endorsement(
        created=created,
        endorser=Endorser(email=email, subject=_one(who, SLREQ, "subject"), issuer=_one(who, SLREQ, "issuer")),
    )


def build_document(entry: MetadataEntry) -> bytes:
    """Write `entry` as an (unsigned) StratusLab metadata document."""
    root = etree.Element(_q(RDF, "RDF"), nsmap=NSMAP)
    root.set("{http://www.w3.org/XML/1998/namespace}base", XML_BASE)
    desc = etree.SubElement(root, _q(RDF, "Description"))
    desc.set(_q(RDF, "about"), f"#{entry.identifier}")
    _add(desc, DCTERMS, "identifier", entry.identifier)
    _add(desc, SLREQ, "bytes", str(entry.bytes))
    for c in entry.checksums:
        ck = _add(desc, SLREQ, "checksum", None)
        ck.set(_q(RDF, "parseType"), "Resource")
        _add(ck, SLREQ, "algorithm", c.algorithm)
        _add(ck, SLREQ, "value", c.value)
    set_endorsement(desc, entry.endorsement)
    _add(desc, DCTERMS, "type", entry.type)
    for ns, name, value in _optional_fields(entry):
        if value:
            _add(desc, ns, name, value)
    for loc in entry.locations:
        _add(desc, SLTERMS, "location", loc)
    for tag in entry.tags:
        _add(desc, DCTERMS, "alternative", tag)
    for port in entry.inbound_ports:
        _add(desc, SLTERMS, "inbound-port", str(port))
    if entry.deprecated is not None:
        _add(desc, SLTERMS, "deprecated", entry.deprecated)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out


def _optional_fields(entry: MetadataEntry) -> list[tuple[str, str, str]]:
    return [
        (SLTERMS, "kind", entry.kind),
        (SLTERMS, "os", entry.os),
        (SLTERMS, "os-version", entry.os_version),
        (SLTERMS, "os-arch", entry.arch),
        (SLTERMS, "version", entry.version),
        (SLTERMS, "hypervisor", entry.hypervisor),
        (DCTERMS, "format", entry.format),
        (DCTERMS, "compression", entry.compression),
        (DCTERMS, "creator", entry.creator),
        (DCTERMS, "valid", format_date(entry.valid_until) if entry.valid_until else ""),
        (DCTERMS, "title", entry.title),
        (DCTERMS, "description", entry.description),
    ]


def _add(parent: etree._Element, ns: str, name: str, text: str | None) -> etree._Element:
    el = etree.SubElement(parent, _q(ns, name))
    if text is not None:
        el.text = text
    return el


def set_endorsement(desc: etree._Element, endorsement: Endorsement) -> None:
    """Replace every slreq:endorsement of `desc` by `endorsement` (what signing does)."""
    old = _children(desc, SLREQ, "endorsement")
    position = list(desc).index(old[0]) if old else len(desc)
    for el in old:
        desc.remove(el)
    el = etree.Element(_q(SLREQ, "endorsement"))
    el.set(_q(RDF, "parseType"), "Resource")
    _add(el, DCTERMS, "created", format_date(endorsement.created))
    who = _add(el, SLREQ, "endorser", None)
    who.set(_q(RDF, "parseType"), "Resource")
    _add(who, SLREQ, "email", endorsement.endorser.email)
    _add(who, SLREQ, "subject", endorsement.endorser.subject)
    _add(who, SLREQ, "issuer", endorsement.endorser.issuer)
    el.tail = old[0].tail if old else None
    desc.insert(position, el)


def set_deprecated(desc: etree._Element, reason: str) -> None:
    for el in _children(desc, SLTERMS, "deprecated"):
        desc.remove(el)
    _add(desc, SLTERMS, "deprecated", reason)
