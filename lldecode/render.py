"""Renderers: tables, CSV, JSON, NDJSON and styled text.

Everything written to a terminal or a text file goes through :func:`cell`
(tables, CSV) or :func:`safe` (text), which escape the control characters an
attacker could hide in a path, comm or exe (see :mod:`lldecode.escape`).
JSON escapes them by its own rules and keeps every byte (see
:mod:`lldecode.jsonable`).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from typing import Any, Iterable, List, Optional, Sequence, TextIO

from lldecode.escape import escape_bytes, escape_text

TABLE_FORMATS_HELP = "any tabulate format: simple, github, plain, grid, pipe, rst, ..."


def format_time(stamp: Optional[float], utc: bool = False) -> str:
    """Epoch seconds as ``YYYY-MM-DD HH:MM:SS.mmm`` (local time by default)."""
    if stamp is None:
        return "-"
    moment = time.gmtime(stamp) if utc else time.localtime(stamp)
    millis = int(round((stamp - int(stamp)) * 1000)) % 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", moment) + f".{millis:03d}"


class Safe(str):
    """Text already made terminal-safe: not escaped again."""


def safe(value: Any) -> Safe:
    """Any value as terminal-safe text (escaped once, whatever the nesting)."""
    if isinstance(value, Safe):
        return value
    if value is None:
        return Safe("-")
    if isinstance(value, bytes):
        return Safe(escape_bytes(value))
    if isinstance(value, (list, tuple)):
        return Safe(", ".join(safe(v) for v in value))
    return Safe(escape_text(str(value)))


cell = safe


def write_table(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]],
                tablefmt: str = "simple") -> None:
    from tabulate import tabulate

    body = [[cell(v) for v in row] for row in rows]
    out.write(tabulate(body, headers=list(headers), tablefmt=tablefmt,
                       disable_numparse=True) + "\n")


def write_csv(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([cell(v) for v in row])


def write_json(out: TextIO, value: Any) -> None:
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def write_ndjson_line(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False) + "\n")


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


def columns(rows: List[dict], keys: Sequence[str]) -> List[List[Any]]:
    return [[row.get(k) for k in keys] for row in rows]
