"""The reading commands' rows and paragraphs as text: filter lines, summary
and domain tables, domain paragraphs and gap notes.

Values arrive as the analyses give them (bytes from the log kept); every
one is made safe here (tables and CSV make cells safe themselves).
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Sequence

from lldecode.analysis.explain import where
from lldecode.output.text import Safe, Style, format_time, safe

# -- filter -------------------------------------------------------------------------

FILTER_COLUMNS = ("time", "domain", "blockers", "object", "syscall", "comm", "pid")


def filter_row(denial: Any, utc: bool) -> List[Any]:
    """One denial as the cells of FILTER_COLUMNS."""
    process = denial.process or {}
    return [format_time(denial.time, utc), denial.domain, ",".join(denial.blockers),
            where(denial), process.get("syscall"), process.get("comm"), process.get("pid")]


def filter_line(row: List[Any], style: Style) -> str:
    """A filter row as one line of text."""
    return (f"{row[0]} {style(row[1], 'cyan')} {style(row[2], 'red')} {safe(row[3])}"
            f" {safe(row[4])} {safe(row[5])}[{safe(row[6])}]\n")


# -- summarize ----------------------------------------------------------------------

SUMMARY_HEADERS = {"domain": "DOMAIN", "blocker": "BLOCKER", "exe": "EXE", "path": "PATH",
                   "syscall": "SYSCALL"}


def summary_headers(by: Sequence[str]) -> List[str]:
    headers = [SUMMARY_HEADERS[d] for d in by]
    if "domain" in by:
        headers += ["CREATOR", "LOGGED", "REPORTED"]
    return headers + ["COUNT", "FIRST", "LAST"]


def summary_line(by: Sequence[str], row: Dict[str, Any], utc: bool) -> List[Any]:
    line = [row.get(d) for d in by]
    if "domain" in by:
        creator = row.get("creator") or {}
        line += [_creator(creator), row.get("denials_logged"), row.get("denials_reported")]
    return line + [row["count"], format_time(row["first"], utc), format_time(row["last"], utc)]


def _creator(creator: Dict[str, Any]) -> str:
    if not creator:
        return "-"
    return _exe_and_pid(creator.get("exe"), creator.get("pid"))


# Summaries repeat a few creators over many rows: their text is memoized.
@functools.lru_cache(maxsize=4096)
def _exe_and_pid(exe: Optional[bytes], pid: Optional[int]) -> str:
    return Safe(f"{safe(exe)} [{pid}]")


# -- domains ------------------------------------------------------------------------

DOMAIN_HEADERS = ["DOMAIN", "CREATOR", "PID", "UID", "MODE", "STATUS", "FIRST DENIAL",
                  "LAST DENIAL", "LOGGED", "REPORTED"]


def top_blockers(blockers: Dict[str, int], n: int = 3) -> str:
    return ", ".join(f"{name} ({count})" for name, count in list(blockers.items())[:n])


def domain_headers(with_selected: bool) -> List[str]:
    return DOMAIN_HEADERS + (["SELECTED"] if with_selected else []) + ["TOP BLOCKERS"]


def domain_line(row: Dict[str, Any], utc: bool, with_selected: bool) -> List[Any]:
    creator = row["creator"] or {}
    line = [row["domain"], creator.get("exe"), creator.get("pid"), creator.get("uid"),
            row["mode"], row["status"], format_time(row["first_denial"], utc),
            format_time(row["last_denial"], utc), row["denials_logged"],
            row["denials_reported"]]
    if with_selected:
        line.append(row.get("denials_selected"))
    return line + [top_blockers(row["blockers"])]


def gap_note(row: Dict[str, Any]) -> str:
    """The causes of a domain's unlogged denials, as a note under the table."""
    if row["missing"]:
        head = (f"\n{row['domain']}: the kernel counted {row['denials_reported']} denials, "
                f"this input holds {row['denials_logged']}:")
    else:
        head = f"\n{row['domain']}:"
    return head + "".join(f"\n  - {safe(cause)}" for cause in row["gap_causes"]) + "\n"


def domain_text(row: Dict[str, Any], utc: bool) -> str:
    """One domain as a paragraph."""
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
        lines.append(f"  blockers: {top_blockers(row['blockers'], 10)}")
    for cause in row["gap_causes"]:
        lines.append(f"  gap: {safe(cause)}")
    return "\n".join(lines)
