"""What every reading command shares: inputs, diagnostics, exit codes.

Exit status follows grep: 0 when something was selected, 1 when nothing
was, 2 on an error (an unreadable input, or a malformed Landlock record
with --strict).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable

import click

EXIT_MATCH, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2


def files_argument(func: Callable) -> Callable:
    return click.argument("files", nargs=-1, metavar="[FILE]...")(func)


def strict_option(func: Callable) -> Callable:
    return click.option(
        "--strict", is_flag=True,
        help="Exit with status 2 if a line that looks like a Landlock record does not parse.",
    )(func)


def guarded(func: Callable) -> Callable:
    """Run a command without ever showing a traceback.

    A closed pipe (``lldecode explain log | head -1``) ends quietly; any
    other failure is one line on stderr and exit status 2.  Set
    LLDECODE_DEBUG=1 to see the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_ERROR if False else 0)
        except KeyboardInterrupt:
            _silence_stdout()
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - the promise is: no traceback
            if os.environ.get("LLDECODE_DEBUG"):
                raise
            click.echo(f"lldecode: internal error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def exit_status(selected: bool, diagnostics, strict: bool) -> int:
    if diagnostics.errors or (strict and diagnostics.malformed):
        return EXIT_ERROR
    return EXIT_MATCH if selected else EXIT_NO_MATCH
