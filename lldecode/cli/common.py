"""What every reading command shares: inputs, selection, output options,
diagnostics and exit codes.

Exit status follows grep: 0 when something was selected, 1 when nothing
was, 2 on an error (an unreadable input, a bad option, or a malformed
Landlock record with --strict).
"""

from __future__ import annotations

import functools
import os
import sys
from typing import Callable, List, Optional

import click

EXIT_MATCH, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2


def _options(*decorators: Callable) -> Callable:
    def apply(func: Callable) -> Callable:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


selection_options = _options(
    click.option("--domain", "domains", multiple=True, metavar="ID",
                 help="Only denials of this domain (hex id as logged). Repeatable."),
    click.option("--blocker", "blockers", multiple=True, metavar="NAME",
                 help="Only denials with a blocker matching this glob (fs.ioctl_*, net.*; "
                      "the legacy fs_ioctl_dev spelling works). Repeatable."),
    click.option("--exe", "exes", multiple=True, metavar="GLOB",
                 help="Only denials of processes whose executable (path or basename) "
                      "matches. Repeatable."),
    click.option("--comm", "comms", multiple=True, metavar="GLOB",
                 help="Only denials of processes whose comm matches. Repeatable."),
    click.option("--pid", "pids", multiple=True, type=int, metavar="PID",
                 help="Only denials of this process. Repeatable."),
    click.option("--uid", "uids", multiple=True, type=int, metavar="UID",
                 help="Only denials of processes of this user id. Repeatable."),
    click.option("--path", "paths", multiple=True, metavar="GLOB|PREFIX",
                 help="Only denials on a path matching this glob, or at or below this "
                      "prefix (decoded path). Repeatable."),
    click.option("--syscall", "syscalls", multiple=True, metavar="NAME|NR",
                 help="Only denials of this syscall (name or number). Repeatable."),
    click.option("--since", metavar="TIME",
                 help="Only denials at or after TIME: epoch seconds, ISO 8601, HH:MM, "
                      "10m, 2h, 3d, today, yesterday."),
    click.option("--until", metavar="TIME", help="Only denials at or before TIME."),
    click.option("--where", metavar="EXPR",
                 help='A query, e.g. \'blocker ~ "fs.truncate" and not path ^= "/proc"\'.'),
)

input_options = _options(
    click.argument("files", nargs=-1, metavar="[FILE]..."),
    click.option("--strict", is_flag=True,
                 help="Exit with status 2 if a line that looks like a Landlock record does "
                      "not parse."),
    click.option("--netlink-idle", type=float, metavar="SECONDS", default=None,
                 help="With the netlink: input, stop after SECONDS without a record."),
    click.option("--progress/--no-progress", default=None,
                 help="Show a progress bar on stderr (default: when stderr is a terminal)."),
    click.option("-j", "--jobs", type=click.IntRange(1), default=None, metavar="N",
                 help="Processes reading large inputs in parallel, for the commands that "
                      "only aggregate (default: the number of CPUs; 1: one pass here)."),
)

color_option = click.option(
    "--color", type=click.Choice(["auto", "always", "never"]), default="auto",
    show_default=True, help="Colour the output (auto: on a terminal, unless NO_COLOR is set).")

tablefmt_option = click.option(
    "--tablefmt", default="simple", show_default=True, metavar="FORMAT",
    help="Table style for --format table: any tabulate format (github, plain, grid, ...).")

utc_option = click.option("--utc", is_flag=True, help="Show times in UTC, not local time.")


def format_option(choices: List[str], default: str) -> Callable:
    return click.option("-f", "--format", "fmt", type=click.Choice(choices),
                        default=default, show_default=True, help="Output format.")


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
            sys.exit(0)
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


def fail(message: str) -> None:
    """A usage error: one line on stderr, exit status 2."""
    click.echo(f"lldecode: {message}", err=True)
    sys.exit(EXIT_ERROR)


