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
    format_option,
    guarded,
    input_options,
    selection_kwargs,
    selection_options,
    tablefmt_option,
    utc_option,
)


def _run(kwargs, context: bool = True, keep_domains: bool = False) -> Run:
    return Run(kwargs.pop("files"), kwargs.pop("strict"), kwargs.pop("netlink_idle"),
               kwargs.pop("progress"), selection_kwargs(kwargs), context, keep_domains,
               kwargs.pop("jobs"), kwargs.pop("max_line_length"))


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


# -- filter -------------------------------------------------------------------------

@click.command("filter")
@input_options
@selection_options
@click.option("-c", "--count", is_flag=True, help="Print only the number of selected denials.")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing; only the exit status tells whether a denial was selected.")
@format_option(["text", "ndjson", "json", "csv", "table", "raw"], "text")
@tablefmt_option
@color_option
@utc_option
@guarded
def filter_cmd(count, quiet, fmt, tablefmt, color, utc, **kwargs):
    """Select denials, like grep: exit 0 if any, 1 if none, 2 on error.

    \b
    --format text    one line per denial
    --format ndjson  one JSON object per denial record
    --format json    a JSON list
    --format csv     a CSV table
    --format table   an aligned table (--tablefmt github for CI summaries)
    --format raw     the original lines of the matched events, unchanged
    """
    from lldecode.output import reports, tables, text
    from lldecode.output.jsonable import denial_dict, write_json_list, write_ndjson_line

    run = _run(kwargs, context=not (count or quiet))
    out = text.utf8_stdout()
    n = 0
    if quiet:
        for _ in run.denials():
            n += 1
            break
    elif count:
        n = run.tally().count
        out.write(f"{n}\n")
    elif fmt == "raw":
        # the lines as they were read, byte for byte (the reader holds each
        # byte as one Latin-1 character); not escaped: raw is what was asked
        write = text.raw_writer(out)
        for event, denials in run.events():
            n += len(denials)
            write("".join(r.line + "\n" for r in event.records))
    elif fmt == "ndjson":
        for denial in run.denials():
            n += 1
            write_ndjson_line(out, denial_dict(denial))
    elif fmt == "json":
        counted = _counting(run.denials())
        write_json_list(out, (denial_dict(d) for d in counted))
        n = counted.n
    elif fmt in ("csv", "table"):
        counted = _counting(run.denials())
        rows = (reports.filter_row(d, utc) for d in counted)
        if fmt == "csv":
            tables.write_csv(out, reports.FILTER_COLUMNS, rows)
        else:
            tables.write_table(out, [c.upper() for c in reports.FILTER_COLUMNS], rows, tablefmt)
        n = counted.n
    else:
        style = text.Style(color)
        for denial in run.denials():
            n += 1
            out.write(reports.filter_line(reports.filter_row(denial, utc), style))
    run.exit(n > 0)


# -- explain ------------------------------------------------------------------------

@click.command("explain")
@input_options
@selection_options
@click.option("--policy", "policies", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False),
              help="A landlockconfig policy layer (TOML or JSON), in enforcement order; "
                   "repeat for nested layers. Names the layer and rule behind each denial.")
@format_option(["text", "json", "ndjson"], "text")
@color_option
@utc_option
@guarded
def explain_cmd(policies, fmt, color, utc, **kwargs):
    """Explain each denial in plain words: who, what, where, which sandbox, how to fix.

    Consecutive identical denials fold into one paragraph with a count; the
    two records of a rename or link across directories make one paragraph.
    """
    from lldecode.analysis import explain
    from lldecode.output.explain import render_text
    from lldecode.output.jsonable import write_json_list, write_ndjson_line
    from lldecode.output.text import Style, utf8_stdout

    policy = _load_policy(policies) if policies else None
    run = _run(kwargs)
    out = utf8_stdout()
    style = Style(color)
    paragraphs = _counting(explain.paragraphs(explain.operations(run.denials())))
    if fmt == "text":
        for paragraph in paragraphs:
            out.write(("\n" if paragraphs.n > 1 else "")
                      + render_text(paragraph, style, utc, policy) + "\n")
    else:
        items = (explain.explanation(p, policy) for p in paragraphs)
        if fmt == "ndjson":
            for item in items:
                write_ndjson_line(out, item)
        else:
            write_json_list(out, items)
    run.exit(paragraphs.n > 0)


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


