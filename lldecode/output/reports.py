"""The reading commands' rows and paragraphs as text: filter lines, summary
and domain tables, domain paragraphs and gap notes.

Values arrive as the analyses give them (bytes from the log kept); any of
them may hold what an attacker wrote in the log (a domain id, a pid, a
uid, a mode, a blocker name as much as a path).  Every value is made safe
where it is formatted: each ``{...}`` of a line is ``{safe(value)}``, a
styled word is escaped by :class:`~lldecode.output.text.Style`, and tables
and CSV make their cells safe.  A function returning composed text returns
it as :class:`~lldecode.output.text.Safe`, so that a table does not escape
it a second time.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Optional, Sequence

from lldecode.analysis.denials import Denial, ProcessInfo
from lldecode.analysis.domains import Creator
from lldecode.analysis.explain import where
from lldecode.audit.values import LogNumber
from lldecode.output.text import Safe, Style, format_time, safe

# Distinct creators whose text is memoized: summaries repeat a few over
# many rows; a bound keeps memory flat when there are many.
_CREATORS_KEPT = 4096
# Blockers named in a domain's table row; its paragraph names more.
TOP_BLOCKERS = 3
TOP_BLOCKERS_TEXT = 10

# -- filter -------------------------------------------------------------------------

FILTER_COLUMNS = ("time", "domain", "blockers", "object", "syscall", "comm", "pid")


def filter_row(denial: Denial, utc: bool) -> List[Any]:
    """One denial as the cells of FILTER_COLUMNS."""
    process: ProcessInfo = denial.process or {}
    return [format_time(denial.time, utc), denial.domain, ",".join(denial.blockers),
            where(denial), process.get("syscall"), process.get("comm"), process.get("pid")]


def filter_line(row: List[Any], style: Style) -> str:
    """A filter row as one line of text."""
    return Safe(f"{safe(row[0])} {style(row[1], 'cyan')} {style(row[2], 'red')} "
                f"{safe(row[3])} {safe(row[4])} {safe(row[5])}[{safe(row[6])}]\n")


# -- summarize ----------------------------------------------------------------------

SUMMARY_HEADERS = {"domain": "DOMAIN", "blocker": "BLOCKER", "exe": "EXE", "path": "PATH",
                   "syscall": "SYSCALL"}


def summary_headers(by: Sequence[str]) -> List[str]:
    """The summary table's headers for these dimensions."""
    headers = [SUMMARY_HEADERS[d] for d in by]
    if "domain" in by:
        headers += ["CREATOR", "LOGGED", "REPORTED"]
    return headers + ["COUNT", "FIRST", "LAST"]


def summary_line(by: Sequence[str], row: Dict[str, Any], utc: bool) -> List[Any]:
    """A summary row (lldecode.analysis.summarize) as table cells."""
    line = [row.get(d) for d in by]
    if "domain" in by:
        creator: Creator = row.get("creator") or Creator()
        line += [_creator(creator), row.get("denials_logged"), row.get("denials_reported")]
    return line + [row["count"], format_time(row["first"], utc), format_time(row["last"], utc)]


def _creator(creator: Creator) -> str:
    if not creator:
        return Safe("-")
    return _exe_and_pid(creator.get("exe"), creator.get("pid"))


@functools.lru_cache(maxsize=_CREATORS_KEPT)
def _exe_and_pid(exe: Optional[bytes], pid: LogNumber) -> str:
    return Safe(f"{safe(exe)} [{safe(pid)}]")


def summary_text(by: Sequence[str], row: Dict[str, Any], utc: bool) -> str:
    """A summary group as one line of text (``summarize --format text``):
    ``blocker fs.read_file: 14 denials, first ..., last ...``."""
    parts = []
    for dimension in by:
        part = f"{safe(dimension)} {safe(row.get(dimension))}"
        if dimension == "domain":
            reported = row.get("denials_reported")
            creator = _creator(row.get("creator") or Creator())
            part += (f" (created by {safe(creator)}; "
                     f"{safe(row.get('denials_logged'))} logged, "
                     f"{safe(reported if reported is not None else 'unknown')} "
                     "counted by the kernel)")
        parts.append(part)
    count = row["count"]
    plural = "" if count == 1 else "s"
    return Safe(f"{safe(Safe(', '.join(parts)))}: {safe(count)} denial{safe(plural)}, "
                f"first {format_time(row['first'], utc)}, last {format_time(row['last'], utc)}\n")


def created_by(creator: Creator, with_uid: bool = False) -> str:
    """A domain's creator in words: ``created by COMM (pid PID, [uid UID, ]EXE)``."""
    uid = Safe(f"uid {safe(creator.get('uid'))}, " if with_uid else "")
    return Safe(f"created by {safe(creator.get('comm'))} (pid {safe(creator.get('pid'))}, "
                f"{safe(uid)}{safe(creator.get('exe'))})")


# -- domains ------------------------------------------------------------------------

DOMAIN_HEADERS = ["DOMAIN", "CREATOR", "PID", "UID", "MODE", "STATUS", "FIRST DENIAL",
                  "LAST DENIAL", "LOGGED", "REPORTED"]


def top_blockers(blockers: Dict[str, int], n: int = TOP_BLOCKERS) -> str:
    """The first ``n`` blockers (most frequent first) with their counts."""
    return Safe(", ".join(f"{safe(name)} ({safe(count)})"
                          for name, count in list(blockers.items())[:n]))


def domain_headers(with_selected: bool) -> List[str]:
    """The domains table's headers (SELECTED when a selection is in force)."""
    return DOMAIN_HEADERS + (["SELECTED"] if with_selected else []) + ["TOP BLOCKERS"]


def domain_line(row: Dict[str, Any], utc: bool, with_selected: bool) -> List[Any]:
    """A domain row (lldecode.analysis.domain_report) as table cells."""
    creator: Creator = row["creator"] or Creator()
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
        head = (f"\n{safe(row['domain'])}: the kernel counted "
                f"{safe(row['denials_reported'])} denials, "
                f"this input holds {safe(row['denials_logged'])}:")
    else:
        head = f"\n{safe(row['domain'])}:"
    return Safe(head + "".join(f"\n  - {safe(cause)}" for cause in row["gap_causes"]) + "\n")


def domain_text(row: Dict[str, Any], utc: bool) -> str:
    """One domain as a paragraph."""
    creator = row["creator"]
    lines = [f"domain {safe(row['domain'])} ({safe(row['status'])}"
             + (f", boot {safe(row['boot'])}" if row["boot"] else "")
             + (f", node {safe(row['node'])}" if row["node"] else "") + ")"]
    if creator:
        lines.append(f"  {safe(created_by(creator, with_uid=True))}, "
                     f"mode {safe(row['mode'] or '-')}")
    else:
        lines.append("  creator unknown: its allocated record is not in this input")
    reported = row["denials_reported"]
    lines.append(f"  denials: {safe(row['denials_logged'])} logged, "
                 f"{safe(reported if reported is not None else 'unknown')}"
                 f" counted by the kernel; first {format_time(row['first_denial'], utc)}, "
                 f"last {format_time(row['last_denial'], utc)}")
    if row["blockers"]:
        lines.append(f"  blockers: {safe(top_blockers(row['blockers'], TOP_BLOCKERS_TEXT))}")
    for cause in row["gap_causes"]:
        lines.append(f"  gap: {safe(cause)}")
    return Safe("\n".join(lines))
