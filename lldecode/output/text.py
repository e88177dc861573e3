"""Text for a terminal: times, styles, and values from the log made safe.

Any field of a log line may hold what an attacker chose (see
:mod:`lldecode.output.escape`).  The text renderers escape every value where
they format it:

* every value interpolated into a line goes through :func:`safe` (an
  f-string's ``{...}`` is ``{safe(value)}``; tests/output/test_escape.py
  checks the renderers' source for it);
* :class:`Style` escapes the text it colours, unless it is :class:`Safe`;
* tables and CSV make every cell safe (:mod:`lldecode.output.tables`).

:func:`safe` returns a :class:`Safe` string, which is not escaped again:
text built only of literal text and :func:`safe` values is wrapped in
:class:`Safe` too, so that a renderer's result can be a table cell or a
styled word without its backslashes being doubled.

:func:`utf8_stdout` is the stream the commands write to: UTF-8 whatever the
locale or ``PYTHONIOENCODING`` say, so that writing never fails.
"""

from __future__ import annotations

import codecs
import functools
import math
import os
import sys
import time
from typing import Any, Callable, Iterable, List, Optional, TextIO, Tuple

from lldecode.output.escape import escape_bytes, escape_text


def format_time(stamp: Optional[float], utc: bool = False) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS.mmm+HH:MM``: local time with
    its offset from UTC (a pasted report says its zone), or UTC as
    ``YYYY-MM-DD HH:MM:SS.mmmZ`` with ``utc``.

    A time no calendar of this platform can show (a log can claim any
    number: infinite, or past the year 9999 or before year 1) is shown as
    the number of seconds it is.
    """
    global _last_time
    if stamp is None:
        return Safe("-")
    last = _last_time  # (a table's row shows a time twice when first is last)
    if stamp == last[0] and utc is last[1]:
        return last[2]
    try:
        second = math.floor(stamp)
        millis = int(round((stamp - second) * 1000))
        if millis == 1000:
            second, millis = second + 1, 0
        text, zone = _format_second(second, utc)
        shown = Safe(f"{text}.{millis:03d}{zone}")
    except (OverflowError, ValueError, OSError):
        return safe(stamp)
    _last_time = (stamp, utc, shown)
    return shown


# The last time format_time showed: (stamp, utc, text).
_last_time: Tuple[Any, Any, str] = (None, None, "")


# Seconds whose text is memoized: a log's records crowd into few distinct
# seconds at a time; a bound keeps memory flat over a long log (at most
# about 3 MB).  A summary's rows go through the seconds once per count (most
# denials first, then oldest first): 8192 hold those of a 150 MB log of
# denials (5,384), which 4096 made it compute again 27,000 times.
_SECONDS_KEPT = 8192


@functools.lru_cache(maxsize=_SECONDS_KEPT)
def _format_second(second: int, utc: bool) -> Tuple[str, str]:
    """(the second as ``YYYY-MM-DD HH:MM:SS``, its zone: ``Z`` or ``+HH:MM``)."""
    moment = time.gmtime(second) if utc else time.localtime(second)
    if not 1 <= moment.tm_year <= 9999:  # strftime's %Y is four digits
        raise ValueError(f"year {moment.tm_year}")
    return time.strftime("%Y-%m-%d %H:%M:%S", moment), "Z" if utc else _offset(moment)


def _offset(moment: time.struct_time) -> str:
    """A local time's offset from UTC, as ``+HH:MM`` (ISO 8601)."""
    offset = moment.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    minutes = abs(offset) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class Safe(str):
    """Text already made terminal-safe: not escaped again."""


# What safe() makes of None; the kinds of a column of counts that may be unknown.
_NONE = Safe("-")
_INT_OR_NONE = frozenset({int, type(None)})


def safe(value: Any) -> str:
    """Any value as terminal-safe text, escaped once whatever the nesting:
    a :class:`Safe` string, or text that escaping leaves unchanged (plain
    printable ASCII, the usual case, is returned as it is)."""
    kind = value.__class__
    if kind is Safe:
        text: str = value  # already safe
        return text
    if kind is str:
        if value.isascii() and value.isprintable() and "\\" not in value:
            return value  # nothing to escape
        return Safe(escape_text(value))
    if kind is int or kind is float:
        return str(value)
    if value is None:
        return Safe("-")
    if isinstance(value, bytes):
        if value.isascii():
            return safe(value.decode("ascii"))
        return Safe(escape_bytes(value))
    if isinstance(value, (list, tuple)):
        return Safe(", ".join(safe(v) for v in value))
    return Safe(escape_text(str(value)))


def safe_column(values: Iterable[Any]) -> List[str]:
    """``[safe(v) for v in values]``, faster for a column of a table: a
    column of one kind (Safe text, plain ASCII text, integers, integers and
    None) is converted by calls that go over the whole column."""
    column = values if isinstance(values, (list, tuple)) else list(values)
    kinds = set(map(type, column))
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind is Safe:
            return list(column)
        if kind is int:
            return list(map(str, column))
        if kind is str:
            text = "".join(column)
            if text.isascii() and text.isprintable() and "\\" not in text:
                return list(column)  # nothing to escape
    elif kinds == _INT_OR_NONE:
        return [_NONE if value is None else str(value) for value in column]
    return list(map(safe, column))


class Style:
    """ANSI styling, on only when asked for or when writing to a terminal.

    ``--color auto`` (the default) colours a terminal unless NO_COLOR is set
    or TERM is ``dumb`` (a terminal that shows no escape sequence: Emacs'
    shell, some CI consoles); ``always`` and ``never`` do what they say.
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
                            and os.environ.get("TERM") != "dumb"
                            and hasattr(stream, "isatty") and stream.isatty())

    def __call__(self, text: Any, *styles: str) -> str:
        """``text`` made safe (unless it is :class:`Safe`), wrapped in the
        given styles (the only control characters lldecode writes itself)."""
        text = safe(text)
        if not self.enabled or not styles:
            return text
        codes = ";".join(self.CODES[s] for s in styles)
        return Safe(f"\x1b[{codes}m{text}\x1b[0m")


def utf8_stdout() -> TextIO:
    """``sys.stdout``, set to write UTF-8 (JSON is UTF-8 by definition; text
    is UTF-8 too, whatever the locale or PYTHONIOENCODING say, as the
    escaping rule assumes).

    Everything written is escaped or converted first and so encodes; should
    anything slip through, ``backslashreplace`` writes it as an escape
    rather than failing (an encoding error would stop the command midway).
    """
    stream = sys.stdout
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and (
            codecs.lookup(stream.encoding or "ascii").name != "utf-8"
            or stream.errors != "backslashreplace"):
        try:
            reconfigure(encoding="utf-8", errors="backslashreplace")
        except (ValueError, OSError, LookupError):
            pass  # a stream that cannot be changed: written as it is
    return stream


def raw_writer(out: TextIO) -> Callable[[str], Any]:
    """How ``filter --format raw`` writes the lines it matched: the bytes
    they were read from (the reader holds each byte of a line as one Latin-1
    character), unchanged and unescaped, to the binary stream under ``out``
    when it has one."""
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        return out.write

    def write(lines: str) -> None:
        try:
            raw = lines.encode("latin-1")
        except UnicodeEncodeError:  # not text the reader made
            raw = lines.encode("utf-8", "surrogateescape")
        out.flush()
        buffer.write(raw)

    return write
