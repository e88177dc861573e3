"""The record syntax, as a pyparsing grammar: the specification.

Every dialect a Landlock record comes in is written down here once:

* the header dialects: auditd (``[node=N ]type=T msg=audit(S.MS:SERIAL): ``),
  ``ausearch -i`` (``msg=audit(DATE TIME.MS:SERIAL) : ``, local time),
  kernel printk (``audit: type=N audit(S.MS:SERIAL): ``), netlink records
  (``type=N audit(...): `` or the bare payload ``audit(...): ``), journald
  short output (``audit[PID]: TYPE ``) and documentation samples whose header
  is elided (``type=T [...]: ``); a header may follow any prefix (syslog
  header, CI timestamp); ``journalctl -o json`` entries carry the record in
  ``MESSAGE``;
* the ``key=value`` body and the value kinds: double-quoted, single-quoted
  (userspace messages), hex-encoded or bare tokens, the placeholders
  ``(null)`` and ``?`` (bare tokens syntactically), empty values and
  ``[...]`` elisions; ``ausearch -i`` bodies hold unquoted, decoded values
  that run to the next ``key=``;
* auditd's ENRICHED format: interpreted fields after a 0x1D byte;
* the shape of Landlock records: ``domain=<hex id>`` first, then for an
  access record ``blockers=<comma list>``, and no control characters.

:mod:`lldecode.audit.syntax` reads the same syntax with compiled regular
expressions; the property tests prove that the two agree.  This module is
only imported to explain why a Landlock-looking line does not parse, and by
the tests.
"""

from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Tuple

import pyparsing as pp

from lldecode.audit import syntax as fastpath
from lldecode.audit.syntax import (
    ACCESS,
    DOMAIN,
    DOMAIN_DROP,
    ELIDED,
    INTERPRETED,
    JOURNAL,
    PAYLOAD,
    PRINTK,
    RAW,
    Header,
    HeaderError,
)
from lldecode.audit.values import UNTRUSTED_FIELDS

