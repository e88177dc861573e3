"""Text for a terminal: times, styles, and values from the log made safe.

Everything written as text goes through :func:`safe`, which escapes the
control characters an attacker could hide in a path, comm or exe (see
:mod:`lldecode.output.escape`); a :class:`Safe` string is not escaped again.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from typing import Any, Optional, TextIO

from lldecode.output.escape import escape_bytes, escape_text


def format_time(stamp: Optional[float], utc: bool = False) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS.mmm`` (local time by default)."""
    if stamp is None:
        return Safe("-")
    second = int(stamp)
    millis = int(round((stamp - second) * 1000))
    if millis == 1000:
        second, millis = second + 1, 0
    return Safe(f"{_format_second(second, utc)}.{millis:03d}")


# Seconds whose text is memoized: a log's records crowd into few distinct
# seconds at a time; a bound keeps memory flat over a long log.
_SECONDS_KEPT = 4096


@functools.lru_cache(maxsize=_SECONDS_KEPT)
def _format_second(second: int, utc: bool) -> str:
    moment = time.gmtime(second) if utc else time.localtime(second)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


class Safe(str):
    """Text already made terminal-safe: not escaped again."""


def safe(value: Any) -> str:
    """Any value as terminal-safe text (escaped once, whatever the nesting)."""
    kind = value.__class__
    if kind is Safe:
        text: str = value  # already safe
        return text
    if kind is int or kind is float:
        return str(value)
    if value is None:
        return Safe("-")
    if isinstance(value, bytes):
        return Safe(escape_bytes(value))
    if isinstance(value, (list, tuple)):
        return Safe(", ".join(safe(v) for v in value))
    return Safe(escape_text(str(value)))


class Style:
    """ANSI styling, on only when asked for or when writing to a terminal.

    ``--color auto`` (the default) colours a terminal unless NO_COLOR is set;
    ``always`` and ``never`` do what they say.
    """

    CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33",
             "blue": "34", "magenta": "35", "cyan": "36"}

    def __init__(self, mode: str = "auto", stream: Optional[TextIO] = None):
        stream = stream if stream is not None else sys.stdout
        if mode == "always":
            self.enabled = True
        elif mode == "never":
            self.enabled = False
        else:
            self.enabled = (not os.environ.get("NO_COLOR")
                            and hasattr(stream, "isatty") and stream.isatty())

    def __call__(self, text: str, *styles: str) -> str:
        """``text`` (already safe) wrapped in the given styles."""
        if not self.enabled or not styles:
            return text
        codes = ";".join(self.CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"
