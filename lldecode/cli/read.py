"""The reading commands: filter, explain, summarize, domains.

Each one wires its options to the stages (lldecode.analysis.pipeline for
reading and choosing, lldecode.analysis.explain / summarize / domains for the
analyses, lldecode.output for the text, tables and JSON) and nothing more.

Every output goes through lldecode.output, which escapes each value from the
log where it formats it (text, tables, CSV) or converts it (JSON, NDJSON),
and to :func:`lldecode.output.text.utf8_stdout`: nothing is written to
standard output from here but the renderers' text, counts and ``--format
raw``'s lines, unchanged.
"""

from __future__ import annotations

import itertools

import click

from lldecode.cli.common import (
    Run,
    color_option,
    fail,
    fail_if_any_option,
    format_option,
    guarded,
    input_options,
    selection_kwargs,
    selection_options,
    tablefmt_option,
    utc_option,
)
from lldecode.cli.completion import complete_by
from lldecode.cli.live import every, interval_option, show_domains, show_summary


def _run(kwargs, context: bool = True, keep_domains: bool = False) -> Run:
    return Run(kwargs.pop("files"), kwargs.pop("strict"), kwargs.pop("netlink_idle"),
               kwargs.pop("progress"), selection_kwargs(kwargs), context, keep_domains,
               kwargs.pop("jobs"), kwargs.pop("max_line_length"), kwargs.pop("follow"),
               kwargs.pop("event_timeout"), kwargs.pop("checkpoint"))


class _counting:
    """An iterator that counts what went through it (in ``n``)."""

    def __init__(self, items):
        self._items = iter(items)
        self.n = 0

    def __iter__(self):
        return self

    def __next__(self):
        item = next(self._items)
        self.n += 1
        return item


# The exit statuses every reading command shares, after its own.
_READING_EXITS = """\
  10 11 12  with --checkpoint: it is no checkpoint, no input is its log, its
     log no longer holds its position
  130 143  interrupted (SIGINT, SIGTERM): what was read is printed
"""


# -- filter -------------------------------------------------------------------------

FILTER_EPILOG = """\
\b
Examples:
  lldecode filter /var/log/audit/audit.log
  lldecode filter -q --blocker fs.truncate --blocker 'fs.ioctl_*' build.log
  lldecode filter -Hn --exe '*/python3*' --since 1h /var/log/audit/
  lldecode filter --where 'blocker ~ "fs.*" and not path ^= "/proc"' -f raw audit.log | ausearch -i
  ausearch -m 1423,1424 --raw | lldecode filter -f ndjson | jq .object.path
  lldecode filter -c --checkpoint state.json /var/log/audit/   # in cron: only what is new

\b
Exit status:
  0  a denial was selected
  1  none was
  2  an error: an unreadable input, a bad option, a Landlock record that
     does not parse with --strict
""" + _READING_EXITS


@click.command("filter", epilog=FILTER_EPILOG)
@input_options
@selection_options
@click.option("-c", "--count", is_flag=True, help="Print only the number of selected denials.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing; only the exit status tells whether a denial was selected.")
@click.option("-H", "--with-filename", is_flag=True,
              help="Start each line with the name of the file it was read from, and a colon "
                   "(grep's -H; --format text and raw).")
@click.option("-n", "--line-number", is_flag=True,
              help="Start each line with its line number in that file, and a colon (grep's "
                   "-n; --format text and raw).")
@format_option(["text", "ndjson", "json", "csv", "tsv", "table", "raw", "github", "junit",
                "sarif"], "text")