_saved_whitespace = pp.ParserElement.DEFAULT_WHITE_CHARS
pp.ParserElement.set_default_whitespace_chars("")
try:
    SP = pp.Literal(" ")
    SEP = pp.Regex(r"[ \t]+").set_name("space")
    END = pp.StringEnd().set_name("end of line")
    DIGITS = pp.Regex(r"\d+")

    # -- headers --------------------------------------------------------------
    TYPE = pp.Regex(r"[A-Z][A-Z0-9_]*(?:\[\d+\])?|\d+").set_name("record type")
    NAMED_TYPE = pp.Regex(r"[A-Z][A-Z0-9_]*(?:\[\d+\])?").set_name("record type name")
    NODE = pp.Literal("node=") + pp.Regex(r"[^ \t]+")("node") + SP
    STAMP = (DIGITS("sec").set_name("seconds") + pp.Literal(".")
             + DIGITS("ms").set_name("milliseconds") + pp.Literal(":")
             + DIGITS("serial").set_name("event serial"))

    # Each header is named after its dialect (lldecode.audit.syntax.DIALECTS),
    # its parts after the groups of the dialect's pattern.
    RAW_HEADER = (pp.Opt(NODE) + pp.Literal("type=") + TYPE("type")
                  + pp.Literal(" msg=audit(") + STAMP + pp.Literal("):")
                  + pp.Opt(SP))(RAW)
    INTERPRETED_HEADER = (
        pp.Opt(NODE) + pp.Literal("type=") + TYPE("type") + pp.Literal(" msg=audit(")
        + pp.Regex(r"\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}")("date").set_name("date") + SP
        + pp.Regex(r"\d\d:\d\d:\d\d")("clock").set_name("time of day") + pp.Literal(".")
        + DIGITS("ms") + pp.Literal(":") + DIGITS("serial").set_name("event serial")
        + pp.Literal(") :") + pp.Opt(SP))(INTERPRETED)
    # With "audit: ", carried by printk; without, by netlink.
    PRINTK_HEADER = (pp.Opt(pp.Literal("audit: ")) + pp.Literal("type=")
                     + pp.Regex(r"\d+")("type").set_name("record type number")
                     + pp.Literal(" audit(") + STAMP + pp.Literal("):") + pp.Opt(SP))(PRINTK)
    PAYLOAD_HEADER = (pp.Literal("audit(") + STAMP + pp.Literal("):") + pp.Opt(SP))(PAYLOAD)
    JOURNAL_HEADER = (pp.Literal("audit")
                      + pp.Opt(pp.Literal("[") + DIGITS("pid") + pp.Literal("]"))
                      + pp.Literal(": ") + NAMED_TYPE("type") + SP
                      + pp.FollowedBy(pp.Regex(r"[^ \t=]+=")))(JOURNAL)
    ELIDED_HEADER = (pp.Literal("type=") + TYPE("type") + pp.Literal(" [...]:")
                     + pp.Opt(SP))(ELIDED)
    HEADER = (RAW_HEADER | INTERPRETED_HEADER | PRINTK_HEADER | PAYLOAD_HEADER
              | JOURNAL_HEADER | ELIDED_HEADER).set_name("audit record header")
    # The header, then where it ended (the body starts there).
    LOCATED_HEADER = HEADER + pp.Empty().set_parse_action(lambda s, loc, t: [loc])("end")

    # -- raw bodies -----------------------------------------------------------
    def _fields_grammar(strict: bool) -> Tuple[pp.ParserElement, pp.ParserElement]:
        """(one item, whole body) for raw bodies; ``strict`` bans control bytes."""
        ctl = "\x00-\x08\x0a-\x1f\x7f" if strict else ""
        key = pp.Regex(r"""[^ \t="'%s]+""" % ctl).set_name("field name")
        value = (pp.Regex(r'"[^"%s]*"' % ctl).set_name("double-quoted string")
                 | pp.Regex(r"'[^'%s]*'" % ctl).set_name("single-quoted string")
                 | pp.Regex(r"""[^ \t"'%s][^ \t%s]*""" % (ctl, ctl)).set_name("value")
                 | (pp.FollowedBy(SEP) | END).set_parse_action(lambda: "")).set_name("value")
        field = pp.Group(key + pp.Suppress("=") + value)
        item = field | pp.Suppress(pp.Literal("[...]"))
        body = (pp.Suppress(pp.Opt(SEP)) + pp.ZeroOrMore(item + pp.Suppress(SEP | END))
                + END)
        return item, body

    RAW_ITEM, RAW_BODY = _fields_grammar(strict=False)
    STRICT_ITEM, _ = _fields_grammar(strict=True)

    def _landlock_body(item: pp.ParserElement, domain_value: pp.ParserElement,
                       blockers_value: pp.ParserElement, kind: str) -> pp.ParserElement:
        gap = pp.Suppress(SEP + pp.ZeroOrMore(pp.Literal("[...]") + SEP))
        lead = pp.Suppress(pp.Opt(SEP) + pp.ZeroOrMore(pp.Literal("[...]") + SEP))
        domain = pp.Group(pp.Literal("domain") + pp.Suppress("=") + domain_value)
        first = lead + domain.set_name("domain=<hex id>")
        if kind == ACCESS:
            blockers = pp.Group(pp.Literal("blockers") + pp.Suppress("=") + blockers_value)
            first = first + gap + blockers.set_name("blockers=<list>")
        rest: pp.ParserElement = pp.ZeroOrMore(gap + item)
        if kind == DOMAIN:
            rest = pp.OneOrMore(gap + item).set_name("more fields")
        return first + rest + pp.Suppress(pp.Opt(SEP)) + END

    _HEX_ID = pp.Regex(r"[0-9a-fA-F]{1,16}(?=[ \t]|$)").set_name("hexadecimal domain id")
    _BLOCKERS = pp.Regex(
        r"""[^ \t,="'\x00-\x1f\x7f]+(?:,[^ \t,="'\x00-\x1f\x7f]+)*(?=[ \t]|$)"""
    ).set_name("comma-separated blockers")
    RAW_LANDLOCK = {kind: _landlock_body(STRICT_ITEM, _HEX_ID, _BLOCKERS, kind)
                    for kind in (ACCESS, DOMAIN, DOMAIN_DROP)}

    # -- interpreted (ausearch -i) bodies ------------------------------------
    _IKEY = r"[a-z][a-z0-9_-]*"
    _KNOWN = "|".join(k.replace("-", r"\-") for k in fastpath.KERNEL_KEYS)
    IKEY = pp.Regex(_IKEY).set_name("field name")
    # A value runs to the next " key=", an untrusted string to the next
    # " known-key=", a proctitle to the end of the line.
    IVALUE = pp.Regex(r"(?:(?! " + _IKEY + r"=).)*").set_name("value")
    IVALUE_UNTRUSTED = pp.Regex(r"(?:(?! (?:" + _KNOWN + r")=).)*").set_name("value")
    IVALUE_REST = pp.Regex(r".*").set_name("value")

    def _interpreted_field() -> pp.ParserElement:
        # proctitle runs to the end of the line: it is not one of these.
        names = "|".join(re.escape(k) for k in sorted(UNTRUSTED_FIELDS - {"proctitle"}))
        untrusted = pp.Regex(r"(?:" + names + r")(?==)")
        proctitle = pp.Regex(r"proctitle(?==)")
        return (pp.Group(proctitle + pp.Suppress("=") + IVALUE_REST)
                | pp.Group(untrusted + pp.Suppress("=") + IVALUE_UNTRUSTED)
                | pp.Group(IKEY + pp.Suppress("=") + IVALUE))

    IFIELD = _interpreted_field()
    INTERPRETED_BODY = pp.Opt(IFIELD + pp.ZeroOrMore(pp.Suppress(SP) + IFIELD)) + END

    def _interpreted_landlock(kind: str) -> pp.ParserElement:
        domain = pp.Group(pp.Literal("domain") + pp.Suppress("=")
                          + pp.Regex(r"[0-9a-fA-F]{1,16}(?= " + _IKEY + r"=|$)")
                          .set_name("hexadecimal domain id"))
        first = domain.set_name("domain=<hex id>")
        if kind == ACCESS:
            blockers = pp.Group(
                pp.Literal("blockers") + pp.Suppress("=")
                + pp.Regex(r"""[^ \t,="']+(?:,[^ \t,="']+)*(?= """ + _IKEY + r"=|$)")
                .set_name("comma-separated blockers"))
            first = first + pp.Suppress(SP) + blockers.set_name("blockers=<list>")
        more: pp.ParserElement = pp.ZeroOrMore(pp.Suppress(SP) + IFIELD)
        if kind == DOMAIN:
            more = pp.OneOrMore(pp.Suppress(SP) + IFIELD).set_name("more fields")
        return first + more + END

    INTERPRETED_LANDLOCK = {kind: _interpreted_landlock(kind)
                            for kind in (ACCESS, DOMAIN, DOMAIN_DROP)}
