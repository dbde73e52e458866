"""The OpenNebula template language: parse text into a `Template`, render a `Template` back.

Grammar (as OpenNebula's template parser accepts it)::

    template  := (attribute | comment | blank)*
    attribute := NAME '=' (value | vector)
    vector    := '[' NAME '=' value (',' NAME '=' value)* ']'
    value     := '"' chars-with-\\"-escapes '"' | bare-word
    comment   := '#' ... end of line (outside quotes)

Names are case-insensitive (kept upper-case, as OpenNebula does); an attribute may repeat
(``DISK=[...]`` twice gives two disks).  Errors are `TemplateSyntaxError` naming the line and
column.  A ``<TEMPLATE>`` XML document (what pyone sends for nested dicts) is accepted too.
Only the standard library and core errors; must not import drivers, persistence or settings.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from stratuslab.core.errors import InvalidInput

Vector = dict[str, str]
Value = str | Vector


class TemplateSyntaxError(InvalidInput):
    """A template that cannot be parsed; the message names the line and column."""

    def __init__(self, problem: str, line: int, column: int):
        super().__init__(
            f"template syntax error at line {line}, column {column}: {problem}",
            hint='fix the template text (OpenNebula syntax: NAME="value", DISK=[IMAGE_ID=3])',
        )
        self.line = line
        self.column = column


@dataclass
class Template:
    """An ordered multiset of attributes; each value is a string or a vector (str -> str)."""

    items: list[tuple[str, Value]] = field(default_factory=list)

    def add(self, name: str, value: Value) -> None:
        self.items.append((name.upper(), value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first single (non-vector) value of `name`."""
        for key, value in self.items:
            if key == name.upper() and isinstance(value, str):
                return value
        return default

    def value(self, name: str, default: str = "") -> str:
        """Like `get`, with a string default."""
        found = self.get(name)
        return default if found is None else found

    def vector(self, name: str) -> Vector | None:
        vectors = self.vectors(name)
        return vectors[0] if vectors else None

    def vectors(self, name: str) -> list[Vector]:
        return [v for k, v in self.items if k == name.upper() and isinstance(v, dict)]

    def names(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self.items))

    def merged(self, other: Template) -> Template:
        """`other`'s attributes replace same-named ones of self (OpenNebula's update merge)."""
        replaced = set(other.names())
        kept = [(k, v) for k, v in self.items if k not in replaced]
        return Template(kept + list(other.items))

    def __iter__(self) -> Iterator[tuple[str, Value]]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


# --------------------------------------------------------------------------------------------
# rendering


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(template: Template) -> str:
    """Template text that `parse` reads back to an equal Template."""
    lines = []
    for name, value in template.items:
        if isinstance(value, dict):
            inner = ",\n  ".join(f"{k}={quote(v)}" for k, v in value.items())
            lines.append(f"{name}=[\n  {inner} ]")
        else:
            lines.append(f"{name}={quote(value)}")
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------------------------
# parsing

_NAME_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | set("0123456789-.")
#: a bare value ends at a blank, ',', a bracket, a quote or a comment ('=' and ':' are allowed:
#: StratusLab clients send SOURCE=pdisk:host:port:uuid and URLs with queries unquoted)
_BARE_STOP = set(' \t\r\n,[]"#')


class _Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return line, column

    def fail(self, problem: str, pos: int | None = None) -> TemplateSyntaxError:
        return TemplateSyntaxError(problem, *self.where(pos))

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip(self, newlines: bool) -> None:
        """Skip blanks (and newlines and comments when `newlines`)."""
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def describe(self) -> str:
        ch = self.peek()
        return "end of input" if not ch else ("end of line" if ch == "\n" else repr(ch))

    def name(self) -> str:
        start = self.pos
        if self.peek() not in _NAME_START or not self.peek():
            raise self.fail(f"expected an attribute name, found {self.describe()}")
        while self.peek() and self.peek() in _NAME_CHARS:
            self.pos += 1
        return self.text[start : self.pos].upper()

    def equals(self, name: str) -> None:
        self.skip(newlines=False)
        if self.peek() != "=":
            raise self.fail(f"expected '=' after {name}, found {self.describe()}")
        self.pos += 1
        self.skip(newlines=False)

    def value(self, name: str) -> str:
        if self.peek() == '"':
            return self.quoted(name)
        start = self.pos
        while self.peek() and self.peek() not in _BARE_STOP:
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected a value for {name}, found {self.describe()}")
        return self.text[start : self.pos]

    def quoted(self, name: str) -> str:
        opened = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
            elif ch == '"':
                self.pos += 1
                return "".join(out)
            else:
                out.append(ch)
                self.pos += 1
        line, column = self.where(opened)
        raise self.fail(
            f"unclosed '\"' opened at line {line}, column {column} for {name}", len(self.text)
        )

    def _unclosed(self, name: str, opened: int) -> TemplateSyntaxError:
        """Something other than ',' or ']' inside a vector; on a later line it is unclosed."""
        if "\n" in self.text[opened : self.pos]:
            line, column = self.where(opened)
            return self.fail(
                f"unclosed '[' opened at line {line}, column {column} for {name} "
                f"(found {self.describe()} where ',' or ']' was expected)"
            )
        return self.fail(f"expected ',' or ']' in {name}, found {self.describe()}")

    def vector(self, name: str) -> Vector:
        opened = self.pos
        self.pos += 1
        out: Vector = {}
        while True:
            self.skip(newlines=True)
            if not self.peek():
                line, column = self.where(opened)
                raise self.fail(f"unclosed '[' opened at line {line}, column {column} for {name}")
            if self.peek() == "]":
                self.pos += 1
                return out
            if out:
                if self.peek() != ",":
                    raise self._unclosed(name, opened)
                self.pos += 1
                self.skip(newlines=True)
                if self.peek() in ("]", ""):  # a trailing comma is tolerated
                    continue
            key = self.name()
            self.equals(f"{name}/{key}")
            out[key] = self.value(f"{name}/{key}")


def parse(text: str) -> Template:
    """Parse OpenNebula template text (or a <TEMPLATE> XML document) into a Template."""
    if text.lstrip().startswith("<"):
        return parse_xml(text)
    reader = _Reader(text)
    tpl = Template()
    while True:
        reader.skip(newlines=True)
        if not reader.peek():
            return tpl
        name = reader.name()
        reader.equals(name)
        if reader.peek() == "[":
            tpl.add(name, reader.vector(name))
        elif reader.peek() in ("\n", "", "#"):
            tpl.add(name, "")  # NAME= with nothing after it is an empty value
        else:
            tpl.add(name, reader.value(name))
        reader.skip(newlines=False)
        if reader.peek() not in ("\n", "", "#") and reader.peek() not in _NAME_START:
            raise reader.fail(f"unexpected {reader.describe()} after {name}")


def parse_xml(text: str) -> Template:
    """A `<TEMPLATE><K>v</K><V><K2>v2</K2></V></TEMPLATE>` document as a Template."""
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        line, column = exc.position
        raise TemplateSyntaxError(f"malformed XML template ({exc})", line, column + 1) from exc
    tpl = Template()
    for child in root:
        if len(child):
            tpl.add(child.tag, {sub.tag.upper(): (sub.text or "") for sub in child})
        else:
            tpl.add(child.tag, child.text or "")
    return tpl
