"""What every reading command shares: inputs, selection, output options,
diagnostics and exit codes.

Exit status: ``filter`` and ``explain`` follow grep: 0 when something was
selected, 1 when nothing was; ``summarize`` and ``domains`` write a report:
0 when it was written, even empty (with ``--fail-if-any``, 1 when it holds a
denial); all: 2 on an error (an unreadable input, a bad option, or a
malformed Landlock record with --strict).
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional, Sequence

import click

from lldecode.cli.completion import complete_blockers, complete_files
from lldecode.cli.messages import EXIT_ERROR, fail, stderr_sink  # noqa: F401 (used by commands)

EXIT_MATCH, EXIT_NO_MATCH = 0, 1


def _options(*decorators: Callable) -> Callable:
    def apply(func: Callable) -> Callable:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


selection_options = _options(
    click.option("--domain", "domains", multiple=True, metavar="ID",
                 help="Only denials of this domain: its id as logged, 1 to 16 hex digits, "
                      "0x optional (anything else is an error). Repeatable."),
    click.option("--blocker", "blockers", multiple=True, metavar="NAME",
                 shell_complete=complete_blockers,
                 help="Only denials with this blocker, or one matching this glob (fs.ioctl_*, "
                      "net.*). Any case; truncate, fs_truncate and LANDLOCK_ACCESS_FS_TRUNCATE "
                      "mean fs.truncate. A name or glob that no blocker has is an error. "
                      "Repeatable."),
    click.option("--exe", "exes", multiple=True, metavar="GLOB",
                 help="Only denials of processes whose executable (path or basename) "
                      "matches. Repeatable."),
    click.option("--comm", "comms", multiple=True, metavar="GLOB",
                 help="Only denials of processes whose comm matches. Repeatable."),
    click.option("--pid", "pids", multiple=True, type=int, metavar="PID",
                 help="Only denials of this process. Repeatable."),
    click.option("--uid", "uids", multiple=True, metavar="USER|UID",
                 help="Only denials of processes of this user, by name or number, resolved "
                      "with this host's user database: --uid 0 and --uid root both match "
                      "uid=0 and ausearch -i's uid=root. An unknown name is an error. "
                      "Repeatable."),
    click.option("--path", "paths", multiple=True, metavar="GLOB|PREFIX",
                 help="Only denials on a path matching this glob, or at or below this "
                      "prefix (decoded path). Repeatable."),
    click.option("--syscall", "syscalls", multiple=True, metavar="NAME|NR",
                 help="Only denials of this syscall (name or number). Repeatable."),
    click.option("--since", metavar="TIME",
                 help="Only denials at or after TIME: epoch seconds, ISO 8601, HH:MM[:SS], "
                      "10m, 2h, 3d, '1h ago', recent (10 minutes), today, yesterday, "
                      "this-week, this-month, boot."),
    click.option("--until", metavar="TIME", help="Only denials at or before TIME."),
    click.option("--where", metavar="EXPR",
                 help='A query, e.g. \'blocker ~ "fs.truncate" and not path ^= "/proc"\' '
                      "(blockers, domains and users are checked as above; at most 65536 "
                      "characters, nested at most 100 deep)."),
)

input_options = _options(
    click.argument("files", nargs=-1, metavar="[FILE]...", shell_complete=complete_files),
    click.option("--strict", is_flag=True,
                 help="Exit with status 2 if a line that looks like a Landlock record does "
                      "not parse."),
    click.option("--netlink-idle", type=float, metavar="SECONDS", default=None,
                 help="With the netlink: input, stop after SECONDS without a record."),
    click.option("--progress/--no-progress", default=None,
                 help="Show a progress bar on stderr (default: when stderr is a terminal, "
                      "unless TERM is dumb)."),
    click.option("--max-line-length", type=click.IntRange(1024), default=4 << 20,
                 show_default=True, metavar="BYTES",
                 help="Skip longer lines, with a diagnostic (audit records are at most a few "
                      "KiB; the limit keeps memory bounded on a damaged or hostile input)."),
    click.option("-j", "--jobs", type=click.IntRange(1), default=None, metavar="N",
                 help="Processes reading large files in parallel (default: the number of "
                      "CPUs; 1: one pass here): every format of filter and explain (written in "
                      "the log's order, as one pass writes it), filter --count, summarize and "
                      "domains (in one pass when a selector or summarize --by exe reads a "
                      "domain's state). Standard input, netlink:, --follow and filter --quiet "
                      "read in one pass."),
)

# Live reading (lldecode.cli.live): following, the idle time that completes
# an event, checkpoints.
live_options = _options(
    click.option("-F", "--follow", is_flag=True,
                 help="Like tail -F: after the last file's end, wait for more (it survives "
                      "rotation by rename and by copy-truncate, and picks up the new file); "
                      "with no FILE, the system audit log. Stop with Ctrl-C: what was read "
                      "is shown."),
    click.option("--event-timeout", type=click.FloatRange(0.001, 60), default=None,
                 metavar="SECONDS",
                 help="On a live input (netlink:, a pipe, --follow), an event is complete "
                      "after SECONDS without input, so a lone denial shows at once "
                      "[default: 0.1]."),
    click.option("--checkpoint", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Read only what the logs gained since the run that wrote FILE, and "
                      "write FILE again after a successful run (survives rotation). Exit "
                      "10: FILE is no checkpoint; 11: no input is its log; 12: its log no "
                      "longer holds its position."),
)
input_options = _options(input_options, live_options)

color_option = click.option(
    "--color", type=click.Choice(["auto", "always", "never"]), default="auto",
    show_default=True,
    help="Colour the output (auto: on a terminal, unless NO_COLOR is set or TERM is dumb).")

tablefmt_option = click.option(
    "--tablefmt", default="simple", show_default=True, metavar="FORMAT",
    help="Table style for --format table: any tabulate format (github, plain, grid, ...).")

utc_option = click.option("--utc", is_flag=True, help="Show times in UTC, not local time.")

fail_if_any_option = click.option(
    "--fail-if-any", is_flag=True,
    help="Exit with status 1 when the report holds a denial (by default the status is 0 "
         "once the report is written, even empty: `>> $GITHUB_STEP_SUMMARY` in a `bash -e` "
         "step does not fail on a clean log).")


def format_option(choices: List[str], default: str) -> Callable:
    note = ""
    if "ndjson" in choices:
        note += " json, ndjson: records of a versioned schema (docs/json.md)."
    if "tsv" in choices:
        note += (" csv, tsv: one column per field; TSV writes tab, newline, backslash "
                 "as \\t \\n \\\\.")
    return click.option("-f", "--format", "fmt", type=click.Choice(choices),
                        default=default, show_default=True, help="Output format." + note)


def guarded(func: Callable) -> Callable:
    """Run a command without ever showing a traceback.

    A closed pipe (``lldecode explain log | head -1``) ends quietly; any
    other failure is one line on stderr and exit status 2.  Set
    LLDECODE_DEBUG=1 to see the traceback.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            try:
                result = func(*args, **kwargs)
            except (SystemExit, click.exceptions.Exit):
                _flush_stdout()
                raise
            _flush_stdout()
            return result
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(0)
        except KeyboardInterrupt:
            _silence_stdout()
            from lldecode.audit.live import stop

            sys.exit(128 + (stop.signum or signal.SIGINT))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except OSError as exc:
            if os.environ.get("LLDECODE_DEBUG"):
                raise
            _silence_stdout()
            click.echo(f"lldecode: cannot write: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_ERROR)
        except Exception as exc:  # noqa: BLE001 - the promise is: no traceback
            if os.environ.get("LLDECODE_DEBUG"):
                raise
            click.echo(f"lldecode: internal error: {type(exc).__name__}: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return _restoring_signals(wrapper)


def _restoring_signals(func: Callable) -> Callable:
    """Put back the SIGINT and SIGTERM handlers a command changed
    (install_stop_handlers) when it ends: a command run inside a process
    (tests, the library) leaves it as it was."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import threading

        if threading.current_thread() is not threading.main_thread():
            return func(*args, **kwargs)
        saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        try:
            return func(*args, **kwargs)
        finally:
            from lldecode.audit.live import settings, stop

            signal.signal(signal.SIGINT, saved[0])
            signal.signal(signal.SIGTERM, saved[1])
            stop.clear()
            settings.reset()

    return wrapper


def _flush_stdout() -> None:
    """Flush now, so that a full disk is reported here and not by the
    interpreter's final flush (as an ignored exception)."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


class Run:
    """One reading command's pass: a :class:`~lldecode.analysis.reader.LogReader`
    built from the options, and the command's exit status.

    Never silent: at the end (:meth:`exit`), a warning on stderr for each
    selector whose field no denial of the input carried (it could not
    match), and the notes on the input as a whole that the output did not
    give (records the kernel console suppressed)."""

    def __init__(self, files: Sequence[str], strict: bool, netlink_idle: Optional[float],
                 progress: Optional[bool], selection_options: Dict[str, Any],
                 context: bool = True, keep_domains: bool = False,
                 jobs: Optional[int] = None, max_line_length: Optional[int] = None,
                 follow: bool = False, event_timeout: Optional[float] = None,
                 checkpoint: Optional[str] = None):
        from lldecode.analysis.pipeline import tune_gc
        from lldecode.analysis.reader import LogReader
        from lldecode.analysis.selection import Selection, SelectionError
        from lldecode.audit.records import Diagnostics
        from lldecode.cli.live import LiveInputs

        tune_gc()
        install_stop_handlers()
        if sys.stdin is None and "-" in files:
            fail("standard input is closed: give a FILE to read")
        # no FILE and a terminal: the system log; --follow, --checkpoint
        self.inputs = LiveInputs(list(files), follow, event_timeout, checkpoint,
                                 max_line_length)
        files = self.inputs.files
        self.strict = strict
        try:
            selection = Selection.from_options(**selection_options)
        except SelectionError as exc:
            fail(str(exc), exc.pointer)
        watcher = None
        # (a dumb terminal would show the line-erasing escape as it is)
        if (sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
                if progress is None else progress):
            from lldecode.output.progress import Progress

            watcher = Progress()
        self.reader = LogReader(
            files, selection, Diagnostics(sink=stderr_sink), netlink_idle=netlink_idle,
            context=context, keep_domains=keep_domains, jobs=jobs, watcher=watcher,
            selection_options=selection_options, max_line_length=max_line_length,
            given_sources=self.inputs.sources)
        self.live = self.inputs.live
        if self.live:  # each event's lines go out at once
            reconfigure = getattr(sys.stdout, "reconfigure", None)
            if reconfigure is not None:
                try:
                    reconfigure(line_buffering=True)
                except (ValueError, OSError):
                    pass
        self.selection = selection
        self.diagnostics = self.reader.diagnostics
        # ``domains`` shows each domain's gap causes: a note they carry is not
        # repeated (the command sets this).
        self.shows_gap_causes = False
        self.tallies: List[Any] = []

    def tally(self, by: Optional[Sequence[str]] = None, per_domain: bool = False,
              on_tick: Optional[Callable[[Any], None]] = None, accounting: bool = True) -> Any:
        # Missing serials are counted only for the gap causes; every tally
        # scans files (lldecode.audit.scan), counting them or not.
        result = self.reader.tally(by, per_domain, on_tick,
                                   serial_gaps=None if self.shows_gap_causes else False,
                                   accounting=accounting)
        self.tallies.append(result)
        return result

    def denials(self) -> Iterator[Any]:
        return self.reader.denials()

    def events(self) -> Iterator[Any]:
        return self.reader.events()

    def warnings(self) -> List[str]:
        """The warnings of the end of the run: selectors that could not match
        for want of their field, and notes on the input as a whole."""
        from lldecode.analysis.domain_report import input_notes

        out = list(self.selection.warnings())
        passes = [t.stats for t in self.tallies] + self.reader.passes
        if passes:
            stats = max(passes, key=lambda s: (s.suppressed, len(s.notices)))
            listed = None
            if self.shows_gap_causes and self.tallies:
                last = self.tallies[-1]
                selected = last.selected
                listed = (info for info in last.registry.ordered()
                          if selected is None or selected.get(info.key))
            out.extend(input_notes(stats, listed))
        return out

    def succeeded(self) -> bool:
        """Did the reading go without error (the exit status is not 2)?"""
        diagnostics = self.diagnostics
        return not (diagnostics.errors or (self.strict and diagnostics.malformed))

    def exit(self, selected: bool) -> NoReturn:
        """Warn, write the checkpoint (after a successful run, or at the end
        of --follow) and exit: 0 selected, 1 nothing selected, 2 error,
        128 + the signal's number when interrupted (130 SIGINT, 143 SIGTERM)."""
        from lldecode.audit.live import stop

        for message in self.warnings():
            stderr_sink(f"lldecode: warning: {message}")
        diagnostics = self.diagnostics
        note = no_landlock_note(diagnostics)
        if note is not None:
            stderr_sink(note)
        _flush_stdout()
        if diagnostics.errors or (self.strict and diagnostics.malformed):
            sys.exit(EXIT_ERROR)
        if stop and not self.inputs.follow:
            sys.exit(128 + stop.signum)
        self.inputs.save_checkpoint()
        if stop:
            sys.exit(128 + stop.signum)
        sys.exit(EXIT_MATCH if selected else EXIT_NO_MATCH)


def no_landlock_note(diagnostics: Any) -> Optional[str]:
    """The note of a reading that held lines but no Landlock record (an
    SELinux-only log, a binary file, a log from a host that logs none):
    an empty report must not pass for a clean one."""
    lines = diagnostics.lines
    if not lines or diagnostics.landlock or diagnostics.malformed or diagnostics.errors:
        return None
    return (f"lldecode: note: no Landlock records in {lines} line{'s' if lines != 1 else ''}; "
            "see `lldecode doctor`")


def install_stop_handlers() -> None:
    """SIGINT and SIGTERM end the reading, not the command: the sources end
    their input (lldecode.audit.live.stop), the command shows what was read
    and exits 128 + the signal's number.  A second signal stops at once.
    Worker processes (-j) inherit the handler: the first signal is passed
    on to them, and each ends its part and gives what it read."""
    import threading

    from lldecode.audit.live import stop

    owner = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != owner:  # a worker
            if signum == signal.SIGTERM:  # the pool ending it: end as told
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            stop.request(signum)  # Ctrl-C, or passed on by this process: end the part
            return
        if stop:
            raise KeyboardInterrupt
        stop.request(signum)
        import multiprocessing

        for child in multiprocessing.active_children():
            if child.pid:
                try:
                    os.kill(child.pid, signal.SIGINT)
                except OSError:
                    pass

    stop.clear()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def selection_kwargs(kwargs: dict) -> dict:
    """Pop the selection options out of a command's keyword arguments."""
    keys = ("domains", "blockers", "exes", "comms", "pids", "uids", "paths", "syscalls",
            "since", "until", "where")
    return {k: kwargs.pop(k) for k in keys}
