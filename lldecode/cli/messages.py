"""How every command speaks on stderr: a usage error (exit status 2) and the
reading commands' diagnostics, terminal-safe."""

from __future__ import annotations

import sys
from typing import NoReturn, Optional

import click

EXIT_ERROR = 2


def fail(message: str, pointer: Optional[str] = None) -> NoReturn:
    """A usage error: one line on stderr (and a caret pointer), exit status 2."""
    click.echo(f"lldecode: {message}" + (f"\n{pointer}" if pointer else ""), err=True)
    sys.exit(EXIT_ERROR)


def stderr_sink(message: str) -> None:
    """Where the reading commands' diagnostics go: stderr, terminal-safe."""
    from lldecode.output.escape import escape_text

    sys.stderr.write(escape_text(message) + "\n")