@click.command("summarize")
@input_options
@selection_options
@click.option("--by", "by", multiple=True, metavar="DIM[,DIM]",
              help="Group by domain, blocker, exe, path or syscall; combine with commas or "
                   "by repeating (default: domain).")
@click.option("--top", type=int, default=0, metavar="N",
              help="Show only the N largest groups (0: all).")
@format_option(["table", "json", "ndjson", "csv"], "table")
@tablefmt_option
@utc_option
@guarded
def summarize_cmd(by, top, fmt, tablefmt, utc, **kwargs):
    """Count denials per domain, blocker, exe, path or syscall, with first and last time.

    Grouped by domain, each row also gives the domain's creator and its
    accounting: denials logged in this input against denials the kernel
    counted (its deallocated record).
    """
    from lldecode.analysis.summarize import Summary
    from lldecode.output import reports, tables
    from lldecode.output.jsonable import write_json_document, write_ndjson_line
    from lldecode.output.text import utf8_stdout

    try:
        summary = Summary(_split_by(by))
    except ValueError as exc:
        fail(f"--by: {exc}")
    run = _run(kwargs, context=bool({"exe", "syscall"} & set(summary.by)),
               keep_domains="domain" in summary.by and not summary.accounting)
    tally = run.tally(by=summary.by)
    summary, registry = tally.summary, tally.registry

    def rows():
        groups = summary.rows(registry)
        return itertools.islice(groups, top) if top else groups

    out = utf8_stdout()
    if fmt == "json":
        write_json_document(out, {"total": summary.total, "by": summary.by}, "groups", rows())
    elif fmt == "ndjson":
        for row in rows():
            write_ndjson_line(out, row)
    else:
        headers = reports.summary_headers(summary.by)
        groups = itertools.count(1)
        table = (reports.summary_line(summary.by, row, utc) for row, _ in zip(rows(), groups))
        if fmt == "csv":
            tables.write_csv(out, headers, table)
        else:
            tables.write_table(out, headers, table, tablefmt)
            shown = next(groups) - 1
            out.write(f"{summary.total} denials in {shown} groups\n")
    run.exit(summary.total > 0)


# -- domains -----------------------------------------------------------------------

@click.command("domains")
@input_options
@selection_options
@format_option(["table", "json", "csv", "text"], "table")
@tablefmt_option
@utc_option
@guarded
def domains_cmd(fmt, tablefmt, utc, **kwargs):
    """List every Landlock domain: creator, status, denials logged and reported.

    With a selection, only the domains with a selected denial are listed
    (and a SELECTED count is added).  Where the input holds fewer denials
    than the kernel counted, the likely causes are given.
    """
    from lldecode.analysis.domain_report import domain_rows
    from lldecode.output import reports, tables
    from lldecode.output.jsonable import write_json_list
    from lldecode.output.text import utf8_stdout

    run = _run(kwargs, keep_domains=True)
    run.shows_gap_causes = True
    tally = run.tally(per_domain=not run.selection.empty)
    selected, registry, stats = tally.selected, tally.registry, tally.stats

    def rows():
        return domain_rows(registry, stats, selected)

    out = utf8_stdout()
    listed = 0
    if fmt == "json":
        write_json_list(out, rows())
        listed = len(registry)
    elif fmt == "text":
        for row in rows():
            out.write(("\n" if listed else "") + reports.domain_text(row, utc) + "\n")
            listed += 1
    else:
        headers = reports.domain_headers(selected is not None)
        table = (reports.domain_line(row, utc, selected is not None) for row in rows())
        if fmt == "csv":
            tables.write_csv(out, headers, table)
        else:
            tables.write_table(out, headers, table, tablefmt)
            for row in rows():
                if row["gap_causes"]:
                    out.write(reports.gap_note(row))
        listed = len(registry)
    run.exit(bool(listed) if selected is None else sum(selected.values()) > 0)
