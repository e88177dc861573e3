"""The reading commands: filter, explain, summarize, domains.

Each one wires its options to the stages (lldecode.analysis.pipeline for reading,
lldecode.analysis.selection for choosing, lldecode.analysis.explain / lldecode.analysis.summarize for
the analyses, lldecode.output.render for the output) and nothing more.
"""

from __future__ import annotations

import functools
import itertools
import json
import sys

import click

from lldecode.output import render
from lldecode.cli.common import (Run, color_option, fail, format_option, guarded,
                                 input_options, selection_kwargs, selection_options,
                                 tablefmt_option, utc_option)


def _run(kwargs, context: bool = True, keep_domains: bool = False) -> Run:
    return Run(kwargs.pop("files"), kwargs.pop("strict"), kwargs.pop("netlink_idle"),
               kwargs.pop("progress"), selection_kwargs(kwargs), context, keep_domains,
               kwargs.pop("jobs"))


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

FILTER_COLUMNS = ("time", "domain", "blockers", "object", "syscall", "comm", "pid")


def _filter_row(denial, utc):
    from lldecode.analysis.explain import where
    from lldecode.output.render import format_time

    process = denial.process or {}
    return [format_time(denial.time, utc), denial.domain, ",".join(denial.blockers),
            where(denial), process.get("syscall"), process.get("comm"), process.get("pid")]


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
    from lldecode.output.jsonable import denial_dict

    run = _run(kwargs, context=not (count or quiet))
    out = sys.stdout
    n = 0
    if quiet:
        for _ in run.denials():
            n += 1
            break
    elif count:
        n = run.tally().count
        out.write(f"{n}\n")
    elif fmt == "raw":
        for event, denials in run.events():
            n += len(denials)
            out.write("".join(r.line + "\n" for r in event.records))
    elif fmt == "ndjson":
        for denial in run.denials():
            n += 1
            render.write_ndjson_line(out, denial_dict(denial))
    elif fmt == "json":
        counted = _counting(run.denials())
        render.write_json_list(out, (denial_dict(d) for d in counted))
        n = counted.n
    elif fmt in ("csv", "table"):
        counted = _counting(run.denials())
        rows = (_filter_row(d, utc) for d in counted)
        if fmt == "csv":
            render.write_csv(out, FILTER_COLUMNS, rows)
        else:
            render.write_table(out, [c.upper() for c in FILTER_COLUMNS], rows, tablefmt)
        n = counted.n
    else:
        style = render.Style(color)
        for denial in run.denials():
            n += 1
            row = _filter_row(denial, utc)
            out.write(f"{row[0]} {style(row[1], 'cyan')} {style(row[2], 'red')} {row[3]}"
                      f" {render.safe(row[4])} {render.safe(row[5])}[{render.safe(row[6])}]\n")
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

    policy = _load_policy(policies) if policies else None
    run = _run(kwargs)
    out = sys.stdout
    style = render.Style(color)
    paragraphs = _counting(explain.paragraphs(explain.operations(run.denials())))
    if fmt == "text":
        for paragraph in paragraphs:
            out.write(("\n" if paragraphs.n > 1 else "")
                      + explain.render_text(paragraph, style, utc, policy) + "\n")
    else:
        from lldecode.output.jsonable import convert

        items = (convert(explain.explanation(p, policy)) for p in paragraphs)
        if fmt == "ndjson":
            for item in items:
                render.write_ndjson_line(out, item)
        else:
            render.write_json_list(out, items)
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

SUMMARY_HEADERS = {"domain": "DOMAIN", "blocker": "BLOCKER", "exe": "EXE", "path": "PATH",
                   "syscall": "SYSCALL"}


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
    from lldecode.output.jsonable import convert
    from lldecode.analysis.summarize import Summary

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

    out = sys.stdout
    if fmt == "json":
        out.write(f'{{"total": {summary.total}, "by": {json.dumps(summary.by)}, "groups": ')
        render.write_json_list(out, (convert(row) for row in rows()))
        out.write("}\n")
    elif fmt == "ndjson":
        for row in rows():
            render.write_ndjson_line(out, convert(row))
    else:
        headers = _summary_headers(summary.by)
        groups = itertools.count(1)
        table = (_summary_line(summary.by, row, utc) for row, _ in zip(rows(), groups))
        if fmt == "csv":
            render.write_csv(out, headers, table)
        else:
            render.write_table(out, headers, table, tablefmt)
            shown = next(groups) - 1
            out.write(f"{summary.total} denials in {shown} groups\n")
    run.exit(summary.total > 0)


