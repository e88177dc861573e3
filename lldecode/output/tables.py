"""Tables and CSV: every cell (and header) made safe
(:func:`lldecode.output.text.safe`), whatever the value: a table cannot
forget to escape a column.  A Markdown table (``--tablefmt github`` or
``pipe``) also shows each cell as itself, never as Markdown
(:mod:`lldecode.output.markdown`).

:func:`write_table` streams a tabulate table of any size in bounded memory.
"""

from __future__ import annotations

import csv
from typing import Any, BinaryIO, Callable, Iterable, Iterator, List, Optional, Sequence, TextIO

from lldecode.output.markdown import MARKDOWN_TABLE_FORMATS
from lldecode.output.markdown import cell as markdown_cell
from lldecode.output.text import safe

cell = safe

# Lines written at once when a table is drawn row by row: one write call
# per 512 lines keeps the system calls few and the buffer small.
WRITE_LINES = 512
# Rows up to which a table is drawn by tabulate in one piece (and kept in
# memory); a larger one is spooled and drawn row by row, or in batches of
# this many rows (tabulate holds a batch and its text at once).
TABLE_BATCH = 2000

# Draws a table of rows of cells (headers and format bound).
Draw = Callable[[List[List[str]]], str]


def tabulate(rows: Iterable[Sequence[Any]], headers: Sequence[str], **options: Any) -> str:
    """``tabulate.tabulate`` (imported on first use: the commands that draw
    no table never pay for it)."""
    # tabulate ships no type hints (types-tabulate is not a dependency).
    from tabulate import tabulate as draw  # type: ignore[import-untyped, unused-ignore]

    text: str = draw(rows, headers=headers, **options)
    return text


def write_table(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]],
                tablefmt: str = "simple", batch: int = TABLE_BATCH) -> None:
    """A tabulate table, streamed: memory stays bounded however many rows.

    The rows are read once: their cells are made safe and measured, and a
    large table is spooled to a temporary file; then each row is drawn like
    the row tabulate draws for a probe table of the same column widths
    (checked to be identical), or tabulate draws them in batches.
    """
    render = cell_renderer(tablefmt)
    heads = [render(h) for h in headers]

    def draw(body: List[List[str]]) -> str:
        return tabulate(body, headers=heads, tablefmt=tablefmt, disable_numparse=True)

    widths = [len(h) for h in heads]
    spool = _Spool(batch)
    for row in rows:
        cells = [render(v) for v in row]
        for i, text in enumerate(cells):
            if len(text) > widths[i]:
                widths[i] = len(text)
        spool.append(cells)
    if len(spool) <= batch:
        out.write(draw(list(spool)) + "\n")
        return
    layout = _TableLayout.probe(draw, widths)
    if layout is not None:
        layout.write(out, spool)
    else:
        _write_batches(out, draw, widths, spool, batch)
    spool.close()


def cell_renderer(tablefmt: str) -> Callable[[Any], str]:
    """How a value becomes a cell of this format: made safe for a terminal,
    and for a Markdown table shown as itself (never a link, markup or an
    extra cell: :func:`lldecode.output.markdown.cell`)."""
    if tablefmt not in MARKDOWN_TABLE_FORMATS:
        return cell
    return lambda value: markdown_cell(cell(value))


def footer_gap(tablefmt: str) -> str:
    """What separates a table from a line written under it: a blank line
    after a Markdown table (a line right under one is one more row)."""
    return "\n" if tablefmt in MARKDOWN_TABLE_FORMATS else ""


class _Spool:
    """Rows of text kept in memory up to ``limit``, then in a temporary file
    (in marshalled batches: one load per thousand rows)."""

    BATCH = 1024

    def __init__(self, limit: int):
        self.limit = limit
        self.rows: List[List[str]] = []
        self.file: Optional[BinaryIO] = None
        self.count = 0

    def append(self, cells: List[str]) -> None:
        """Keep one row (to the file past the limit)."""
        self.count += 1
        self.rows.append(cells)
        if len(self.rows) > self.limit or (self.file is not None
                                           and len(self.rows) >= self.BATCH):
            self._flush()

    def _flush(self) -> None:
        from lldecode.spill import dump_batches

        if self.file is None:
            import tempfile

            self.file = tempfile.TemporaryFile()
        dump_batches(([str(text) for text in row] for row in self.rows), self.file,
                     self.BATCH)
        self.rows = []

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[List[str]]:
        if self.file is None:
            yield from self.rows
            return
        from lldecode.spill import load_batches

        self._flush()
        self.file.seek(0)
        yield from load_batches(self.file)

    def close(self) -> None:
        """Remove the temporary file, if any."""
        if self.file is not None:
            self.file.close()


