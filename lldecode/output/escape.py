"""Text from the log made safe for a terminal.

Paths, comm, exe and proctitle are bytes chosen by the process under audit.
Written raw they could move the cursor, rewrite earlier lines or change the
terminal's title.  Every renderer that writes text goes through
:func:`escape_bytes` or :func:`escape_text`:

* the bytes are read as UTF-8; a byte that is not valid UTF-8 is shown as
  ``\\xNN``;
* control characters are shown as ``\\n``, ``\\r``, ``\\t`` or ``\\xNN``
  (``\\x1b`` for ESC), Unicode format characters such as the bidirectional
  overrides as ``\\uNNNN``;
* a backslash is doubled, so that the escaped text is unambiguous.
"""

from __future__ import annotations

import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Characters that need escaping: backslash, C0/DEL/C1 controls, lone
# surrogates (undecodable bytes), and the Unicode format/separator classes.
_UNSAFE_RE = re.compile(
    "[\\\\\x00-\x1f\x7f-\x9f\udc80-\udcff\u00ad\u061c\u115f\u1160\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\ufff9-\ufffb]")


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
    return f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """``text`` with every character a terminal could act on escaped."""
    if not _UNSAFE_RE.search(text):
        return text
    return _UNSAFE_RE.sub(_replace, text)


def escape_bytes(raw: bytes) -> str:
    """Untrusted bytes as printable, unambiguous text."""
    return escape_text(raw.decode("utf-8", "surrogateescape"))

