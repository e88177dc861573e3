"""Tables and CSV: every cell (and header) made safe
(:func:`lldecode.output.text.safe`), whatever the value: a table cannot
forget to escape a column.  A Markdown table (``--tablefmt github`` or
``pipe``) also shows each cell as itself, never as Markdown
(:mod:`lldecode.output.markdown`).

:func:`write_table` streams a table of any size in bounded memory, with the
bytes ``tabulate`` gives for the whole table at once.  It keeps the cells
column by column (in chunks of :data:`CHUNK` rows, spooled to a temporary
file past ``keep`` rows) and measures the columns as they come; then each
row is laid out by one ``str.format`` template, a chunk at a time:

* ``simple`` (the default) and ``plain``: the layout is known here (cells
  stripped, left-aligned, padded to the widest cell or the header plus two,
  lines right-stripped, as tabulate draws them), so tabulate is not even
  imported;
* the other formats: the layout is learnt from tabulate on a small probe
  table of the same widths (:meth:`_TableLayout.probe`), used only if it
  redraws the probe exactly (a format that escapes or centres cells fails
  it);
* otherwise, or when a cell is not plain text (not printable, or wide
  characters that tabulate measures with wcwidth), tabulate draws the table:
  at once up to ``batch`` rows, else in batches of fixed column widths.

tests/output/test_tables_fast.py compares every path with tabulate itself,
for every format tabulate offers, on random hostile cells.
"""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any, BinaryIO, Callable, Iterable, Iterator, List, Optional, Sequence, TextIO

from lldecode.output.markdown import MARKDOWN_TABLE_FORMATS
from lldecode.output.markdown import cell as markdown_cell
from lldecode.output.text import safe, safe_column
from lldecode.spill import read_framed, write_framed

cell = safe

# Rows up to which a table in a format laid out by tabulate itself is drawn
# by it in one piece; a larger one is drawn chunk by chunk, or by tabulate
# in batches of this many rows.
TABLE_BATCH = 2000
# Rows of cells kept in memory (a few MB); a larger table is spooled to a
# temporary file.
KEEP_ROWS = 8192
# Rows of a chunk: the cells of a chunk are measured, stripped, spooled and
# laid out column by column, by calls that each go over a whole column.
CHUNK = 1024

# Draws a table of rows of cells (headers and format bound).
Draw = Callable[[List[List[str]]], str]
# A chunk of rows as its columns (each as long as the chunk).
Columns = List[List[str]]

# Formats whose layout is known without tabulate: (the line under the header
# or None, the text between cells).  Cells are stripped, left-aligned and
# padded; each line is right-stripped; nothing goes above, between rows or
# below (tabulate's "simple" hides its lines above and below a table with
# headers).
_KNOWN = {"simple": ("-", "  "), "plain": (None, "  ")}


def tabulate(rows: Iterable[Sequence[Any]], headers: Sequence[str], **options: Any) -> str:
    """``tabulate.tabulate`` (imported on first use: the commands that draw
    no table never pay for it)."""
    # tabulate ships no type hints (types-tabulate is not a dependency).
    from tabulate import tabulate as draw  # type: ignore[import-untyped, unused-ignore]

    text: str = draw(rows, headers=headers, **options)
    return text