@tablefmt_option
@color_option
@utc_option
@guarded
def filter_cmd(count, quiet, with_filename, line_number, fmt, tablefmt, color, utc, **kwargs):
    """Select denials, like grep: exit 0 if any, 1 if none, 2 on error.

    \b
    --format text    one line per denial
    --format ndjson  one JSON object per denial record
    --format json    a JSON list
    --format csv     a CSV table, the object in columns (path, dev, ino, ...)
    --format tsv     the same columns tab-separated, \\t \\n \\\\ escaped
    --format table   an aligned table (--tablefmt github for CI summaries)
    --format raw     the original lines of the matched events, unchanged
    --format github  a GitHub ::error annotation per group of identical denials,
                     at the log's file and line
    --format junit   JUnit XML (GitLab, Jenkins): a test suite per domain, a
                     failed test case per group of identical denials
    --format sarif   SARIF 2.1.0: a rule per blocker, a result per group
    """
    # (each format imports its renderers: --count and -q import none)
    from lldecode.output import text

    located = (with_filename or line_number) and not quiet
    if located and (count or fmt not in ("text", "raw")):
        fail("-H/--with-filename and -n/--line-number go with --format text or raw (JSON "
             "and NDJSON give source.file and source.line)")
    run = _run(kwargs, context=not (count or quiet))
    out = text.utf8_stdout()
    n = 0
    if quiet:
        for _ in run.denials():
            n += 1
            break
    elif count:
        n = run.tally(accounting=False).count  # (no domain shown: not followed)
        out.write(f"{n}\n")
    elif fmt == "raw":
        # the lines as they were read, byte for byte (the reader holds each
        # byte as one Latin-1 character); not escaped: raw is what was asked
        write = text.raw_writer(out)
        lines = _raw_lines(_locator(with_filename, line_number, text.Style("never"), raw=True))
        if not run.live:  # (a large input is read on several processes)
            rendered = run.reader.rendered_events(lines, domains=False)
            for piece in rendered:
                write(piece)
            n = rendered.count
        else:
            for event, denials in run.events():
                n += len(denials)
                write(lines((event, denials)))
                getattr(out, "buffer", out).flush()  # (written to the bytes under out)
    elif fmt == "ndjson":
        from lldecode.output.jsonable import denial_dict, ndjson_line

        # (a large input is read on several processes, see LogReader.rendered_denials)
        rendered = run.reader.rendered_denials(lambda d: ndjson_line(denial_dict(d)))
        for piece in rendered:
            out.write(piece)
        n = rendered.count
    elif fmt == "json":
        from lldecode.output.jsonable import denial_dict, json_list_piece, write_json_pieces

        rendered = run.reader.rendered_denials(lambda d: json_list_piece(denial_dict(d)))
        write_json_pieces(out, rendered)
        n = rendered.count
    elif fmt in ("csv", "tsv"):
        from lldecode.output import flat

        out.write(flat.row_writer(fmt)(flat.DENIAL_COLUMNS))
        rendered = run.reader.rendered_denials(
            flat.row_renderer(fmt, lambda d: flat.denial_row(d, utc)), domains=False)
        for piece in rendered:
            out.write(piece)
        n = rendered.count
    elif fmt in ("github", "junit", "sarif"):
        from lldecode.output import ci

        # (a group of identical denials, and so n, is counted once)
        n = _write_ci(out, run, fmt, lambda p: ci.filter_finding(p, utc), "filter")
    elif fmt == "table":
        from lldecode.output import reports, tables

        rendered = run.reader.rendered_denials(lambda d: reports.filter_row(d, utc),
                                               objects=True, domains=False)
        tables.write_table(out, [c.upper() for c in reports.FILTER_COLUMNS], rendered,
                           tablefmt)
        n = rendered.count
    else:
        from lldecode.output import reports

        style = text.Style(color)
        where = _locator(with_filename, line_number, style)
        rendered = run.reader.rendered_denials(
            lambda d: where(d.record) + reports.filter_line(reports.filter_row(d, utc), style),
            domains=False)  # (a line names no domain's state)
        for piece in rendered:
            out.write(piece)
        n = rendered.count
    run.exit(n > 0)


def _raw_lines(where):
    """An event's lines for --format raw, from (event, denials), as the
    characters of the bytes the raw writer writes (one Latin-1 character a
    byte, whatever is written with them)."""

    def lines(item):
        records = item[0].records
        # (the records of a laurel event share its one line: written once)
        text = "".join(where(r) + r.line + "\n" for i, r in enumerate(records)
                       if not i or (r.source, r.lineno) != (records[i - 1].source,
                                                            records[i - 1].lineno))
        try:
            text.encode("latin-1")
        except UnicodeEncodeError:  # (not text the reader made: as the raw writer does)
            text = text.encode("utf-8", "surrogateescape").decode("latin-1")
        return text

    return lines


def _write_ci(out, run, fmt, finding, command):
    """Write the CI findings of the paragraphs (``finding(paragraph)``),
    read on several processes for a large input (GitHub's commands as text,
    JUnit's and SARIF's findings as objects); the number of paragraphs."""
    from lldecode.output import ci

    if fmt == "github":
        rendered = run.reader.paragraphs(lambda p: ci.github_command(finding(p)))
        for piece in rendered:
            out.write(piece)
    else:
        rendered = run.reader.paragraphs(finding, objects=True)
        ci.write(out, fmt, rendered, command, run.succeeded)
    return rendered.count