def build_selection(domains=(), blockers=(), exes=(), comms=(), pids=(), uids=(), paths=(),
                    syscalls=(), since=None, until=None, where=None):
    from lldecode.analysis.query import QueryError
    from lldecode.analysis.selection import Selection
    from lldecode.analysis.timespec import TimeSpecError, parse_time

    try:
        start = parse_time(since) if since else None
        end = parse_time(until) if until else None
    except TimeSpecError as exc:
        fail(f"--since/--until: {exc}")
    try:
        return Selection(domains=domains, blockers=blockers, exes=exes, comms=comms,
                         pids=pids, uids=uids, paths=paths, syscalls=syscalls,
                         since=start, until=end, where=where)
    except QueryError as exc:
        click.echo(f"lldecode: --where: {exc}\n{exc.pointer()}", err=True)
        sys.exit(EXIT_ERROR)
    except (TimeSpecError, ValueError) as exc:
        fail(f"--where: {exc}")


def _tune_gc() -> None:
    """A stream makes and drops several objects per line, none in cycles
    worth chasing often: collect the youngest generation every 50,000
    allocations rather than 700, and leave the modules loaded so far out of
    the collections (memory stays bounded; about 10% less time on a
    log of Landlock denials)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50000, 20, 100)


class Run:
    """One reading command's pass over its inputs."""

    def __init__(self, files, strict: bool, netlink_idle: Optional[float],
                 progress: Optional[bool], selection_kwargs: dict, context: bool = True,
                 keep_domains: bool = False, jobs: Optional[int] = None):
        """``context``: the command shows or groups by the denied process;
        without it (and a selection that needs it) only Landlock records
        are read, which is several times faster.  ``keep_domains``: the
        command reports on every domain at the end (finished ones are kept)."""
        from lldecode.analysis.domains import DomainRegistry
        from lldecode.analysis.pipeline import Reading
        from lldecode.audit.records import Diagnostics

        _tune_gc()
        self.strict = strict
        self.files = list(files)
        self.jobs = jobs
        self.selection_kwargs = selection_kwargs
        self.selection = build_selection(**selection_kwargs)
        self.context = context or self.selection.needs_process
        self.keep_domains = keep_domains
        self.diagnostics = Diagnostics()
        self.reading = Reading(files, self.diagnostics, netlink_idle=netlink_idle,
                               context=self.context,
                               registry=DomainRegistry(keep_finished=keep_domains))
        show = sys.stderr.isatty() if progress is None else progress
        self.reading.progress = show

    def tally(self, by=None, per_domain: bool = False):
        """Aggregate the selected denials (lldecode.analysis.tally), on several
        processes when the input is large enough (lldecode.analysis.parallel)."""
        from lldecode.analysis import parallel
        from lldecode.analysis.tally import Tally

        jobs = self.jobs if self.jobs is not None else parallel.default_jobs()
        parts = parallel.plan(self.files, jobs)
        if parts is not None:
            options = {"selection": self.selection_kwargs, "context": self.context,
                       "by": by, "per_domain": per_domain, "keep_domains": self.keep_domains}
            return parallel.tally(parts, options, jobs, self.diagnostics)
        result = Tally(by, per_domain, self.keep_domains)
        result.registry = self.reading.registry
        result.consume(self.reading, self.selection)
        return result

    def denials(self):
        """The selected denials, in log order."""
        select = self.selection
        denials = self.reading.denials()
        if select.empty:
            return denials
        return (d for d in denials if select(d))

    def events(self):
        """(event, selected denials) for events with a selected denial."""
        select = self.selection
        for event, denials in self.reading.events():
            chosen = [d for d in denials if select(d)] if not select.empty else denials
            if chosen:
                yield event, chosen

    def exit(self, selected: bool) -> None:
        diagnostics = self.diagnostics
        if diagnostics.errors or (self.strict and diagnostics.malformed):
            sys.exit(EXIT_ERROR)
        sys.exit(EXIT_MATCH if selected else EXIT_NO_MATCH)


def selection_kwargs(kwargs: dict) -> dict:
    """Pop the selection options out of a command's keyword arguments."""
    keys = ("domains", "blockers", "exes", "comms", "pids", "uids", "paths", "syscalls",
            "since", "until", "where")
    return {k: kwargs.pop(k) for k in keys}
