"""CSV and TSV: the reading commands' records as flat rows, for scripts and
spreadsheets.

Every command's columns are named in lower snake case (the keys of its JSON
records, docs/json.md); the denied object is split into columns (path, dev,
ino, ioctlcmd, saddr, src, daddr, dest, opid, ocomm), never prose.  An
absent value is an empty cell.

Each cell is made safe as every text output is
(:func:`lldecode.output.text.safe`): a tab, newline or carriage return is
written ``\\t``, ``\\n``, ``\\r``, a backslash ``\\\\``, other control
characters and bytes that are not UTF-8 ``\\xNN``: a TSV line is one row
whatever the log held, and a cell reads back by undoing the escapes.
Several values in one cell (blockers, fixes) are separated by commas, or,
for sentences, by an escaped newline (``\\n``).
"""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO

from lldecode.analysis.denials import Denial, ProcessInfo
from lldecode.output.jsonable import OBJECT_KEYS, id_number
from lldecode.output.text import Safe, format_time, safe

FLAT_FORMATS = ("csv", "tsv")


def flat_cell(value: Any) -> str:
    """A cell: empty for no value, else the value made safe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe(value)


def write_flat(out: TextIO, fmt: str, headers: Sequence[str],
               rows: Iterable[Sequence[Any]]) -> None:
    """A CSV (``fmt`` "csv") or TSV ("tsv") table, streamed."""
    line = row_writer(fmt)
    out.write(line(headers))
    for row in rows:
        out.write(line([flat_cell(v) for v in row]))


def row_writer(fmt: str) -> Callable[[Sequence[str]], str]:
    """The line of a row of cells (already made safe) in CSV (``fmt``
    "csv", quoted as the csv module quotes) or TSV ("tsv")."""
    if fmt == "tsv":
        return lambda cells: "\t".join(cells) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells: Sequence[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    return line


def row_renderer(fmt: str, row: Callable[[Any], Sequence[Any]]) -> Callable[[Any], str]:
    """The line of ``row(item)``'s cells, made safe, in CSV or TSV: the
    rows of :func:`write_flat` one at a time (after its header line)."""
    line = row_writer(fmt)
    return lambda item: line([flat_cell(v) for v in row(item)])


def _uid(value: Any) -> Any:
    """A logged uid as a number where it can be known (see jsonable._id)."""
    if isinstance(value, str):
        return id_number(value) if value.isascii() else None
    return value


def _uid_name(value: Any) -> Any:
    return value if isinstance(value, str) else None


# -- filter ------------------------------------------------------------------------

DENIAL_COLUMNS = ("time", "serial", "node", "domain", "blockers", *OBJECT_KEYS,
                  "syscall", "errno", "pid", "uid", "uid_name", "comm", "exe", "file", "line")


def denial_row(denial: Denial, utc: bool) -> List[Any]:
    """One denial as the cells of DENIAL_COLUMNS."""
    process: ProcessInfo = denial.process or {}
    obj: Mapping[str, Any] = denial.object
    record = denial.record
    uid = process.get("uid")
    return [format_time(denial.time, utc), denial.serial, denial.node, denial.domain,
            ",".join(denial.blockers), *[obj.get(k) for k in OBJECT_KEYS],
            process.get("syscall"), process.get("errno"), process.get("pid"), _uid(uid),
            _uid_name(uid), process.get("comm"), process.get("exe"), record.source,
            record.lineno]


# -- explain -----------------------------------------------------------------------

EXPLAIN_COLUMNS = ("time", "last_time", "count", "serial", "domain", "blockers", "syscall",
                   "errno", *OBJECT_KEYS, "destination_path", "pid", "uid", "uid_name",
                   "comm", "exe", "from_creator", "fix", "policy_layer", "policy_file")


def _sentences(values: Iterable[Any]) -> str:
    """Sentences in one cell, separated by an escaped newline."""
    return Safe("\\n".join(safe(v) for v in values))


def explanation_row(denials: Sequence[Denial], item: Mapping[str, Any],
                    utc: bool) -> List[Any]:
    """One explained paragraph (its denials and its explanation) as the
    cells of EXPLAIN_COLUMNS: the object of its first record, and the path
    of the second record of a rename or link (``destination_path``)."""
    first = denials[0]
    obj: Mapping[str, Any] = first.object
    who: Mapping[str, Any] = item.get("who") or {}
    what: Mapping[str, Any] = item.get("what") or {}
    policy: Mapping[str, Any] = item.get("policy") or {}
    blockers: List[str] = []
    for d in denials:
        blockers.extend(b for b in d.blockers if b not in blockers)
    uid = who.get("uid")
    return [format_time(item.get("time"), utc), format_time(item.get("last_time"), utc),
            item.get("count"), item.get("serial"), first.domain, ",".join(blockers),
            what.get("syscall"), what.get("errno"), *[obj.get(k) for k in OBJECT_KEYS],
            denials[1].path if len(denials) > 1 else None, who.get("pid"), _uid(uid),
            _uid_name(uid), who.get("comm"), who.get("exe"), bool(who.get("from_creator")),
            _sentences(item.get("fix") or []), policy.get("layer"), policy.get("policy")]


# -- summarize ---------------------------------------------------------------------

def summary_columns(by: Sequence[str]) -> List[str]:
    """The columns of a summary grouped by these dimensions."""
    columns = list(by)
    if "domain" in by:
        columns += ["node", "creator_exe", "creator_pid", "denials_logged", "denials_reported"]
    return columns + ["count", "first", "last"]


def summary_row(by: Sequence[str], row: Mapping[str, Any], utc: bool) -> List[Any]:
    """A summary group (lldecode.analysis.summarize) as the cells of
    :func:`summary_columns`."""
    cells = [row.get(d) for d in by]
    if "domain" in by:
        creator: Mapping[str, Any] = row.get("creator") or {}
        cells += [row.get("node"), creator.get("exe"), creator.get("pid"),
                  row.get("denials_logged"), row.get("denials_reported")]
    return cells + [row["count"], format_time(row["first"], utc), format_time(row["last"], utc)]


# -- domains -----------------------------------------------------------------------

DOMAIN_COLUMNS = ("domain", "node", "boot", "status", "mode", "creator_exe", "creator_pid",
                  "creator_uid", "creator_uid_name", "creator_comm", "first_denial",
                  "last_denial", "deallocated_time", "denials_logged", "denials_reported",
                  "missing")


def domain_columns(with_selected: bool) -> List[str]:
    """The columns of the domains report (denials_selected with a selection)."""
    return (list(DOMAIN_COLUMNS) + (["denials_selected"] if with_selected else [])
            + ["blockers", "gap_causes"])


def domain_row(row: Mapping[str, Any], utc: bool, with_selected: bool) -> List[Any]:
    """A domain (lldecode.analysis.domain_report) as the cells of
    :func:`domain_columns`: its blockers as ``name:count`` pairs."""
    creator: Mapping[str, Any] = row.get("creator") or {}
    uid = creator.get("uid")
    cells = [row["domain"], row.get("node"), row.get("boot"), row.get("status"),
             row.get("mode"), creator.get("exe"), creator.get("pid"), _uid(uid),
             _uid_name(uid), creator.get("comm"), _time(row.get("first_denial"), utc),
             _time(row.get("last_denial"), utc), _time(row.get("deallocated_time"), utc),
             row.get("denials_logged"), row.get("denials_reported"), row.get("missing")]
    if with_selected:
        cells.append(row.get("denials_selected"))
    blockers: Dict[str, int] = row.get("blockers") or {}
    return cells + [Safe(",".join(f"{safe(name)}:{safe(count)}"
                                  for name, count in blockers.items())),
                    _sentences(row.get("gap_causes") or [])]


def _time(stamp: Optional[float], utc: bool) -> Optional[str]:
    return format_time(stamp, utc) if stamp is not None else None
