"""A pager for long text on a terminal (``lldecode explain``), as git does.

Standard output goes through ``$PAGER`` (run by the shell; ``less -FRX`` when
it is unset: ``-F`` quits at once when the text fits the screen, ``-R`` shows
the colours, ``-X`` leaves the text on the screen) only when standard output
is a terminal; ``--no-pager``, ``PAGER=`` (empty) or ``PAGER=cat`` write
straight to it.  Quitting the pager early ends the command quietly (a
closed pipe, see :func:`lldecode.cli.common.guarded`), and the command
waits for the pager before it exits, so that the shell's prompt comes
after it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import subprocess
import sys
from typing import Iterator, List, Mapping, Optional, TextIO

DEFAULT = ["less", "-FRX"]


def pager_command(environ: Optional[Mapping[str, str]] = None) -> Optional[List[str]]:
    """The pager to run (None: none)."""
    pager = (os.environ if environ is None else environ).get("PAGER")
    if pager is None:
        return DEFAULT if shutil.which(DEFAULT[0]) else None
    pager = pager.strip()
    if not pager or pager == "cat":
        return None
    # A pager that is not installed would swallow the text (the shell says
    # "not found" and the text goes nowhere): then none.
    try:
        words = shlex.split(pager)
    except ValueError:
        words = []
    first = next((w for w in words if "=" not in w), None)  # after VAR=value words
    if first is not None and shutil.which(first) is None:
        return None
    return ["/bin/sh", "-c", pager]


def wanted(no_pager: bool, stream: Optional[TextIO] = None) -> bool:
    stream = sys.stdout if stream is None else stream
    return not no_pager and hasattr(stream, "isatty") and stream.isatty()


@contextlib.contextmanager
def paged(out: TextIO, enabled: bool) -> Iterator[TextIO]:
    """``out``, or a stream into the pager when ``enabled`` and one can start."""
    command = pager_command() if enabled else None
    if command is None:
        yield out
        return
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # (git's default; less reads it as options)
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)
    except OSError:
        yield out
        return
    assert process.stdin is not None
    stream = io.TextIOWrapper(process.stdin, encoding="utf-8", errors="backslashreplace",
                              line_buffering=False)
    try:
        yield stream
    finally:
        try:
            stream.close()
        except (BrokenPipeError, OSError):  # the pager was quit early
            pass
        while True:
            try:
                process.wait()
                break
            except KeyboardInterrupt:  # Ctrl-C is the pager's to handle
                continue
