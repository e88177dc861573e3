"""``lldecode export``: the selected denials, their domains and processes
in a SQLite database (lldecode.output.sqlite)."""

from __future__ import annotations

import os

import click

from lldecode.cli.common import (
    Run,
    fail,
    guarded,
    input_options,
    selection_kwargs,
    selection_options,
    stderr_sink,
)


@click.command("export")
@click.option("-o", "--output", "database", required=True, metavar="FILE.db",
              type=click.Path(dir_okay=False),
              help="The SQLite database to write (a new file; see --replace).")
@click.option("--replace", is_flag=True, help="Replace FILE.db if it exists.")
@input_options
@selection_options
@guarded
def export_cmd(database, replace, **kwargs):
    """Write the denials, their domains and processes to a SQLite database.

    Tables: denials (one row per denial, the object and the process in
    columns), denial_blockers (one row per blocker of a denial), domains
    (one row per domain, as `lldecode domains`), processes (one row per
    denied process); indexed for Datasette, sqlite-utils, DuckDB or sqlite3.
    Text is UTF-8: bytes that are not UTF-8 are U+FFFD, with the exact bytes
    in the <column>_hex column beside.  With a selection, only the selected
    denials, and the domains that have one, are written.  The database is
    written beside FILE.db and renamed at the end: a failed export leaves no
    partial file.  Columns: docs/json.md.

    \b
    Examples:
      lldecode export -o audit.db /var/log/audit/
      lldecode export -o ci.db --since 1h --blocker 'fs.*' audit.log
      sqlite3 audit.db 'SELECT blocker, count(*) FROM denial_blockers GROUP BY 1'
      datasette audit.db

    \b
    Exit status:
      0  the database was written (even with no denial: a note says so)
      2  an error (an unreadable input, FILE.db exists without --replace)
    """
    from lldecode.analysis.domain_report import domain_rows
    from lldecode.analysis.domains import DomainRegistry
    from lldecode.output.sqlite import SqliteExport

    if os.path.exists(database) and not replace:
        fail(f"{database} exists: give --replace to replace it")
    if os.path.isdir(database):
        fail(f"{database} is a directory")
    if kwargs.get("follow"):
        fail("--follow: export writes its database at the end of its input "
             "(use --checkpoint to export what a log gained since the last run)")
    run = Run(kwargs.pop("files"), kwargs.pop("strict"), kwargs.pop("netlink_idle"),
              kwargs.pop("progress"), selection_kwargs(kwargs), True, True,
              kwargs.pop("jobs"), kwargs.pop("max_line_length"), kwargs.pop("follow"),
              kwargs.pop("event_timeout"), kwargs.pop("checkpoint"))
    try:
        export = SqliteExport(database)
    except OSError as exc:
        fail(f"{database}: {exc.strerror or exc}")
    try:
        registry = DomainRegistry(keep_finished=True)
        reading = run.reader.reading(registry)
        selection = run.selection
        for denial in reading.denials():
            if selection.empty or selection(denial):
                export.add(denial)
        # every domain, streamed from the registry: with a selection, the
        # database keeps those with a selected denial, and counts them
        export.finish(domain_rows(registry, reading.grouper.stats),
                      {"inputs": list(run.reader.inputs)}, selected=not selection.empty)
    except BaseException:
        export.abort()
        raise
    if not export.count:
        stderr_sink(f"lldecode: note: no denial selected: {database} has empty denials "
                    "and processes tables")
    run.exit(True)