def write_table(out: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]],
                tablefmt: str = "simple", batch: int = TABLE_BATCH,
                keep: int = KEEP_ROWS) -> None:
    """A table as tabulate draws it (``disable_numparse``: every cell is
    text), streamed: memory stays bounded however many rows.

    The rows are read once: their cells are made safe, measured and kept
    (spooled to a temporary file past ``keep`` rows); then the table is
    laid out chunk by chunk, or drawn by tabulate (see the module's
    docstring).
    """
    render = cell_renderer(tablefmt)
    heads = [render(h) for h in headers]
    spool = _ColumnSpool(len(heads), keep, render, column_renderer(tablefmt))
    try:
        values = iter(rows)
        while True:  # a chunk of rows at a time (each row copied as it comes)
            chunk = list(map(list, islice(values, CHUNK)))
            if not chunk:
                break
            spool.seal(chunk)
        layout = _layout(tablefmt, heads, spool, batch)
        if layout is not None:
            layout.write(out, spool.chunks())
            return

        def draw(body: List[List[str]]) -> str:
            return tabulate(body, headers=heads, tablefmt=tablefmt, disable_numparse=True)

        if len(spool) <= batch:
            out.write(draw(list(spool.rows())) + "\n")
        else:
            _write_batches(out, draw, _widths(tablefmt, heads, spool), spool.rows(), batch)
    finally:
        spool.close()


def cell_renderer(tablefmt: str) -> Callable[[Any], str]:
    """How a value becomes a cell of this format: made safe for a terminal,
    and for a Markdown table shown as itself (never a link, markup or an
    extra cell: :func:`lldecode.output.markdown.cell`)."""
    if tablefmt not in MARKDOWN_TABLE_FORMATS:
        return cell
    return lambda value: markdown_cell(cell(value))


def column_renderer(tablefmt: str) -> Callable[[Sequence[Any]], List[str]]:
    """How a column of values becomes cells of this format (as
    :func:`cell_renderer` makes each, by calls that go over the column)."""
    if tablefmt not in MARKDOWN_TABLE_FORMATS:
        return safe_column
    return lambda values: list(map(markdown_cell, safe_column(values)))


def footer_gap(tablefmt: str) -> str:
    """What separates a table from a line written under it: a blank line
    after a Markdown table (a line right under one is one more row)."""
    return "\n" if tablefmt in MARKDOWN_TABLE_FORMATS else ""


def _min_padding(tablefmt: str) -> int:
    """What tabulate adds to a header's width for its column's minimum."""
    return 0 if tablefmt == "pretty" else 2


def _tabulate_defaults() -> bool:
    """Are tabulate's module settings (if someone imported it and changed
    them) those the layouts here assume?"""
    module = sys.modules.get("tabulate")
    return module is None or (not getattr(module, "PRESERVE_WHITESPACE", False)
                              and getattr(module, "MIN_PADDING", 2) == 2)


def _wide_chars() -> Optional[Callable[[str], int]]:
    """How tabulate measures text when it uses wcwidth (installed, and not
    turned off): wcwidth's width function; None when it uses len (without
    importing tabulate when wcwidth is not installed)."""
    module: Any = sys.modules.get("tabulate")
    if module is None:
        from importlib.util import find_spec

        if find_spec("wcwidth") is None:
            return None  # (tabulate's WIDE_CHARS_MODE: wcwidth is importable)
        import tabulate  # type: ignore[import-untyped, unused-ignore]

        module = tabulate

    wcwidth = getattr(module, "wcwidth", None)
    if wcwidth is None or not getattr(module, "WIDE_CHARS_MODE", False):
        return None
    width: Callable[[str], int] = wcwidth.wcswidth
    return width


def _layout(tablefmt: str, heads: List[str], spool: _ColumnSpool,
            batch: int) -> Optional[_TableLayout]:
    """The layout of this table's rows, or None when tabulate must draw it."""
    if not heads or not spool.plain or not _tabulate_defaults():
        return None
    if not all(h.isprintable() for h in heads):
        return None
    if (spool.unicode or not all(h.isascii() for h in heads)) and _wide_chars() is not None:
        return None
    widths = _widths(tablefmt, heads, spool)
    known = _KNOWN.get(tablefmt)
    if known is not None:
        rule, between = known
        head = [between.join(h.ljust(w) for h, w in zip(heads, widths)).rstrip()]
        if rule is not None:
            head.append(between.join(rule * w for w in widths).rstrip())
        around = [""] + [between] * (len(widths) - 1) + [""]
        return _TableLayout(head, around, [], [], widths, strip=True)
    if len(spool) <= batch:
        return None  # tabulate draws it at once

    def draw(body: List[List[str]]) -> str:
        return tabulate(body, headers=heads, tablefmt=tablefmt, disable_numparse=True)

    return _TableLayout.probe(draw, widths)