def _locator(with_filename, line_number, style, raw=False):
    """The ``FILE:LINE:`` prefix of a record's line for -H and -n (grep's,
    in grep's colours), escaped; for --format raw, as the bytes of its text."""
    if not (with_filename or line_number):
        return lambda record: ""

    def where(record):
        parts = ([style(record.source, "magenta")] if with_filename else []) + (
            [style(record.lineno, "green")] if line_number else [])
        prefix = "".join(part + style(":", "cyan") for part in parts)
        if raw:  # the raw writer writes each character as one byte
            return prefix.encode("utf-8", "surrogateescape").decode("latin-1")
        return prefix

    return where


# -- explain ------------------------------------------------------------------------

EXPLAIN_EPILOG = """\
\b
Examples:
  ausearch -m 1423,1424 --raw | lldecode explain
  lldecode explain /var/log/audit/
  lldecode explain --since today --domain 1b6b161a9 /var/log/audit/audit.log
  lldecode explain --policy base.toml --policy app.toml audit.log
  journalctl -k -o short-precise | lldecode explain --no-pager
  lldecode explain --follow                  # the system audit log, live

\b
Exit status:
  0  a denial was explained
  1  none was selected
  2  an error: an unreadable input or policy, a bad option, a Landlock
     record that does not parse with --strict
""" + _READING_EXITS


@click.command("explain", epilog=EXPLAIN_EPILOG)
@input_options
@selection_options
@click.option("--policy", "policies", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A landlockconfig policy layer (TOML or JSON), in enforcement order; "
                   "repeat for nested layers. Names the layer and rule behind each denial.")
@format_option(["text", "json", "ndjson", "csv", "tsv", "github", "junit", "sarif"], "text")
@color_option
@utc_option
@click.option("--no-pager", is_flag=True,
              help="Write the text straight to the terminal (by default it goes through "
                   "$PAGER, or less -FRX, when standard output is a terminal).")
@guarded
def explain_cmd(policies, fmt, color, utc, no_pager, **kwargs):
    """Explain each denial in plain words: who, what, where, which sandbox, how to fix.

    Consecutive identical denials fold into one paragraph with a count; the
    two records of a rename or link across directories make one paragraph.
    On a terminal the text goes through $PAGER (less -FRX by default).
    """
    from lldecode.analysis import explain
    from lldecode.output.explain import render_text
    from lldecode.output.text import Style, utf8_stdout

    policy = _load_policy(policies) if policies else None
    run = _run(kwargs)
    out = utf8_stdout()
    style = Style(color)
    if fmt == "text" and not run.live:
        from lldecode.cli.pager import paged, wanted

        # (a large input is read on several processes, see LogReader.paragraphs)
        rendered = run.reader.paragraphs(
            lambda p: render_text(p, style, utc, policy) + "\n", "\n")
        with paged(out, wanted(no_pager)) as page:
            for piece in rendered:
                page.write(piece)
        run.exit(rendered.count > 0)
    if not run.live:  # (read on several processes as the text)
        run.exit(_write_explained(out, run, fmt, utc, policy) > 0)
    # a live input: the paragraph held for folding is shown when it goes quiet
    denials = run.reader.live_denials()
    paragraphs = _counting(explain.paragraphs(explain.operations(denials)))
    if fmt == "text":  # live: each paragraph as it comes, no pager
        for paragraph in paragraphs:
            out.write(("\n" if paragraphs.n > 1 else "")
                      + render_text(paragraph, style, utc, policy) + "\n")
    elif fmt in ("github", "junit", "sarif"):
        from lldecode.output import ci

        ci.write(out, fmt, ci.explain_findings(paragraphs, utc, policy), "explain",
                 run.succeeded)
    elif fmt in ("csv", "tsv"):
        from lldecode.output import flat

        flat.write_flat(out, fmt, flat.EXPLAIN_COLUMNS,
                        (flat.explanation_row(p.denials, explain.explanation(p, policy), utc)
                         for p in paragraphs))
    else:
        from lldecode.output.jsonable import (
            explanation_record,
            write_json_list,
            write_ndjson_line,
        )

        items = (explanation_record(explain.explanation(p, policy), p.denials)
                 for p in paragraphs)
        if fmt == "ndjson":
            for item in items:
                write_ndjson_line(out, item)
        else:
            write_json_list(out, items)
    run.exit(paragraphs.n > 0)


