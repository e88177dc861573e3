"""Markdown tables (--tablefmt github) rendered by cmark-gfm, the renderer
GitHub uses for job summaries and comments: every value from the log is one
cell, shown exactly as the terminal output shows it, never a link, markup,
HTML or an extra cell or row; the footer under a table is not a row.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import List

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from lldecode.cli.app import cli
from lldecode.output.markdown import cell, code_span
from lldecode.output.tables import write_table
from lldecode.output.text import safe
from tests.conftest import FIXTURES
from tests.output.hostile_logs import HOSTILE_PATHS, hostile_paths_log

cmarkgfm = pytest.importorskip("cmarkgfm")
lxml_html = pytest.importorskip("lxml.html")

# What a rendered table may hold: the table itself and code spans.
ALLOWED_TAGS = {"div", "table", "thead", "tbody", "tr", "th", "td", "code", "p"}


def render(markdown: str):
    """The HTML cmark-gfm makes of ``markdown`` (raw HTML kept, so that any
    that got through shows), as an element tree."""
    from cmarkgfm.cmark import Options

    out = cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    return lxml_html.fromstring(f"<div>{out}</div>")


def table_cells(markdown: str, allowed=ALLOWED_TAGS) -> List[List[str]]:
    """The body cells of the one table in ``markdown`` (their text)."""
    doc = render(markdown)
    tags = {el.tag for el in doc.iter() if isinstance(el.tag, str)}
    assert tags <= allowed, tags - allowed
    tables = doc.findall(".//table")
    assert len(tables) == 1
    width = len(tables[0].findall("thead/tr/th"))
    rows = [[td.text_content() for td in tr.findall("td")]
            for tr in tables[0].findall("tbody/tr")]
    assert all(len(r) == width for r in rows), rows
    return rows


def _run(args: List[str], path: Path) -> str:
    extra = ["-j", "1"] if args[0] in ("summarize", "domains") else []
    result = CliRunner().invoke(cli, [*args, *extra, str(path)], env={"NO_COLOR": "1"})
    assert result.exit_code == 0, (args, result.stderr_bytes[-300:])
    return result.stdout


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("markdown") / "paths.log"
    path.write_bytes(hostile_paths_log())
    return path


def _path_shown(path: bytes) -> str:
    return safe(path) + " (on vda, inode 2146930)"


def test_filter_table(log):
    rows = table_cells(_run(["filter", "-f", "table", "--tablefmt", "github"], log))
    assert [r[3] for r in rows] == [_path_shown(p) for p in HOSTILE_PATHS]
    # the hostile comm of the first event, as itself in its cell
    assert rows[0][5] == safe(b"c|[x](https://e.example)\n::error::")


@pytest.mark.parametrize("by", ["path", "exe,path", "domain,path"])
def test_summary_table_and_footer(log, by):
    text = _run(["summarize", "--by", by, "--tablefmt", "github"], log)
    rows = table_cells(text)
    column = by.split(",").index("path")
    assert sorted(r[column] for r in rows) == sorted(safe(p) for p in HOSTILE_PATHS)
    # the footer is a paragraph of its own, after a blank line
    doc = render(text)
    footer = doc.findall("p")
    n = len(HOSTILE_PATHS)
    assert [p.text_content() for p in footer] == [f"{n} denials in {n} groups"]
    assert text.endswith(f"\n\n{n} denials in {n} groups\n")


def test_top_footer_counts_every_group():
    text = _run(["summarize", "--by", "blocker", "--top", "2"], FIXTURES / "auditd-raw.log")
    assert text.endswith("\n56 denials in 21 groups (2 shown)\n")
    text = _run(["summarize", "--by", "blocker", "--top", "2", "--tablefmt", "github"],
                FIXTURES / "auditd-raw.log")
    assert len(table_cells(text)) == 2
    assert text.endswith("|\n\n56 denials in 21 groups (2 shown)\n")
    text = _run(["summarize", "--by", "blocker", "--top", "30"], FIXTURES / "auditd-raw.log")
    assert text.endswith("\n56 denials in 21 groups\n")


def test_footer_singular(tmp_path):
    log = tmp_path / "one.log"
    log.write_bytes(hostile_paths_log().split(b"\n", 5)[0] + b"\n"
                    + b"\n".join(hostile_paths_log().split(b"\n")[1:3]) + b"\n")
    assert _run(["summarize"], log).endswith("\n1 denial in 1 group\n")


def test_domains_table(log):
    # (the notes under the table are a list of the causes of missing denials)
    rows = table_cells(_run(["domains", "--tablefmt", "github"], log),
                       ALLOWED_TAGS | {"ul", "li"})
    assert len(rows) == 1


# -- the cell rule, for any text -------------------------------------------------------

def _one_cell(text: str) -> str:
    out = _Out()
    write_table(out, ["H"], [[text]], "github")
    rows = table_cells(out.text)
    assert len(rows) == 1
    return rows[0][0]


class _Out:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text


MARKDOWN_CHARS = st.sampled_from(list("\\`*_[]()<>|~!&#:;@.,/-+= 'x\"{}$%^?") + [
    "www.", "http://", "mailto:", "a@b.c", "&amp;", "&#64;", "é", "\\|", "``"])


@given(st.lists(MARKDOWN_CHARS, max_size=12).map("".join))
def test_any_cell_shows_exactly(text):
    shown = safe(text)
    assert _one_cell(shown) == (shown.strip() if cell(shown) == shown else shown)


def test_cell_examples():
    assert cell("fs.read_file") == "fs.read_file"
    assert cell("/usr/bin/python3.11") == "/usr/bin/python3.11"
    assert cell("_x_") == "`_x_`"
    assert cell("a|b") == "`a\\|b`"
    assert cell("a`b") == "``a`b``"
    assert cell("`") == "`` ` ``"
    assert code_span("x") == "`x`"
    for hostile in ("[click here](https:evil.example)", "www.evil.example", "a@b.example",
                    "<b>x</b>", "*x*", "~~x~~", "&lt;", "![i](x)"):
        assert _one_cell(hostile) == hostile
        assert html.escape(hostile, quote=False) in cmarkgfm.github_flavored_markdown_to_html(
            f"| H |\n|---|\n| {cell(hostile)} |")