finally:
    pp.ParserElement.set_default_whitespace_chars(_saved_whitespace)


class GrammarError(ValueError):
    """A line that is not a well-formed record: where and why."""

    def __init__(self, column: int, message: str):
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


# How much of the line a message quotes where parsing stopped.
_FOUND_CHARS = 12


def _explain(exc: pp.ParseBaseException, offset: int, text: str) -> GrammarError:
    """The GrammarError of a pyparsing failure in ``text`` (at ``offset`` in the line)."""
    loc = exc.loc
    found = text[loc:loc + _FOUND_CHARS]
    expected = exc.msg[len("Expected "):] if exc.msg.startswith("Expected ") else exc.msg
    where = f", found '{found}'" if found else ", found end of line"
    return GrammarError(offset + loc + 1, f"expected {expected}{where}")


# The names of each dialect's parts, in the order Header.parse takes them.
_PARTS: Dict[str, Tuple[str, ...]] = {
    dialect: tuple(sorted(pattern.groupindex, key=pattern.groupindex.__getitem__))
    for dialect, pattern in fastpath.DIALECTS}


def _header(result: pp.ParseResults, text: str, start: int, end: int) -> Header:
    """The Header of a parsed header; the body is the rest of the line."""
    for dialect, names in _PARTS.items():
        if dialect in result:
            parts = tuple(str(result[name]) if name in result else "" for name in names)
            return Header.parse(dialect, parts, text, start, end)
    raise AssertionError(f"a header of no dialect: {result.dump()}")