def _write_explained(out, run, fmt, utc, policy):
    """explain's formats but text, of an input that is not live: each
    paragraph rendered where it is read (a large input on several processes,
    see LogReader.paragraphs), written in input order; the number of
    paragraphs."""
    from lldecode.analysis import explain
    from lldecode.output import ci, flat
    from lldecode.output.jsonable import (
        explanation_record,
        json_list_piece,
        ndjson_line,
        write_json_pieces,
    )

    if fmt in ci.CI_FORMATS:
        return _write_ci(out, run, fmt, lambda p: ci.explain_finding(p, utc, policy), "explain")
    if fmt in flat.FLAT_FORMATS:
        out.write(flat.row_writer(fmt)(flat.EXPLAIN_COLUMNS))
        render = flat.row_renderer(fmt, lambda p: flat.explanation_row(
            p.denials, explain.explanation(p, policy), utc))
    else:
        piece = ndjson_line if fmt == "ndjson" else json_list_piece

        def render(p):
            return piece(explanation_record(explain.explanation(p, policy), p.denials))
    rendered = run.reader.paragraphs(render)
    if fmt == "json":
        write_json_pieces(out, rendered)
    else:
        for text in rendered:
            out.write(text)
    return rendered.count


def _load_policy(paths):
    from lldecode.landlock.policy import PolicyError, load_policy

    try:
        return load_policy(list(paths))
    except PolicyError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename}: {exc.strerror}")


# -- summarize ---------------------------------------------------------------------

def _split_by(values):
    by = []
    for value in values:
        by.extend(v.strip() for v in value.split(",") if v.strip())
    return by or ["domain"]


SUMMARIZE_EPILOG = """\
\b
Examples:
  lldecode summarize /var/log/audit/audit.log
  lldecode summarize --by blocker,exe --top 10 /var/log/audit/
  lldecode summarize --by exe,syscall --tablefmt github build.log >> "$GITHUB_STEP_SUMMARY"
  lldecode summarize --by path -f csv --since yesterday audit.log > paths.csv
  lldecode summarize --by blocker --follow --interval 60 /var/log/audit/audit.log

\b
Exit status:
  0  the report was written, even empty
  1  with --fail-if-any: the report holds a denial
  2  an error: an unreadable input, a bad option, a Landlock record that
     does not parse with --strict
""" + _READING_EXITS


@click.command("summarize", epilog=SUMMARIZE_EPILOG)
@input_options
@selection_options
@click.option("--by", "by", multiple=True, metavar="DIM[,DIM]", shell_complete=complete_by,
              help="Group by domain, blocker, exe, path or syscall; combine with commas or "
                   "by repeating (default: domain).")
@click.option("--top", type=int, default=0, metavar="N",
              help="Show only the N largest groups (0: all).")
@format_option(["table", "text", "json", "ndjson", "csv", "tsv", "github", "junit", "sarif"],
               "table")
@tablefmt_option
@utc_option
@interval_option
@fail_if_any_option
@guarded
def summarize_cmd(by, top, fmt, tablefmt, utc, interval, fail_if_any, **kwargs):
    """Count denials per domain, blocker, exe, path or syscall, with first and last time.

    Grouped by domain, each row also gives the domain's creator and its
    accounting: denials logged in this input against denials the kernel
    counted (its deallocated record).
    """
    from lldecode.analysis.summarize import LOCATION, Summary
    from lldecode.output import reports, tables
    from lldecode.output.text import utf8_stdout

    try:
        summary = Summary(_split_by(by))
    except ValueError as exc:
        fail(f"--by: {exc}")
    run = _run(kwargs, context=bool({"exe", "syscall"} & set(summary.by)),
               keep_domains="domain" in summary.by and not summary.accounting)
    # the CI formats point at the log: each group keeps its earliest denial's place
    locate = [LOCATION] if fmt in ("github", "junit", "sarif") else []
    tally = run.tally(by=summary.by + locate, on_tick=every(
        run, interval, fmt, show_summary(utf8_stdout(), summary.by, utc, tablefmt)))
    summary, registry = tally.summary, tally.registry

    def rows():
        groups = summary.rows(registry)
        return itertools.islice(groups, top) if top else groups

    out = utf8_stdout()
    if fmt == "json":
        from lldecode.output.jsonable import summary_document, summary_record, write_json_document

        write_json_document(out, summary_document(summary.total, summary.by), "groups",
                            (summary_record(row) for row in rows()))
    elif fmt == "ndjson":
        from lldecode.output.jsonable import summary_record, write_ndjson_line

        for row in rows():
            write_ndjson_line(out, summary_record(row))
    elif fmt in ("csv", "tsv"):
        from lldecode.output import flat

        flat.write_flat(out, fmt, flat.summary_columns(summary.by),
                        (flat.summary_row(summary.by, row, utc) for row in rows()))
    elif fmt in ("github", "junit", "sarif"):
        from lldecode.output import ci

        ci.write(out, fmt, ci.summary_findings(summary.by, rows(), utc), "summarize",
                 run.succeeded)
    elif fmt == "text":
        for row in rows():
            out.write(reports.summary_text(summary.by, row, utc))
        out.write(f"{summary.total} denial{'' if summary.total == 1 else 's'}\n")
    else:
        headers = reports.summary_headers(summary.by)
        groups = _counting(summary.rows(registry))
        shown = _counting(itertools.islice(groups, top) if top else groups)
        table = (reports.summary_line(summary.by, row, utc) for row in shown)
        tables.write_table(out, headers, table, tablefmt)
        for _ in groups:  # the groups --top left out, counted for the footer
            pass
        out.write(tables.footer_gap(tablefmt)
                  + tables.group_footer(summary.total, groups.n, shown.n))
    # the report was written: 0, even when it is empty (1 with --fail-if-any
    # when it holds a denial; 2 on an error)
    run.exit(not (fail_if_any and summary.total > 0))


