"""Markdown (GitHub Flavored) that shows log values as they are.

A table cell holding what the log said (a path, a comm, an exe: bytes the
sandboxed, possibly hostile, process chose) must not become Markdown: a
``|`` would split the cell, ``[click](https://evil.example)`` would be a
link, ``<b>`` HTML, ``*x*`` emphasis, ``www.evil.example`` or
``user@evil.example`` an autolink (GitHub's autolink extension links them
even when their punctuation is backslash-escaped).

:func:`cell` therefore writes a value that is plain text (letters, digits
and a few harmless characters, nothing that can start a link) as itself,
and anything else as a code span: inside one, Markdown is not interpreted
(no emphasis, link, autolink or HTML), only the table's ``\\|`` is, which
stands for ``|``.  The text given is already made safe for a terminal
(:func:`lldecode.output.text.safe`: control characters, newlines and
invisible characters escaped), so the cell is one line.

tests/output/test_markdown.py renders tables of hostile values with
cmark-gfm (GitHub's renderer) and checks that each value is one cell, shown
exactly, with no link, no markup and no extra row.
"""

from __future__ import annotations

import re

__all__ = ["MARKDOWN_TABLE_FORMATS", "cell", "code_span", "escape_inline"]

# tabulate formats that write Markdown tables (a footer needs a blank line
# after them: a line right under a table is read as one more row).
MARKDOWN_TABLE_FORMATS = frozenset({"github", "pipe"})

# Text that is shown as itself: nothing here can start markup, except an
# underscore at the edge of a word (emphasis) and what autolinks look for.
_PLAIN = re.compile(r"[A-Za-z0-9 .,:;/+=()#%'_-]*")
_AUTOLINK = re.compile(r"www\.|://|mailto:|xmpp:", re.IGNORECASE)
_EDGE_UNDERSCORE = re.compile(r"(?:^|[^A-Za-z0-9])_|_(?:$|[^A-Za-z0-9])")
_BACKTICKS = re.compile(r"`+")


def _plain(text: str) -> bool:
    return (_PLAIN.fullmatch(text) is not None and not _AUTOLINK.search(text)
            and not _EDGE_UNDERSCORE.search(text))


def code_span(text: str, in_table: bool = True) -> str:
    """``text`` as a Markdown code span, shown exactly (a fence longer than
    any run of backticks inside; in a table, ``|`` as ``\\|``)."""
    runs = [len(m) for m in _BACKTICKS.findall(text)]
    fence = "`" * (max(runs) + 1 if runs else 1)
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    body = text.replace("|", "\\|") if in_table else text
    return f"{fence}{pad}{body}{pad}{fence}"


def cell(text: str) -> str:
    """A table cell showing ``text`` (terminal-safe text) exactly."""
    if text == "" or _plain(text):
        return text
    return code_span(text)


def escape_inline(text: str) -> str:
    """``text`` for running Markdown text (a sentence, a heading): shown as
    itself when plain, else as a code span (see :func:`cell`)."""
    if text == "" or _plain(text):
        return text
    return code_span(text, in_table=False)