def _widths(tablefmt: str, heads: List[str], spool: _ColumnSpool) -> List[int]:
    """The columns' widths as tabulate sets them: the widest cell (stripped),
    or the header plus the format's minimum padding."""
    pad = _min_padding(tablefmt)
    wide = _wide_chars() if spool.unicode or not spool.plain else None
    if spool.plain and wide is None:
        measured = spool.widths
    else:  # (cells that are not plain are measured as if they were)
        measured = spool.measure(wide or len)
    return [max(w, len(h) + pad) for w, h in zip(measured, heads)] + measured[len(heads):]


class _ColumnSpool:
    """The cells of a table, kept column by column in chunks of CHUNK rows,
    in memory up to ``limit`` rows, then in a temporary file (a marshalled
    chunk per load).

    A chunk's values are made cells (``render_column`` for each column, or
    ``render`` for each value of a row not as long as the header) and
    measured as it is sealed: while every cell is plain
    (printable text, one line, every row as long as the header), they are
    kept stripped, as tabulate aligns them, and ``widths`` holds the longest
    of each column; ``unicode`` says whether a cell is not ASCII (its width
    may then be wcwidth's).  A chunk with a cell that is not plain keeps its
    rows as they came, for tabulate.
    """

    def __init__(self, columns: int, limit: int, render: Callable[[Any], str],
                 render_column: Callable[[Sequence[Any]], List[str]]):
        self.columns, self.limit = columns, limit
        self.render, self.render_column = render, render_column
        self.widths = [0] * columns
        self.plain, self.unicode = True, False
        # sealed chunks: (True, columns) or (False, rows)
        self.sealed: List[Any] = []
        self.file: Optional[BinaryIO] = None
        self.count = 0

    def seal(self, rows: List[List[Any]]) -> None:
        """Make cells of these rows of values, measure and keep them as a chunk."""
        self.count += len(rows)
        chunk: Any = None
        if self.columns and len(set(map(len, rows))) == 1 and len(rows[0]) == self.columns:
            cells = [self.render_column(column) for column in zip(*rows)]
            if self.plain:
                columns = [list(map(str.strip, column)) for column in cells]
                widths = self.widths
                for i, column in enumerate(columns):
                    text = "".join(column)
                    if not text.isprintable():
                        break
                    if not text.isascii():
                        self.unicode = True
                    longest = max(map(len, column))
                    if longest > widths[i]:
                        widths[i] = longest
                else:
                    chunk = (True, columns)
            if chunk is None:
                chunk = (False, [list(map(str, row)) for row in zip(*cells)])
        else:
            render = self.render
            chunk = (False, [[str(render(value)) for value in row] for row in rows])
        if not chunk[0]:
            self.plain = False
        self.sealed.append(chunk)
        if self.file is not None or self.count > self.limit:
            self._spill()

    def _spill(self) -> None:
        if self.file is None:
            import tempfile

            self.file = tempfile.TemporaryFile()
        for chunk in self.sealed:
            write_framed(chunk, self.file)
        self.sealed = []

    def __len__(self) -> int:
        return self.count

    def _chunks(self) -> Iterator[Any]:
        if self.file is None:
            yield from self.sealed
            return
        self.file.seek(0)
        yield from read_framed(self.file)

    def chunks(self) -> Iterator[Columns]:
        """The chunks as columns (every chunk is plain)."""
        for _, columns in self._chunks():
            yield columns

    def rows(self) -> Iterator[List[str]]:
        """Every row, as it was kept."""
        for columnar, cells in self._chunks():
            if columnar:
                yield from map(list, zip(*cells))
            else:
                yield from cells

    def measure(self, width: Callable[[str], int]) -> List[int]:
        """The widest (stripped) cell of each column, by ``width``."""
        widths = [0] * self.columns
        for row in self.rows():
            for i, text in enumerate(row):
                size = width(text.strip())
                if i >= len(widths):
                    widths.append(size)
                elif size > widths[i]:
                    widths[i] = size
        return widths

    def close(self) -> None:
        """Remove the temporary file, if any."""
        if self.file is not None:
            self.file.close()
            self.file = None


