"""laurel's JSON lines: one audit event per line, read back into its records.

laurel (https://github.com/threathunters-io/laurel) is an auditd plugin that
writes each audit event as one JSON object: ``{"ID": "SECONDS.MILLIS:SERIAL",
"NODE": ..., "SYSCALL": {...}, "UNKNOWN[1423]": [{...}], ...}``.  What this
module knows of the format comes from laurel's source and documentation
(json-format.md, man/laurel-about.7.md, src/coalesce.rs, src/quote.rs, and
the linux-audit-parser crate it parses with):

* each record type is a key, in the order the records came: SYSCALL,
  EXECVE, CWD and PROCTITLE hold one object, every other type a list of
  objects (PATH, SOCKADDR, and the Landlock records).  laurel's type names
  predate Landlock's audit support: 1423 and 1424 are ``UNKNOWN[1423]`` and
  ``UNKNOWN[1424]`` (a newer dictionary may name them ``LANDLOCK_ACCESS``
  and ``LANDLOCK_DOMAIN``: both are read);
* a value is a JSON number (decimal fields), a string ``"0x..."`` or
  ``"0o..."`` (hexadecimal and octal fields), ``null`` (``(null)``, ``?``)
  or a string of bytes: hex-encoded and quoted audit strings alike are
  decoded, then every byte that is not printable ASCII or UTF-8, and ``%``
  and ``+``, is written ``%xx``;
* laurel decodes *any* field whose value is an even number of hex digits
  and is not known to it as a number: ``domain=1b6b161cea`` (an even number
  of digits) and ``src=8080`` come out as their "decoded" bytes.  Those
  fields are hex-encoded back here (a domain id in laurel's output is an odd
  number of hex digits, or it was decoded; so is a port or count);
* SYSCALL's ``a0``..``a3`` become ``ARGV`` (hex strings), PROCTITLE's
  ``proctitle`` becomes ``ARGV`` (split at NUL bytes), EXECVE's ``aN``
  become ``ARGV``;
* upper-case keys are enrichment, as auditd's ENRICHED format: ``ARCH``,
  ``SYSCALL``, ``UID`` (with ``translate``), and, for ``pid``-like fields,
  maps of what laurel knows of the process (``PID``, ``PPID``, ``OPID``:
  ``EVENT_ID`` or ``START_TIME``, ``comm``, ``exe``, ``ppid``), ``LABELS``,
  ``SCRIPT``, ``CONTAINER_INFO``.

Each record is rebuilt in auditd's raw syntax (untrusted strings quoted, or
in upper-case hex when they hold a quote, a space or a byte outside
printable ASCII, as the kernel writes them) and read like any other raw
record, with the carrier ``laurel``; the enrichment is kept as the
record's :attr:`~lldecode.audit.syntax.Header.enrichment`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from lldecode.audit.syntax import RAW_RE, Header, HeaderError

LAUREL = "laurel"

# laurel's optional line prefix (its auditlog.line-prefix, e.g. "@cee: ")
# is any text before the object; the object always starts with its ID.
_START_RE = re.compile(r'\{\s*"ID"\s*:\s*"')
_ID_RE = re.compile(r"(\d{1,11})\.(\d{1,9}):(\d{1,20})\Z")
_PERCENT_RE = re.compile(rb"%([0-9a-fA-F]{2})")
_ODD_HEX_RE = re.compile(r"[0-9a-fA-F]([0-9a-fA-F]{2})*\Z")
_ODD_DIGITS_RE = re.compile(r"[0-9]([0-9]{2})*\Z")
# A Landlock record type as a key of the event object.
_LANDLOCK_KEY_RE = re.compile(r'"(?:UNKNOWN\[142[34]\]|LANDLOCK_[A-Z_]+)"\s*:')

# Keys of the event object that are no record (PARENT_INFO: laurel before
# 0.5's parent process enrichment).
_NOT_RECORDS = frozenset({"ID", "NODE", "CONTAINER_INFO", "PARENT_INFO"})
# Fields the kernel writes as untrusted strings (quoted, or hex when they
# hold a quote, a space or a byte outside printable ASCII).
_UNTRUSTED = frozenset({"path", "name", "exe", "comm", "ocomm", "cwd", "proctitle", "dev",
                        "key", "old-path", "new-path"})
# Hexadecimal numbers auditd writes without 0x (laurel adds it).
_BARE_HEX = frozenset({"a0", "a1", "a2", "a3", "arch", "cap_fi", "cap_fp", "cap_fe", "cap_fver",
                       "cap_pi", "cap_pp", "cap_pe", "cap_pa", "flags", "per", "code"})
# Fields laurel does not know as numbers: an even number of digits was
# hex-decoded by it (see the module's text).
_HEX_ID_FIELDS = frozenset({"domain"})
_DECIMAL_FIELDS = frozenset({"src", "dest", "denials", "lport", "rport"})


class LaurelError(ValueError):
    """A laurel line that cannot be an event (its ID, or a record, is no
    such thing)."""


def find_object(line: str) -> Optional[int]:
    """Where laurel's JSON object starts in ``line`` (after an optional
    prefix), or None when the line is no laurel event."""
    if line.startswith('{"ID":"'):
        return 0
    if '"ID"' not in line[:200]:
        return None
    m = _START_RE.search(line, 0, 200)
    return None if m is None else m.start()


def event_headers(line: str) -> Optional[List[Header]]:
    """The records of one laurel line, as raw record headers carried
    ``laurel`` (None: the line is no laurel event; LaurelError or
    HeaderError when it is one, but broken)."""
    start = find_object(line)
    if start is None:
        return None
    try:
        event = json.loads(_utf8(line[start:]))
    except (ValueError, RecursionError) as exc:
        if _LANDLOCK_KEY_RE.search(line):  # a Landlock event, damaged (a cut line?)
            reason = "nested too deep" if isinstance(exc, RecursionError) else "not valid JSON"
            raise LaurelError(f"laurel event with Landlock records: {reason}") from None
        return None
    if not isinstance(event, dict) or not isinstance(event.get("ID"), str):
        return None
    m = _ID_RE.match(event["ID"])
    if m is None:
        raise LaurelError(f"laurel event: ID {event['ID'][:40]!r} is no audit(SECONDS:SERIAL)")
    stamp = f"{m.group(1)}.{m.group(2)}:{m.group(3)}"
    node = event.get("NODE")
    prefix = ""
    if isinstance(node, str) and node:
        prefix = f"node={_bare(_bytes(node)).decode('latin-1')} "
    headers = []
    for key, value in event.items():
        if key in _NOT_RECORDS:
            continue
        if not isinstance(key, str) or not re.fullmatch(r"[A-Z][A-Z0-9_]*(\[\d+\])?", key):
            raise LaurelError(f"laurel event {stamp}: {key[:40]!r} is no record type")
        items = value if isinstance(value, list) else [value]
        for item in items:
            if not isinstance(item, dict):
                raise LaurelError(f"laurel event {stamp}: {key} holds no record")
            body, enrichment = record_text(key, item)
            text = f"{prefix}type={key} msg=audit({stamp}): {body}"
            if enrichment:
                text += "\x1d" + enrichment
            raw = RAW_RE.match(text)
            if raw is None:  # pragma: no cover - built to match
                raise LaurelError(f"laurel event {stamp}: cannot rebuild {key}")
            header = Header.parse("raw", raw.groups(""), text, 0, raw.end())
            header.carrier = LAUREL
            headers.append(header)
    return headers


def record_text(type_name: str, record: Dict[str, Any]) -> Tuple[str, str]:
    """One record of a laurel event as auditd's raw body and enrichment
    (text of the log: one character per byte)."""
    fields: List[str] = []
    enriched: List[str] = []
    for key, value in record.items():
        if not isinstance(key, str):
            continue
        if key == "ARGV" and type_name in ("SYSCALL", "PROCTITLE", "EXECVE"):
            fields.extend(_argv(type_name, value))
            continue
        if key[:1].isupper():
            enriched.extend(_enrichment(key, value))
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", key):
            continue  # no field auditd writes
        fields.append(f"{key}={_value(key, value)}")
    return " ".join(fields), " ".join(enriched)


def _argv(type_name: str, value: Any) -> Iterator[str]:
    args = [_bytes(v) for v in value if isinstance(v, str)] if isinstance(value, list) else []
    if type_name == "PROCTITLE":
        yield "proctitle=" + _untrusted(b"\0".join(args))
    elif type_name == "SYSCALL":
        for n, arg in enumerate(args[:4]):
            text = arg.decode("latin-1")
            yield f"a{n}={text[2:] if text.startswith('0x') else text}"
    else:
        yield f"argc={len(args)}"
        for n, arg in enumerate(args):
            yield f"a{n}={_untrusted(arg)}"


def _enrichment(key: str, value: Any, prefix: str = "") -> Iterator[str]:
    name = prefix + key
    if isinstance(value, dict):
        for sub, inner in value.items():
            if isinstance(sub, str):
                yield from _enrichment(sub, inner, name + ".")
    elif isinstance(value, list):
        items = [_bytes(v) if isinstance(v, str) else str(v).encode() for v in value]
        yield f"{name}={_quoted(b','.join(items))}"
    elif value is None:
        yield f"{name}=?"
    elif isinstance(value, str):
        yield f"{name}={_quoted(_bytes(value))}"
    else:
        yield f"{name}={value}"


def _value(key: str, value: Any) -> str:
    """A field's value as auditd wrote it (as far as laurel kept it)."""
    if value is None:
        return "(null)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if not isinstance(value, str):
        return "?"
    raw = _bytes(value)
    if key in _UNTRUSTED:
        return _untrusted(raw)
    text = raw.decode("latin-1")
    if key in _HEX_ID_FIELDS:
        # An odd number of hex digits is as logged; 5 to 8 other bytes are
        # what laurel decoded from an even number of them (a domain id is 9
        # to 16 digits); anything else is no domain id, as it is.
        if _ODD_HEX_RE.match(text) or not 5 <= len(raw) <= 8:
            return _bare(raw).decode("latin-1")
        return raw.hex()
    if key in _DECIMAL_FIELDS:
        return text if _ODD_DIGITS_RE.match(text) else raw.hex()
    if text.startswith("0x") and key in _BARE_HEX:
        return text[2:]
    if text.startswith("0o") and key.endswith("mode"):
        return "0" + text[2:]
    return _bare(raw).decode("latin-1")


