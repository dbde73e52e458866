"""OpenNebula's XML schemas (tests/data/one-xsd/<line>/<object>.xsd) and the namespacing the
objects need before validation, for the XML-RPC tests of both profiles."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).parents[1] / "data" / "one-xsd"
NS = "http://opennebula.org/XMLSchema"


@cache
def schema(line: str, name: str) -> etree.XMLSchema:
    """The schema of object `name` for OpenNebula line `line` ("3.2", "7.4")."""
    return etree.XMLSchema(etree.parse(str(XSD_DIR / line / f"{name}.xsd")))


def namespaced(xml: str) -> etree._Element:
    """`xml` parsed with every element put in OpenNebula's schema namespace."""
    root = etree.fromstring(xml.encode())
    for element in root.iter():
        if isinstance(element.tag, str) and not element.tag.startswith("{"):
            element.tag = f"{{{NS}}}{element.tag}"
    return root