class _TableLayout:
    """How a table format lays out rows: the header lines, the text around
    and between cells, the lines after each row and after the last one, and
    whether each row's line is right-stripped (learnt from a probe table, or
    known: :data:`_KNOWN`)."""

    def __init__(self, head: List[str], around: List[str], after_row: List[str],
                 last_after: List[str], widths: List[int], strip: bool):
        self.head, self.around, self.after_row = head, around, after_row
        self.last_after, self.widths, self.strip = last_after, widths, strip
        # around[0] cell0 around[1] cell1 ... as one format (cells left-aligned,
        # padded to the column width, as str.ljust pads them); the last cell
        # needs no padding when only blanks follow it and the line is stripped
        pieces = [_literal(around[0])]
        last = len(widths) - 1
        for i, width in enumerate(widths):
            bare = not width or (i == last and strip and not around[i + 1].strip())
            pieces.append(f"{{{i}}}" if bare else f"{{{i}:<{width}}}")
            pieces.append(_literal(around[i + 1]))
        self._format = "".join(pieces).format

    def line(self, cells: List[str]) -> str:
        """One row's line."""
        text = self._format(*cells)
        return text.rstrip() if self.strip else text

    def text(self, chunks: Iterable[Columns]) -> Iterator[str]:
        """The table of these chunks of rows, in pieces of text."""
        between = "\n" + "".join(line + "\n" for line in self.after_row)
        yield "".join(line + "\n" for line in self.head)
        rows = False
        for columns in chunks:
            lines = map(self._format, *columns)
            if self.strip:
                lines = map(str.rstrip, lines)
            yield (between if rows else "") + between.join(lines)
            rows = True
        yield ("\n" if rows else "") + "".join(line + "\n" for line in self.last_after)

    def lines(self, rows: Iterable[List[str]]) -> Iterator[str]:
        """Every line of the table of these rows."""
        chunk = [list(column) for column in zip(*rows)]
        return iter("".join(self.text([chunk] if chunk else [])).split("\n")[:-1])

    def write(self, out: TextIO, chunks: Iterable[Columns]) -> None:
        """The table of these chunks of rows."""
        for piece in self.text(chunks):
            if piece:
                out.write(piece)

    @classmethod
    def probe(cls, draw: Draw, widths: List[int]) -> Optional[_TableLayout]:
        """The layout of ``draw``'s format for these column widths, or None
        when it cannot redraw the probe exactly."""
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        full = [letters[i % len(letters)] * w for i, w in enumerate(widths)]
        short = [letters[(i + 1) % len(letters)] for i in range(len(widths))]
        # cells holding what some formats escape (html, latex...) or treat
        # apart (rst: an empty first cell): kept verbatim?
        specials = [[_SPECIALS[(i + k) % len(_SPECIALS)] for i in range(len(widths))]
                    for k in range(len(_SPECIALS))]
        probe = [full, short] + specials + [[""] * len(widths), ["a b"] * len(widths), full]
        expected = draw(probe).split("\n")
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
        last_at = row_at + (len(probe) - 1) * per_row
        for strip in (False, True):
            layout = cls(expected[:row_at], around, after_row, expected[last_at + 1:],
                         widths, strip)
            if list(layout.lines(probe)) == expected:
                return layout
        return None


# Characters some formats escape (html, latex...): each probe column holds
# each of them once.
_SPECIALS = "<>&\"'%_$#\\{}~^|*`"


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
    import csv

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