def _locate(text: str) -> Tuple[Header, int]:
    """The first record header in ``text`` and where its body starts.

    A header may follow any prefix: it is looked for where one of the
    header's first words (``node=``, ``type=``, ``audit(``, ``audit[``,
    ``audit:``) starts, leftmost first, at the first
    ``fastpath.MAX_HEADER_STARTS`` such places (as the fast path does).
    """
    best: Optional[pp.ParseBaseException] = None
    best_start = 0
    for count, found in enumerate(fastpath.START_RE.finditer(text)):
        if count == fastpath.MAX_HEADER_STARTS:
            break
        start = found.start()
        try:
            result = LOCATED_HEADER.parse_string(text[start:])
        except pp.ParseBaseException as exc:
            if best is None or exc.loc > best.loc:
                best, best_start = exc, start
            continue
        end = start + int(result["end"])
        try:
            return _header(result, text, start, end), end
        except HeaderError as exc:  # a time or serial out of range
            raise GrammarError(start + 1, str(exc)) from None
    if best is None:
        raise GrammarError(1, "no audit record header (type=... msg=audit(...) or audit(...))")
    raise _explain(best, best_start, text[best_start:])


def parse_body(header: Header) -> List[Tuple[str, str]]:
    """The fields of a record body, checked against the Landlock record shape."""
    kind = fastpath.landlock_kind(header.type)
    interpreted = header.carrier == "interpreted"
    if kind == fastpath.OTHER:
        grammar = INTERPRETED_BODY if interpreted else RAW_BODY
    else:
        grammar = (INTERPRETED_LANDLOCK if interpreted else RAW_LANDLOCK)[kind]
    result = grammar.parse_string(header.body, parse_all=True)
    return [(group[0], group[1].rstrip(" ") if interpreted else group[1]) for group in result]


def parse_line(line: str) -> Tuple[Header, List[Tuple[str, str]]]:
    """Parse one line: (header, fields), or GrammarError saying where and why."""
    text = fastpath.ANSI_RE.sub("", line) if "\x1b" in line else line
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return _parse_journal_json(stripped)
    header, body_start = _locate(text)
    try:
        return header, parse_body(header)
    except pp.ParseBaseException as exc:
        raise _explain(exc, body_start, header.body) from None


def _parse_journal_json(text: str) -> Tuple[Header, List[Tuple[str, str]]]:
    try:
        json.loads(text)
    except ValueError as exc:
        column = getattr(exc, "colno", 1)
        reason = getattr(exc, "msg", exc)
        raise GrammarError(column, f"not a journal JSON entry: {reason}") from None
    except RecursionError:
        raise GrammarError(1, "not a journal JSON entry: nested too deeply") from None
    try:
        header = fastpath.match_journal_json(text)
    except HeaderError as exc:
        raise GrammarError(1, str(exc)) from None
    if header is None:
        raise GrammarError(1, "journal JSON entry without an audit record in MESSAGE")
    try:
        return header, parse_body(header)
    except pp.ParseBaseException as exc:
        raise _explain(exc, 0, header.body) from None


def diagnose(line: str) -> str:
    """Why ``line`` is not a well-formed record ('' if it is one).  A
    Landlock record that gives a key twice is read (each reader keeps the
    first value) but is not well-formed: that is said too."""
    try:
        header, fields = parse_line(line)
    except GrammarError as exc:
        return str(exc)
    if fastpath.landlock_kind(header.type) != fastpath.OTHER:
        return fastpath.duplicate_problem(fields) or ""
    return ""
