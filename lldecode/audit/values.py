"""Field values as the kernel writes them, decoded.

Every value the reader hands out starts as the text of the log line, read as
Latin-1 so that each character stands for exactly one byte of the log.  The
functions here turn such text into what it means:

* untrusted strings (``path name exe comm ocomm cwd proctitle``, which the
  process under audit controls) are either double-quoted or, when they hold a
  quote, a space, a control or a non-ASCII byte, written as upper-case hex;
  they decode to ``bytes``;
* ``ausearch -i`` output holds them already decoded, unquoted, with control
  bytes escaped as three-digit octal (``\\033``); those decode to bytes too;
* the placeholders ``(null)``, ``?``, ``<no_memory>`` and ``<too_long>`` mean
  "no value" and decode to ``None``;
* ``domain=`` is a hexadecimal identifier and is never decoded as a string;
* other values decode to text (:func:`decode_text`): their bytes read as
  UTF-8, a byte that is not UTF-8 as a lone surrogate.

Every carrier follows this rule, journald's JSON included: its strings are
turned back into the bytes of their UTF-8 (whether journalctl wrote them
raw or as ``\\uXXXX`` escapes), one character per byte.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple, Union

# Fields whose value the kernel encodes with audit_log_untrustedstring()
# (quoted, or upper-case hex when it holds a quote, a space, a control or a
# non-ASCII byte): Landlock's path, name, exe, comm and ocomm, and the cwd
# and proctitle of the records that join them.  The only definition: the
# readers of lldecode.audit.syntax and lldecode.audit.grammar take it from here.
UNTRUSTED_FIELDS = frozenset({"path", "name", "exe", "comm", "ocomm", "cwd", "proctitle"})

# Values that mean "no value" (decoded as None).
PLACEHOLDERS = frozenset({"(null)", "?", "<no_memory>", "<too_long>", "(none)"})

# Upper-case hex digits (an even number of them is checked apart: a repeated
# group would make the match keep memory for every pair).
_HEX_RE = re.compile(r"[0-9A-F]+")
# An integer field has at most this many characters: 64-bit values take 20
# digits (16 in hex, plus "0x" and a sign); longer ones are no kernel's, and
# Python refuses to read or print integers of more than 4300 digits.
MAX_INT_CHARS = 24
_OCTAL_ESCAPE_RE = re.compile(r"\\([0-3][0-7][0-7])")
_DELETED = " (deleted)"


def unquote(value: str) -> str:
    """The text of a value without its double quotes, if it has them."""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value


def _unescape_octal(match: "re.Match[str]") -> str:
    """The byte an ``\\ooo`` escape of ``ausearch -i`` stands for."""
    code = int(match.group(1), 8)
    # auparse's terminal escaping only escapes control bytes; anything else
    # was a literal backslash followed by digits.
    if code < 0x20 or code == 0x7F:
        return chr(code)
    return match.group(0)


def decode_untrusted(value: str, interpreted: bool = False) -> Optional[bytes]:
    """Decode an untrusted string field to the bytes the kernel saw.

    ``interpreted`` is for ``ausearch -i`` output, where values are already
    decoded and unquoted, with control bytes as ``\\ooo`` octal escapes.
    """
    if value in PLACEHOLDERS:
        return None
    if value.startswith('"'):
        return log_bytes(unquote(value))
    if interpreted:
        if "\\" in value:
            value = _OCTAL_ESCAPE_RE.sub(_unescape_octal, value)
        return log_bytes(value)
    if not len(value) % 2 and _HEX_RE.fullmatch(value):
        return bytes.fromhex(value)
    # Not quoted and not hex: a bare token (old kernels, hand-written logs).
    return log_bytes(value)


def log_bytes(value: str) -> bytes:
    """The bytes text of the log stands for (one character per byte).  Text
    that holds characters past U+00FF was not read from a log (a caller's
    own): its UTF-8, a lone surrogate as the byte it escapes."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")


def decode_text(value: str) -> Optional[str]:
    """A trusted value as text: quotes removed, placeholders to None, its
    bytes read as UTF-8 (see :func:`as_text`)."""
    if value in PLACEHOLDERS:
        return None
    return as_text(unquote(value))


def as_text(value: str) -> str:
    """Text of the log (one character per byte) as the text its bytes
    spell in UTF-8; a byte that is not UTF-8 becomes a lone surrogate
    (``surrogateescape``), which encodes back to it.  ASCII, the usual
    case, is returned as it is."""
    if value.isascii():
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # not text of the log: real text already
        return value
    return raw.decode("utf-8", "surrogateescape")


def decode_int(value: str, base: int = 10) -> Optional[int]:
    """An integer field; None for placeholders or anything not a number
    (or longer than MAX_INT_CHARS)."""
    text = unquote(value)
    if len(text) > MAX_INT_CHARS:
        return None
    try:
        if base == 16 and text[:2].lower() == "0x":
            return int(text[2:], 16)
        return int(text, base)
    except ValueError:
        return None


def abstract_socket_name(raw: bytes) -> bytes:
    """An abstract unix socket name as ``@name`` (the kernel logs its NUL)."""
    if raw.startswith(b"\0"):
        return b"@" + raw[1:].rstrip(b"\0")
    if raw.startswith(b"@"):
        return raw
    # ausearch -i drops the leading NUL: the blocker says it is abstract.
    return b"@" + raw


def strip_deleted(raw: bytes) -> Tuple[bytes, bool]:
    """(exe, deleted): the kernel appends " (deleted)" to a vanished exe."""
    if raw.endswith(_DELETED.encode()):
        return raw[: -len(_DELETED)], True
    return raw, False


def bytes_to_text(raw: bytes) -> str:
    """Bytes as text: UTF-8 where valid, invalid bytes as U+FFFD."""
    return raw.decode("utf-8", "replace")


def is_utf8(raw: bytes) -> bool:
    """Are these bytes valid UTF-8?"""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# A number the log gives for an id (pid, uid...): its text when it is not a
# number (``ausearch -i`` writes uid=root), None when it is empty.
LogNumber = Union[int, str, None]


def log_number(value: str) -> LogNumber:
    """A pid, uid... as logged: a number, else its text (``ausearch -i``
    names uids), None when empty."""
    number = decode_int(value)
    return number if number is not None else decode_text(value)