# -- domains -----------------------------------------------------------------------

DOMAINS_EPILOG = """\
\b
Examples:
  lldecode domains /var/log/audit/audit.log
  lldecode domains --since yesterday /srv/logs/*/audit.log*
  lldecode domains -f text --exe '*/nginx' /var/log/audit/
  dmesg | lldecode domains
  lldecode domains --since boot netlink:     # Ctrl-C prints the table

\b
Exit status:
  0  the report was written, even empty
  1  with --fail-if-any: a listed domain has a denial
  2  an error: an unreadable input, a bad option, a Landlock record that
     does not parse with --strict
""" + _READING_EXITS


@click.command("domains", epilog=DOMAINS_EPILOG)
@input_options
@selection_options
@format_option(["table", "text", "json", "ndjson", "csv", "tsv"], "table")
@tablefmt_option
@utc_option
@interval_option
@fail_if_any_option
@guarded
def domains_cmd(fmt, tablefmt, utc, interval, fail_if_any, **kwargs):
    """List every Landlock domain: creator, status, denials logged and reported.

    With a selection, only the domains with a selected denial are listed
    (and a SELECTED count is added).  Where the input holds fewer denials
    than the kernel counted, the likely causes are given.
    """
    from lldecode.analysis.domain_report import domain_rows
    from lldecode.output import reports, tables
    from lldecode.output.text import utf8_stdout

    run = _run(kwargs, keep_domains=True)
    run.shows_gap_causes = True
    tally = run.tally(per_domain=not run.selection.empty, on_tick=every(
        run, interval, fmt, show_domains(utf8_stdout(), utc, tablefmt)))
    selected, registry, stats = tally.selected, tally.registry, tally.stats

    def rows():
        return domain_rows(registry, stats, selected)

    out = utf8_stdout()
    listed = 0
    if fmt == "json":
        from lldecode.output.jsonable import domain_record, write_json_list

        write_json_list(out, (domain_record(row) for row in rows()))
        listed = len(registry)
    elif fmt == "ndjson":
        from lldecode.output.jsonable import domain_record, write_ndjson_line

        for row in rows():
            write_ndjson_line(out, domain_record(row))
        listed = len(registry)
    elif fmt in ("csv", "tsv"):
        from lldecode.output import flat

        with_selected = selected is not None
        flat.write_flat(out, fmt, flat.domain_columns(with_selected),
                        (flat.domain_row(row, utc, with_selected) for row in rows()))
        listed = len(registry)
    elif fmt == "text":
        for row in rows():
            out.write(("\n" if listed else "") + reports.domain_text(row, utc) + "\n")
            listed += 1
    else:
        headers = reports.domain_headers(selected is not None)
        table = (reports.domain_line(row, utc, selected is not None) for row in rows())
        tables.write_table(out, headers, table, tablefmt)
        for row in rows():
            if row["gap_causes"]:
                out.write(reports.gap_note(row))
        listed = len(registry)
    # the report was written: 0, even when it is empty (1 with --fail-if-any when
    # a listed domain has a logged, or with a selection a selected, denial)
    if selected is None:
        denied = any(info.denials_logged for info in registry.ordered())
    else:
        denied = sum(selected.values()) > 0
    run.exit(not (fail_if_any and denied))
