"""write_table draws, without calling tabulate per row (and, for the default
format, without importing it), the bytes tabulate draws for the whole table
at once: for every format tabulate offers, on random hostile cells (control
characters, escapes, wide and combining characters, spaces at the edges,
empty cells, numbers, None, bytes), small tables drawn in memory and large
ones spooled in chunks.  safe_column is safe() over a column.
"""

from __future__ import annotations

import contextlib
import io
import random
import subprocess
import sys
import unicodedata
from types import SimpleNamespace
from typing import Any, Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lldecode.output import tables
from lldecode.output.tables import cell_renderer, write_table
from lldecode.output.text import Safe, safe, safe_column
from tests.conftest import FIXTURES, ROOT

tabulate_module = pytest.importorskip("tabulate")
FORMATS = list(tabulate_module.tabulate_formats)

# Characters that matter to a table or to its escaping: blanks at a cell's
# edge (tabulate strips them), wide, combining and invisible characters,
# controls, what Markdown, HTML, LaTeX and str.format treat apart.
ALPHABET = ("ab Z09 \u00e9\u6f22\uff21\u0301\u200b\u00a0\u3000\t\n\r\x1b\x01\x7f\x85"
            "|`<>&\"'%_$#\\{}~^*-:=+.")
TEXT = st.text(alphabet=ALPHABET, max_size=8)
# ("safe", text) stands for text made safe, as Safe: made in the test
# (hypothesis keeps its values by their class, which a str subclass upsets)
VALUE = st.one_of(TEXT, st.tuples(st.just("safe"), TEXT), st.integers(-10 ** 6, 10 ** 12),
                  st.none(), st.binary(max_size=6), st.booleans(),
                  st.sampled_from(["True", "", " ", "-"]), st.floats(allow_nan=True))
HEADER = st.text(alphabet="ABC XYZ_", min_size=1, max_size=6)


@st.composite
def tables_of(draw: Any, max_rows: int = 12) -> Any:
    columns = draw(st.integers(1, 4))
    headers = draw(st.lists(HEADER, min_size=columns, max_size=columns))
    rows = draw(st.lists(st.lists(VALUE, min_size=columns, max_size=columns),
                         max_size=max_rows))
    return headers, rows


def values(drawn_values: List[Any]) -> List[Any]:
    """The drawn values, ("safe", text) as Safe(safe(text)) (a Safe string
    is terminal-safe text, one line, by definition)."""
    return [Safe(safe(v[1])) if isinstance(v, tuple) else v for v in drawn_values]


def table_values(table: Any) -> Any:
    headers, rows = table
    return headers, [values(row) for row in rows]


def reference(headers: List[str], rows: List[List[Any]], fmt: str) -> str:
    """What tabulate draws of the whole table at once."""
    render = cell_renderer(fmt)
    return tabulate_module.tabulate([[render(v) for v in row] for row in rows],
                                    headers=[render(h) for h in headers], tablefmt=fmt,
                                    disable_numparse=True) + "\n"


def drawn(headers: List[str], rows: List[List[Any]], fmt: str, batch: int,
          keep: int = tables.KEEP_ROWS) -> str:
    out = io.StringIO()
    write_table(out, headers, iter(rows), fmt, batch=batch, keep=keep)
    return out.getvalue()


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_of(), batch=st.sampled_from([1, 2, 5, 2000]),
       chunk=st.sampled_from([1, 3, 1024]), keep=st.sampled_from([1, 4, 8192]))
def test_every_format_is_tabulates_table(fmt, table, batch, chunk, keep):
    """Every format, small tables (drawn at once) and large ones (in chunks,
    kept in memory or spooled to a file, laid out from a probe or drawn in
    batches)."""
    headers, rows = table_values(table)
    with chunks_of(chunk):
        assert drawn(headers, rows, fmt, batch, keep) == reference(headers, rows, fmt)


