"""`--requirements`: a boolean expression over host attributes, parsed by hand (never eval).

    expr   := term ('|' term)*          term := factor ('&' factor)*
    factor := '!' factor | '(' expr ')' | NAME OP value
    OP     := '=' | '==' | '!=' | '<' | '<=' | '>' | '>='
    value  := NUMBER | "string" | word          (a string with '*' matches as a glob)

e.g. `CPUS >= 4 & (ARCH = "x86_64" | NAME = "node-*")`.  A host without the attribute does not
match a comparison on it.  Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from stratuslab.core.errors import InvalidInput

MAX_LENGTH = 1024
MAX_DEPTH = 32
_TOKEN = re.compile(r'\s*(?:(?P<op>==|!=|<=|>=|=|<|>|&|\||!|\(|\))|(?P<num>-?\d+(?:\.\d+)?)'
                    r'|"(?P<str>[^"\\]*)"|(?P<word>[A-Za-z_][A-Za-z0-9_.*:-]*))')
HINT = 'write e.g. CPUS >= 4 & NAME = "node-*" (NAME OP value joined by & | ! and parentheses)'

Attributes = Mapping[str, object]
Predicate = Callable[[Attributes], bool]


@dataclass(frozen=True)
class _Tok:
    kind: str  # op, num, str, word, end
    text: str
    pos: int


def _tokens(text: str) -> list[_Tok]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise InvalidInput(f"requirements {text!r}: unexpected character "
                               f"{text[pos:].lstrip()[:1]!r} at {pos + 1}", hint=HINT)
        kind = m.lastgroup or "op"
        out.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(_Tok("end", "", len(text)))
    return out


def _compare(name: str, op: str, value: object) -> Predicate:
    def test(attrs: Attributes) -> bool:
        if name not in attrs:
            return False
        have = attrs[name]
        if isinstance(value, float):
            try:
                number = float(have)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return op == "!="
            return {"=": number == value, "==": number == value, "!=": number != value,
                    "<": number < value, "<=": number <= value, ">": number > value,
                    ">=": number >= value}[op]
        text, want = str(have), str(value)
        if op in ("=", "=="):
            return fnmatchcase(text, want)
        if op == "!=":
            return not fnmatchcase(text, want)
        return {"<": text < want, "<=": text <= want, ">": text > want, ">=": text >= want}[op]
    return test


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, what: str) -> InvalidInput:
        tok = self.toks[self.i]
        found = f"{tok.text!r}" if tok.kind != "end" else "the end"
        return InvalidInput(f"requirements {self.text!r}: expected {what}, found {found} at "
                            f"{tok.pos + 1}", hint=HINT)

    def take(self, *texts: str) -> _Tok | None:
        tok = self.toks[self.i]
        if tok.kind == "op" and tok.text in texts:
            self.i += 1
            return tok
        return None

    def expr(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} nested levels")
        parts = [self.term(depth)]
        while self.take("|"):
            parts.append(self.term(depth))
        return parts[0] if len(parts) == 1 else (lambda a: any(p(a) for p in parts))

    def term(self, depth: int) -> Predicate:
        parts = [self.factor(depth)]
        while self.take("&"):
            parts.append(self.factor(depth))
        return parts[0] if len(parts) == 1 else (lambda a: all(p(a) for p in parts))

    def factor(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise self.fail(f"at most {MAX_DEPTH} nested levels")
        if self.take("!"):
            inner = self.factor(depth + 1)
            return lambda a: not inner(a)
        if self.take("("):
            inner = self.expr(depth + 1)
            if not self.take(")"):
                raise self.fail("')'")
            return inner
        name = self.toks[self.i]
        if name.kind != "word" or "*" in name.text:
            raise self.fail("an attribute name")
        self.i += 1
        op = self.take("=", "==", "!=", "<", "<=", ">", ">=")
        if op is None:
            raise self.fail(f"a comparison after {name.text}")
        val = self.toks[self.i]
        if val.kind not in ("num", "str", "word"):
            raise self.fail("a value (number, \"string\" or word)")
        self.i += 1
        return _compare(name.text.upper(), op.text, float(val.text) if val.kind == "num"
                        else val.text)


def parse(text: str) -> Predicate:
    """The predicate of `text`; InvalidInput (with the position) for anything else."""
    if len(text) > MAX_LENGTH:
        raise InvalidInput(f"requirements are {len(text)} characters long; at most {MAX_LENGTH}",
                           hint="shorten the expression")
    if not text.strip():
        return lambda a: True
    p = _Parser(text)
    predicate = p.expr(0)
    if p.toks[p.i].kind != "end":
        raise p.fail("'&', '|' or the end")
    return predicate
