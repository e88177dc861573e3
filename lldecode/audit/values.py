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
* ``domain=`` is a hexadecimal identifier and is never decoded as a string.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

# Fields whose value the kernel encodes with audit_log_untrustedstring()
# (quoted, or upper-case hex when it holds a quote, a space, a control or a
# non-ASCII byte): Landlock's path, name, exe, comm and ocomm, and the cwd
# and proctitle of the records that join them.  The only definition: the
# readers of lldecode.audit.syntax and lldecode.audit.grammar take it from here.
UNTRUSTED_FIELDS = frozenset({"path", "name", "exe", "comm", "ocomm", "cwd", "proctitle"})

# Values that mean "no value" (decoded as None).
PLACEHOLDERS = frozenset({"(null)", "?", "<no_memory>", "<too_long>", "(none)"})

_HEX_RE = re.compile(r"(?:[0-9A-F]{2})+\Z")
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
        return unquote(value).encode("latin-1")
    if interpreted:
        if "\\" in value:
            value = _OCTAL_ESCAPE_RE.sub(_unescape_octal, value)
        return value.encode("latin-1")
    if _HEX_RE.match(value):
        return bytes.fromhex(value)
    # Not quoted and not hex: a bare token (old kernels, hand-written logs).
    return value.encode("latin-1")


def decode_text(value: str) -> Optional[str]:
    """A trusted value as text: quotes removed, placeholders to None."""
    if value in PLACEHOLDERS:
        return None
    return unquote(value)


def decode_int(value: str, base: int = 10) -> Optional[int]:
    """An integer field; None for placeholders or anything not a number."""
    text = unquote(value)
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