@pytest.mark.parametrize("fmt", ["simple", "plain", "github", "grid"])
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables_of(max_rows=30), batch=st.sampled_from([1, 4, 2000]),
       chunk=st.sampled_from([1, 2, 7, 1024]), keep=st.sampled_from([1, 5, 8192]))
def test_common_formats_are_tabulates_table(fmt, table, batch, chunk, keep):
    """The default format and the common ones, harder."""
    headers, rows = table_values(table)
    with chunks_of(chunk):
        assert drawn(headers, rows, fmt, batch, keep) == reference(headers, rows, fmt)


@contextlib.contextmanager
def chunks_of(rows: int) -> Iterator[None]:
    """Spooled chunks of this many rows (the default: 1024)."""
    kept = tables.CHUNK
    tables.CHUNK = rows
    try:
        yield
    finally:
        tables.CHUNK = kept


@pytest.mark.parametrize("fmt", ["simple", "github", "grid", "rst", "html", "pretty"])
def test_large_tables_spooled_to_a_file(fmt):
    """Thousands of rows, spooled to a temporary file and drawn by chunks
    (or in batches, for the formats a probe cannot learn)."""
    rng = random.Random(11)
    words = ["", " x", "y ", "abc", "d\u00e9j\u00e0", "<&>", "a|b", "`q`", "\\", "1.5"]
    rows = [[rng.choice(words) + rng.choice(words), rng.randint(0, 10 ** rng.randint(0, 9)),
             None if rng.random() < 0.2 else rng.randint(0, 5), rng.choice(words)]
            for _ in range(5000)]
    headers = ["DOMAIN", "COUNT", "REPORTED", "PATH"]
    assert drawn(headers, rows, fmt, 2000, keep=1500) == reference(headers, rows, fmt)


def test_no_rows():
    for fmt in FORMATS:
        assert drawn(["A", "BB"], [], fmt, 2000) == reference(["A", "BB"], [], fmt), fmt