def _summary_headers(by):
    headers = [SUMMARY_HEADERS[d] for d in by]
    if "domain" in by:
        headers += ["CREATOR", "LOGGED", "REPORTED"]
    return headers + ["COUNT", "FIRST", "LAST"]


def _summary_line(by, row, utc):
    format_time = render.format_time
    line = [row.get(d) for d in by]
    if "domain" in by:
        creator = row.get("creator") or {}
        line += [_creator(creator), row.get("denials_logged"), row.get("denials_reported")]
    return line + [row["count"], format_time(row["first"], utc), format_time(row["last"], utc)]


def _creator(creator) -> str:
    if not creator:
        return "-"
    return _exe_and_pid(creator.get("exe"), creator.get("pid"))


@functools.lru_cache(maxsize=4096)
def _exe_and_pid(exe, pid) -> str:
    return render.Safe(f"{render.safe(exe)} [{pid}]")


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
    from lldecode.output.jsonable import convert
    from lldecode.analysis.summarize import domain_rows

    run = _run(kwargs, keep_domains=True)
    tally = run.tally(per_domain=not run.selection.empty)
    selected, registry, stats = tally.selected, tally.registry, tally.stats

    def rows():
        return domain_rows(registry, stats, selected)

    out = sys.stdout
    listed = 0
    if fmt == "json":
        render.write_json_list(out, (convert(row) for row in rows()))
        listed = len(registry)
    elif fmt == "text":
        for row in rows():
            out.write(("\n" if listed else "") + _domain_text(row, utc) + "\n")
            listed += 1
    else:
        headers = _domain_headers(selected is not None)
        table = (_domain_line(row, utc, selected is not None) for row in rows())
        if fmt == "csv":
            render.write_csv(out, headers, table)
        else:
            render.write_table(out, headers, table, tablefmt)
            for row in rows():
                if row["gap_causes"]:
                    out.write(_gap_note(row))
        listed = len(registry)
    run.exit(bool(listed) if selected is None else sum(selected.values()) > 0)


def _top_blockers(blockers, n=3) -> str:
    return ", ".join(f"{name} ({count})" for name, count in list(blockers.items())[:n])


def _domain_headers(with_selected):
    headers = ["DOMAIN", "CREATOR", "PID", "UID", "MODE", "STATUS", "FIRST DENIAL",
               "LAST DENIAL", "LOGGED", "REPORTED"]
    return headers + (["SELECTED"] if with_selected else []) + ["TOP BLOCKERS"]


def _domain_line(row, utc, with_selected):
    from lldecode.output.render import format_time

    creator = row["creator"] or {}
    line = [row["domain"], creator.get("exe"), creator.get("pid"), creator.get("uid"),
            row["mode"], row["status"], format_time(row["first_denial"], utc),
            format_time(row["last_denial"], utc), row["denials_logged"],
            row["denials_reported"]]
    if with_selected:
        line.append(row.get("denials_selected"))
    return line + [_top_blockers(row["blockers"])]


def _gap_note(row) -> str:
    from lldecode.output.render import safe

    if row["missing"]:
        head = (f"\n{row['domain']}: the kernel counted {row['denials_reported']} denials, "
                f"this input holds {row['denials_logged']}:")
    else:
        head = f"\n{row['domain']}:"
    return head + "".join(f"\n  - {safe(cause)}" for cause in row["gap_causes"]) + "\n"


def _domain_text(row, utc) -> str:
    from lldecode.output.render import format_time, safe

    creator = row["creator"]
    lines = [f"domain {row['domain']} ({row['status']}"
             + (f", boot {row['boot']}" if row["boot"] else "")
             + (f", node {safe(row['node'])}" if row["node"] else "") + ")"]
    if creator:
        lines.append(f"  created by {safe(creator.get('comm'))} (pid {creator.get('pid')}, "
                     f"uid {creator.get('uid')}, {safe(creator.get('exe'))}), "
                     f"mode {row['mode'] or '-'}")
    else:
        lines.append("  creator unknown: its allocated record is not in this input")
    lines.append(f"  denials: {row['denials_logged']} logged, "
                 f"{row['denials_reported'] if row['denials_reported'] is not None else 'unknown'}"
                 f" counted by the kernel; first {format_time(row['first_denial'], utc)}, "
                 f"last {format_time(row['last_denial'], utc)}")
    if row["blockers"]:
        lines.append(f"  blockers: {_top_blockers(row['blockers'], 10)}")
    for cause in row["gap_causes"]:
        lines.append(f"  gap: {safe(cause)}")
    return "\n".join(lines)