class _TableLayout:
    """How a tabulate format lays out rows, learnt from a probe table.

    A probe with a full-width row and a row of short cells gives the header
    lines, the text around and between cells, the lines after each row and
    the tail; the layout is used only if it redraws the probe exactly.
    """

    def __init__(self, head: List[str], around: List[str], after_row: List[str],
                 last_after: List[str], widths: List[int], strip: bool):
        self.head, self.around, self.after_row = head, around, after_row
        self.last_after, self.widths, self.strip = last_after, widths, strip
        # around[0] cell0 around[1] cell1 ... as one format (cells left-aligned,
        # padded to the column width, as str.ljust pads them)
        pieces = [_literal(around[0])]
        for i, width in enumerate(widths):
            pieces.append(f"{{{i}:<{width}}}" if width else f"{{{i}}}")
            pieces.append(_literal(around[i + 1]))
        self._format = "".join(pieces).format

    def line(self, cells: List[str]) -> str:
        """One row's line."""
        text = self._format(*cells)
        return text.rstrip() if self.strip else text

    def lines(self, rows: Iterable[List[str]]) -> Iterator[str]:
        """Every line of the table of these rows."""
        yield from self.head
        previous = None
        for cells in rows:
            if previous is not None:
                yield self.line(previous)
                yield from self.after_row
            previous = cells
        if previous is not None:
            yield self.line(previous)
            yield from self.last_after

    def write(self, out: TextIO, rows: Iterable[List[str]]) -> None:
        """The table of these rows, written WRITE_LINES lines at a time."""
        pending: List[str] = []
        for text in self.lines(rows):
            pending.append(text)
            if len(pending) >= WRITE_LINES:
                pending.append("")
                out.write("\n".join(pending))
                pending = []
        if pending:
            pending.append("")
            out.write("\n".join(pending))

    @classmethod
    def probe(cls, draw: Draw, widths: List[int]) -> Optional[_TableLayout]:
        """The layout of ``draw``'s format for these column widths, or None
        when it cannot redraw the probe exactly."""
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        full = [letters[i % len(letters)] * w for i, w in enumerate(widths)]
        short = [letters[(i + 1) % len(letters)] for i in range(len(widths))]
        # cells holding what some formats escape (html, latex): kept verbatim?
        specials = [_SPECIALS[i % len(_SPECIALS)] for i in range(len(widths))]
        expected = draw([full, short, specials, full]).split("\n")
        try:
            row_at = next(i for i, text in enumerate(expected) if full[0] in text
                          and all(f in text for f in full))
            data = expected[row_at]
            around, position = [], 0
            for value in full:
                start = data.index(value, position)
                around.append(data[position:start])
                position = start + len(value)
            around.append(data[position:])
            short_at = next(i for i in range(row_at + 1, len(expected))
                            if all(s in expected[i] for s in short))
        except (StopIteration, ValueError):
            return None
        per_row = short_at - row_at
        after_row = expected[row_at + 1: short_at]
        last_at = short_at + 2 * per_row
        for strip in (False, True):
            layout = cls(expected[:row_at], around, after_row, expected[last_at + 1:],
                         widths, strip)
            if list(layout.lines([full, short, specials, full])) == expected:
                return layout
        return None


# Characters some formats escape (html, latex...): a probe cell holds one.
_SPECIALS = "<&%_$#\\{}~^|"


def _literal(text: str) -> str:
    """``text`` as a literal part of a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def _write_batches(out: TextIO, draw: Draw, widths: List[int],
                   rows: Iterable[List[str]], batch: int) -> None:
    """Tabulate in batches, each led by a full-width row that fixes the columns."""
    filler = ["x" * w for w in widths]
    one, two = draw([filler]).split("\n"), draw([filler, filler]).split("\n")
    per_row = len(two) - len(one)
    head = next(i for i, line in enumerate(one) if "x" * max(widths) in line)
    tail = len(one) - head - per_row
    pending: List[List[str]] = []
    first = True

    def flush(batch_rows: List[List[str]], last: bool) -> None:
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

    for cells in rows:
        pending.append(cells)
        if len(pending) > batch:
            flush(pending[:batch], last=False)
            del pending[:batch]
    flush(pending, last=True)


def write_csv(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A CSV table, streamed, every cell made safe."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cell(h) for h in headers])
    for row in rows:
        writer.writerow([cell(v) for v in row])


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def group_footer(total: int, groups: int, shown: Optional[int] = None) -> str:
    """The line under a summary table: ``56 denials in 21 groups (2 shown)``
    (the shown part only when fewer groups are shown than there are)."""
    text = f"{_plural(total, 'denial')} in {_plural(groups, 'group')}"
    if shown is not None and shown < groups:
        text += f" ({shown} shown)"
    return text + "\n"