@pytest.mark.parametrize("fmt", ["simple", "plain", "grid"])
def test_wide_characters_measured_as_tabulate_does(fmt, monkeypatch):
    """With wcwidth (not installed here, so a stand-in that counts East
    Asian wide characters twice), tabulate pads by display width: a table
    with wide characters follows it, spooled or not."""
    def wcswidth(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    monkeypatch.setattr(tabulate_module, "wcwidth", SimpleNamespace(wcswidth=wcswidth))
    monkeypatch.setattr(tabulate_module, "WIDE_CHARS_MODE", True)
    rows = [["\u6f22\u5b57", "ab"], ["x", "\uff21\uff22\uff23"], [" \u6f22", ""]] * 3
    for batch, keep in ((2000, 8192), (2, 8192), (2, 3)):
        assert drawn(["K", "V"], rows, fmt, batch, keep) == reference(["K", "V"], rows, fmt)


def test_changed_tabulate_settings_are_followed(monkeypatch):
    """A program that uses lldecode's API and changed tabulate's module
    settings gets tabulate's table."""
    rows = [[" a ", "b"], ["c", " "]]
    monkeypatch.setattr(tabulate_module, "MIN_PADDING", 0)
    assert drawn(["A", "B"], rows, "simple", 2000) == reference(["A", "B"], rows, "simple")


@settings(max_examples=300)
@given(st.lists(VALUE, max_size=20) | st.lists(st.integers(), max_size=5)
       | st.lists(st.one_of(st.integers(), st.none()), max_size=5)
       | st.lists(st.tuples(st.just("safe"), TEXT), max_size=5)
       | st.lists(st.text(max_size=5), max_size=5))
def test_safe_column_is_safe_of_each(drawn_values):
    column = values(drawn_values)
    expected = [safe(v) for v in column]
    assert safe_column(column) == expected
    assert safe_column(tuple(column)) == expected
    # Safe where safe() says Safe: a cell made safe is not escaped again
    assert [type(c) for c in safe_column(column)] == [type(c) for c in expected]


def test_default_table_imports_no_tabulate():
    """summarize and domains with the default table format, on a kernel log,
    never import tabulate (about 20 to 40 ms of start-up); another format
    does."""
    log = str(FIXTURES / "auditd-raw.log")
    script = ("import sys, runpy\n"
              "sys.argv = ['lldecode'] + sys.argv[1:]\n"
              "try:\n"
              "    runpy.run_module('lldecode', run_name='__main__')\n"
              "except SystemExit:\n"
              "    pass\n"
              "sys.stderr.write('MODULES ' + repr('tabulate' in sys.modules) + '\\n')\n")
    for args, imported in ((["summarize", log], False), (["domains", "-j1", log], False),
                           (["summarize", "--by", "blocker", log], False),
                           (["summarize", "--tablefmt", "grid", log], True)):
        done = subprocess.run([sys.executable, "-c", script] + args, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert f"MODULES {imported}" in done.stderr, (args, done.stderr)
        assert "COUNT" in done.stdout or "DOMAIN" in done.stdout


# -- the commands' tables on real kernel logs, against tabulate's --------------------

KERNEL_LOGS = ["auditd-raw.log", "auditd-enriched.log", "auditd-node.log", "ausearch-i.txt",
               "dmesg.txt", "journal-short.txt", "samples/kernel-6.18-raw-audit.log"]
TABLE_COMMANDS = [["summarize"], ["summarize", "--by", "blocker,exe,path"],
                  ["summarize", "--by", "syscall", "--top", "2"], ["domains"],
                  ["filter", "-f", "table"]]


@pytest.mark.parametrize("fmt", ["simple", "plain", "github", "grid", "rst"])
def test_command_tables_are_tabulates(fmt, monkeypatch):
    """summarize, domains and filter's tables of real kernel logs: the same
    bytes as tabulate drawing each table at once (the reference path: no
    layout, no batches)."""
    from click.testing import CliRunner

    from lldecode.cli.app import cli

    def run(args: List[str]) -> str:
        result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1", "TZ": "UTC"})
        assert result.exit_code in (0, 1), (args, result.output)
        return result.output

    compared = 0
    for name in KERNEL_LOGS:
        path = FIXTURES / name
        if not path.exists():
            continue
        for command in TABLE_COMMANDS:
            args = command + ["--tablefmt", fmt, "-j1", str(path)]
            with monkeypatch.context() as patch:  # tabulate draws every table at once
                patch.setattr(tables, "_layout", lambda *args: None)
                patch.setattr(tables, "TABLE_BATCH", 10 ** 9)
                patch.setattr(tables.write_table, "__defaults__", ("simple", 10 ** 9, 10 ** 9))
                expected = run(args)
            with chunks_of(3):  # small chunks, a spool file, a probe
                patch_keep = tables.write_table.__defaults__
                tables.write_table.__defaults__ = ("simple", 2, 5)
                try:
                    got = run(args)
                finally:
                    tables.write_table.__defaults__ = patch_keep
            assert got == expected, (name, command)
            assert got == run(args)  # and with the usual sizes
            compared += 1
    assert compared >= 20


def test_wide_text_without_wcwidth_imports_no_tabulate():
    """A default table with text that is not ASCII: measured by length,
    as tabulate does without wcwidth, which is looked for without importing
    tabulate (with wcwidth installed, tabulate draws it)."""
    import importlib.util

    rows = [["d\u00e9j\u00e0 vu", "\u6f22\u5b57"], [" \u00e9 ", "x"]]
    script = ("import io, sys\n"
              "from lldecode.output.tables import write_table\n"
              "out = io.StringIO()\n"
              f"write_table(out, ['A', 'B'], {rows!r})\n"
              "sys.stdout.write(out.getvalue())\n"
              "sys.stderr.write('MODULES ' + repr('tabulate' in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          timeout=60, env={"PYTHONIOENCODING": "utf-8", "PATH": ""})
    wcwidth = importlib.util.find_spec("wcwidth") is not None
    assert done.stderr.decode().endswith(f"MODULES {wcwidth}"), done.stderr
    assert done.stdout.decode("utf-8") == reference(["A", "B"], rows, "simple")
