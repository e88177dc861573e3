"""The inputs of a reading command when it reads live or resumes: the
system log when no FILE is given on a terminal, ``--follow``,
``--checkpoint`` and ``--event-timeout`` (see lldecode.audit.follow and
lldecode.analysis.checkpoint), and the rotated files put oldest first.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, List, NoReturn, Optional

import click

from lldecode.cli.messages import fail as _fail
from lldecode.cli.messages import stderr_sink


def _note(message: str) -> None:
    stderr_sink(f"lldecode: {message}")


def fail(message: str) -> NoReturn:
    """A usage error (its file names escaped for the terminal), exit status 2."""
    from lldecode.output.escape import escape_text

    _fail(escape_text(message))


class LiveInputs:
    """What to read: ``files`` (arguments for the reader) or ready-made
    ``sources``; whether the input is ``live`` (its output is flushed at
    each line); the checkpoint to write after a successful run."""

    def __init__(self, files: List[str], follow: bool, event_timeout: Optional[float],
                 checkpoint: Optional[str], max_line_length: Optional[int]):
        from lldecode.audit import live, sources

        if event_timeout is not None:
            live.settings.event_timeout = event_timeout
        self.follow = follow
        self.checkpoint_path = checkpoint
        self.sources: Optional[List[sources.Source]] = None
        self._last_file: Any = None  # the FileSource whose position a checkpoint keeps
        if not files and sys.stdin is not None and _is_terminal(sys.stdin):
            files = self._system_log()
        elif not files and sys.stdin is None:
            fail("standard input is closed: give a FILE to read")
        ordered, changed = sources.order_arguments(files)
        if changed:
            _note("reading the rotated files oldest first: " + " ".join(ordered))
        self.files = ordered
        streams = [f for f in ordered if f in ("-", sources.NETLINK)]
        self.live = follow or sources.NETLINK in ordered or (
            ("-" in ordered or not ordered) and sources.stdin_source().__class__.__name__
            == "PipeSource")
        if streams and checkpoint:
            fail("--checkpoint needs files to read: not standard input nor netlink:")
        if follow and (streams or not ordered):
            follow = self.follow = False  # a pipe and netlink: are read live anyway
        if follow or checkpoint:
            self._plan(follow, checkpoint, max_line_length)

    def _system_log(self) -> List[str]:
        from lldecode.audit.auditconf import system_log

        found = system_log()
        if found.problem is not None or not found.files:
            fail(f"no FILE given and standard input is a terminal, and the system audit log "
                 f"cannot be read: {found.problem}; give a FILE or - for standard input, "
                 "and run `lldecode doctor` to see why nothing is logged")
        unreadable = [f for f in found.files if not os.access(f, os.R_OK)]
        if unreadable:
            fail(f"no FILE given and standard input is a terminal, and the system audit log "
                 f"cannot be read: {unreadable[-1]}: Permission denied (run as root or as "
                 "a member of its group; `lldecode doctor` says more)")
        _note("reading the system audit log: " + " ".join(found.files))
        return found.files

    def _plan(self, follow: bool, checkpoint: Optional[str],
              max_line_length: Optional[int]) -> None:
        from lldecode.analysis.checkpoint import Checkpoint, CheckpointError, sources_for
        from lldecode.audit import sources
        from lldecode.audit.follow import FileSource

        paths: List[str] = []
        for source in sources.expand(self.files):
            message = getattr(source, "message", None)
            if message is not None:
                fail(message)
            paths.append(source.name)
        pairs = [(p, 0) for p in paths]
        if checkpoint:
            try:
                previous = Checkpoint.load(checkpoint)
                if previous is not None:
                    pairs, notes = previous.resume(paths)
                    for note in notes:
                        _note(note)
            except CheckpointError as exc:
                stderr_sink(f"lldecode: {exc}")
                sys.exit(exc.status)
        self.sources = sources_for(pairs, follow_last=follow, max_line_length=max_line_length)
        last = self.sources[-1] if self.sources else None
        self._last_file = last if isinstance(last, FileSource) else None
        if self._last_file is None:
            what = "--follow: the last input is compressed: it cannot grow" if follow else (
                "--checkpoint: the last input is compressed: its position cannot be kept")
            fail(what)

    def save_checkpoint(self) -> None:
        """Write the checkpoint (after a successful run)."""
        from lldecode.analysis.checkpoint import Checkpoint

        if not self.checkpoint_path or self._last_file is None:
            return
        made = Checkpoint.after(self._last_file)
        if made is None:
            return
        try:
            made.save(self.checkpoint_path)
        except OSError as exc:
            fail(f"cannot write the checkpoint {self.checkpoint_path}: "
                 f"{exc.strerror or exc}")


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):
        return False


# --follow reprints the tables of summarize and domains this often (seconds)
# unless --interval says otherwise.
DEFAULT_INTERVAL = 10.0

interval_option = click.option(
    "--interval", type=click.FloatRange(0.1), default=None, metavar="SECONDS",
    help="On a live input (--follow, netlink:, a pipe): print the table every SECONDS "
         "while reading, and at the end [default with --follow: 10; else only at the end].")


def every(run: Any, interval: Optional[float], fmt: str,
          show: Callable[[Any], None]) -> Optional[Callable[[Any], None]]:
    """What to call at each tick of a live reading: ``show(tally)`` once
    every ``interval`` seconds (None when the input is not live, or the
    format is a document that cannot be repeated)."""
    from lldecode.audit import live

    if not run.live or fmt not in ("table", "text"):
        return None
    if interval is None:
        interval = DEFAULT_INTERVAL if run.inputs.follow else None
    if not interval:
        return None
    live.settings.heartbeat = interval
    due = [time.monotonic() + interval]

    def tick(tally: Any) -> None:
        now = time.monotonic()
        if now >= due[0]:
            due[0] = now + interval
            show(tally)

    return tick


def _banner(out: Any, what: str, utc: bool) -> None:
    from lldecode.output.text import format_time

    out.write(f"-- {what} at {format_time(time.time(), utc)} (reading on) --\n")


def show_summary(out: Any, by: List[str], utc: bool, tablefmt: str) -> Callable[[Any], None]:
    """A summary table of a tally so far."""
    from lldecode.output import reports, tables

    def show(tally: Any) -> None:
        _banner(out, f"{tally.count} denials", utc)
        tables.write_table(out, reports.summary_headers(by),
                           (reports.summary_line(by, row, utc)
                            for row in tally.interim_summary_rows()), tablefmt)
        out.write("\n")
        out.flush()

    return show


def show_domains(out: Any, utc: bool, tablefmt: str) -> Callable[[Any], None]:
    """The domains table of a tally so far."""
    from lldecode.analysis.domain_report import domain_rows
    from lldecode.output import reports, tables

    def show(tally: Any) -> None:
        with_selected = tally.selected is not None
        _banner(out, f"{len(tally.registry)} domains", utc)
        tables.write_table(out, reports.domain_headers(with_selected),
                           (reports.domain_line(row, utc, with_selected) for row in
                            domain_rows(tally.registry, tally.stats, tally.selected)),
                           tablefmt)
        out.write("\n")
        out.flush()

    return show