def _utf8(text: str) -> str:
    """The reader's text of a line (one character per byte) as the UTF-8
    text JSON is written in."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text


def _bytes(value: str) -> bytes:
    """The bytes of one of laurel's strings: UTF-8, with %xx for the others."""
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate spelled \\udXXX in the JSON
        raw = value.encode("utf-8", "surrogatepass")
    if b"%" not in raw:
        return raw
    return _PERCENT_RE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)


def _untrusted(raw: bytes) -> str:
    """An untrusted string the way the kernel logs it."""
    if any(b == 0x22 or b < 0x21 or b > 0x7E for b in raw) or not raw:
        return raw.hex().upper() if raw else '""'
    return '"' + raw.decode("ascii") + '"'


def _quoted(raw: bytes) -> str:
    if b'"' in raw or any(b < 0x20 or b == 0x7F for b in raw):
        return raw.hex().upper()
    return '"' + raw.decode("latin-1") + '"'


def _bare(raw: bytes) -> bytes:
    """A trusted value: bare when it is one word, else quoted (or hex)."""
    if raw and all(0x21 <= b <= 0x7E and b not in b"\"'" for b in raw):
        return raw
    return _quoted(raw).encode("latin-1")


__all__ = ["LAUREL", "LaurelError", "HeaderError", "event_headers", "find_object",
           "record_text"]
