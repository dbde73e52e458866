"""The OpenNebula template language: parsing, errors naming line and column, rendering."""

from __future__ import annotations

import pytest

from stratuslab.api.xmlrpc.template import Template, TemplateSyntaxError, parse, render

STRATUSLAB_CLIENT_TEMPLATE = """\
NAME = "ttylinux"   # from stratus-run-instance
CPU = 1
VCPU=2
MEMORY = 1024
DISK = [ IMAGE_ID = 3, TARGET = "vda" ]
DISK = [
  SOURCE = "https://marketplace.stratuslab.eu/metadata/BN1EEkPiBx87_uLj2-sdybSI-Xb",
  TARGET = "vdb",
  TYPE = "disk" ]
NIC = [ NETWORK = "public", IP = "10.1.0.9" ]
NIC=[NETWORK_ID="1"]
CONTEXT = [ PUBLIC_KEY = "ssh-rsa AAAA alice@example.org", USER_DATA = "a \\"quoted\\" word\\\\" ]
INBOUND_PORTS = "22, 80 443"
"""


def test_parses_scalars_repeated_vectors_and_comments() -> None:
    tpl = parse(STRATUSLAB_CLIENT_TEMPLATE)
    assert tpl.get("NAME") == "ttylinux"
    assert tpl.get("cpu") == "1"  # names are case-insensitive
    assert [d.get("TARGET") for d in tpl.vectors("DISK")] == ["vda", "vdb"]
    assert tpl.vectors("DISK")[1]["SOURCE"].endswith("BN1EEkPiBx87_uLj2-sdybSI-Xb")
    assert tpl.vectors("NIC") == [{"NETWORK": "public", "IP": "10.1.0.9"}, {"NETWORK_ID": "1"}]
    assert tpl.vector("CONTEXT") == {
        "PUBLIC_KEY": "ssh-rsa AAAA alice@example.org",
        "USER_DATA": 'a "quoted" word\\',
    }
    assert tpl.get("INBOUND_PORTS") == "22, 80 443"


def test_render_then_parse_gives_the_same_template() -> None:
    tpl = parse(STRATUSLAB_CLIENT_TEMPLATE)
    assert parse(render(tpl)) == tpl


def test_pyone_flat_dict_rendering_parses() -> None:
    assert parse('CPU="1"\nMEMORY="512"\nNAME="x"\n').get("MEMORY") == "512"


def test_xml_template_as_pyone_sends_nested_dicts() -> None:
    tpl = parse(
        "<TEMPLATE><DESCRIPTION><![CDATA[x & y]]></DESCRIPTION>"
        "<CONTEXT><A>1</A></CONTEXT></TEMPLATE>"
    )
    assert tpl.get("DESCRIPTION") == "x & y"
    assert tpl.vector("CONTEXT") == {"A": "1"}


def test_empty_values_and_trailing_commas_are_accepted() -> None:
    tpl = parse('A=\nB=[C="1",]\nD=""')
    assert tpl.get("A") == "" and tpl.vector("B") == {"C": "1"} and tpl.get("D") == ""


def test_merge_replaces_same_named_attributes() -> None:
    merged = parse('NAME="a"\nCPU="1"').merged(Template([("NAME", "b")]))
    assert merged.get("NAME") == "b" and merged.get("CPU") == "1"


def test_unclosed_bracket_names_line_and_column_of_the_bracket() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse('NAME="x"\nDISK = [ IMAGE_ID = 3,\n  TARGET = "vda"\nNIC=[NETWORK="public"]')
    assert "unclosed '[' opened at line 2, column 8 for DISK" in str(err.value)
    assert (err.value.line, err.value.column) == (4, 1)


def test_unclosed_bracket_at_end_of_input() -> None:
    with pytest.raises(TemplateSyntaxError, match=r"unclosed '\[' opened at line 2, column 6"):
        parse('NAME="x"\nDISK=[IMAGE_ID=3,\n  TARGET="vda"\n')


def test_unclosed_quote_names_where_it_opened() -> None:
    with pytest.raises(TemplateSyntaxError, match=r"unclosed '\"' opened at line 1, column 6"):
        parse('NAME="never closed\nCPU=1')


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("=3", "expected an attribute name"),
        ("CPU 3", "expected '=' after CPU"),
        ("A=[B=1 C=2]", "expected ',' or ']' in A"),
        ("A=[B]", "expected '=' after A/B"),
        ("A=1 ,", "unexpected ','"),
    ],
)
def test_syntax_errors_say_what_was_expected(text: str, problem: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=problem):
        parse(text)


def test_syntax_error_is_an_invalid_input_with_a_hint() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse("A=[")
    assert err.value.kind == "invalid" and "OpenNebula syntax" in err.value.hint


def test_malformed_xml_template_is_a_syntax_error() -> None:
    with pytest.raises(TemplateSyntaxError, match="malformed XML"):
        parse("<TEMPLATE><A>1</TEMPLATE>")
