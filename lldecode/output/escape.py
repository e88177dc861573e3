"""The escaping rule of each output syntax, for values that came from the log.

Every field of a log line is chosen, byte by byte, by whoever can write to
the log: not only paths, comm, exe and proctitle, but a ``syscall=`` or
``pid=`` value, ``blockers=``, a domain's ``mode=``, a journald entry's JSON
text.  Written raw, a control character could move the cursor, rewrite
earlier lines, reset the terminal (``ESC c``) or change its title, and a
bidirectional override could make text read differently from what it is.

Text (terminal lines, tables, CSV cells, paragraphs): :func:`escape_text`
and :func:`escape_bytes`, used through :func:`lldecode.output.text.safe`:

* the bytes are read as UTF-8; a byte that is not valid UTF-8 (in a ``str``:
  the lone surrogate ``surrogateescape`` made of it) is shown as ``\\xNN``;
* control characters (C0, DEL, C1) are shown as ``\\n``, ``\\r``, ``\\t`` or
  ``\\xNN`` (``\\x1b`` for ESC); Unicode format characters (the bidirectional
  overrides and isolates, zero-width characters, the soft hyphen, tags...),
  the line and paragraph separators, invisible fillers and any other lone
  surrogate as ``\\uNNNN`` (``\\UNNNNNNNN`` past U+FFFF);
* a backslash is doubled, so that the escaped text is unambiguous.

JSON: :func:`escape_json` (used by every JSON writer, see
:mod:`lldecode.output.jsonable`) writes the same characters as JSON
``\\uNNNN`` escapes, which JSON parsers read back unchanged: U+2028 and
U+2029 then never break a reader that splits NDJSON on line ends, and JSON
shown on a terminal cannot act on it either.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}

# Characters a terminal could act on, or that hide or reorder text: the
# controls (Unicode category Cc), the format characters (Cf: soft hyphen,
# Arabic number signs, zero-width characters, bidirectional embeddings,
# overrides and isolates, word joiners, BOM, interlinear annotations,
# Egyptian hieroglyph and musical format controls, tags), the line and
# paragraph separators (Zl, Zp), lone surrogates (Cs: bytes that were not
# UTF-8, or a JSON \\uD800 escape), and the invisible Hangul fillers.
# tests/output/test_escape.py checks that every Cc, Cf, Zl, Zp and Cs
# character of this Python's Unicode database is in the set.
_C0 = "\x00-\x1f"
_UNSAFE_BEYOND_C0 = (
    "\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ud800-\udfff\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")

_UNSAFE_RE = re.compile(f"[\\\\{_C0}{_UNSAFE_BEYOND_C0}]")

# What JSON writes raw but is escaped here: JSON itself escapes the C0
# controls (the only ones outside strings are its whitespace), the quote
# and the backslash.
_JSON_UNSAFE_RE = re.compile(f"[{_UNSAFE_BEYOND_C0}]")


def _replace(match: "re.Match[str]") -> str:
    ch = match.group(0)
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_text(text: str) -> str:
    """``text`` with every character a terminal could act on escaped."""
    if not _UNSAFE_RE.search(text):
        return text
    return _UNSAFE_RE.sub(_replace, text)


def escape_bytes(raw: bytes) -> str:
    """Untrusted bytes as printable, unambiguous text."""
    return escape_text(raw.decode("utf-8", "surrogateescape"))


def _json_replace(match: "re.Match[str]") -> str:
    code = ord(match.group(0))
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def escape_json(text: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) with the characters
    of the text rule that JSON leaves raw written as ``\\uNNNN`` escapes.

    They can only be inside strings (the rest of JSON is ASCII), where an
    escape stands for the same character: the parsed value is unchanged.
    """
    if text.isascii() or not _JSON_UNSAFE_RE.search(text):
        return text
    return _JSON_UNSAFE_RE.sub(_json_replace, text)
