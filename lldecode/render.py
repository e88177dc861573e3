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
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, TextIO, Union

from lldecode.escape import escape_bytes, escape_text

Rows = Union[Sequence[Sequence[Any]], Callable[[], Iterator[Sequence[Any]]]]
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


def write_table(out: TextIO, headers: Sequence[str], rows: Rows,
                tablefmt: str = "simple", batch: int = 2000) -> None:
    """A tabulate table, streamed: memory stays bounded however many rows.

    ``rows`` is a list, or a function returning a fresh iterator (tables
    of any size are drawn in two passes: widths, then batches of rows).
    """
    from tabulate import tabulate

    def draw(body, head=headers):
        return tabulate(body, headers=list(head), tablefmt=tablefmt, disable_numparse=True)

    again = rows if callable(rows) else (lambda: iter(rows))
    widths = [len(cell(h)) for h in headers]
    count = 0
    for row in again():
        count += 1
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(cell(value)))
    if count <= batch:
        out.write(draw([[cell(v) for v in row] for row in again()]) + "\n")
        return
    # A row of full-width cells first in every batch fixes the columns;
    # learn from a probe how many lines the header, a row and the tail take.
    filler = ["x" * w for w in widths]
    one, two = draw([filler]).split("\n"), draw([filler, filler]).split("\n")
    per_row = len(two) - len(one)
    head = next(i for i, line in enumerate(one) if "x" * max(widths) in line)
    tail = len(one) - head - per_row
    batch_rows: List[List[str]] = []
    first = True

    def flush(last: bool) -> None:
        nonlocal first
        lines = draw([filler] + batch_rows).split("\n")
        body = lines[head + per_row: len(lines) - tail]
        if not last and per_row > 1:
            # the last row's closing lines are the bottom border: use the
            # separator that follows the filler row instead
            body[len(body) - (per_row - 1):] = lines[head + 1: head + per_row]
        parts = (lines[:head] if first else []) + body + (lines[len(lines) - tail:] if last else [])
        out.write("\n".join(parts) + "\n")
        first = False
        batch_rows.clear()

    pending: List[List[str]] = []
    for row in again():
        pending.append([cell(v) for v in row])
        if len(pending) > batch:
            batch_rows.extend(pending[:batch])
            del pending[:batch]
            flush(last=False)
    batch_rows.extend(pending)
    flush(last=True)


def write_csv(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([cell(v) for v in row])


def write_json(out: TextIO, value: Any) -> None:
    json.dump(value, out, ensure_ascii=False, indent=2)
    out.write("\n")


def write_json_list(out: TextIO, items: Iterable[Any]) -> None:
    """A JSON list written item by item (never held whole in memory)."""
    out.write("[")
    empty = True
    for item in items:
        out.write("\n  " if empty else ",\n  ")
        out.write(json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        empty = False
    out.write("]\n" if empty else "\n]\n")


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
