"""Outputs a CI system shows natively: GitHub workflow commands, JUnit XML
and SARIF 2.1.0, for ``filter``, ``explain`` and ``summarize``.

Each command hands its denial groups over as :class:`Finding` values: one
per group of identical consecutive denials (``filter``, ``explain``: the
paragraphs ``explain`` prints) or per summary group (``summarize``).  A
finding names the log file and line of its (first) denial, as
``file:line``; standard input and the live netlink group are no file, and
give none.

Every text of a finding (title, message, file name) is first made safe for
a terminal (:func:`lldecode.output.text.safe`: control characters, newlines,
invisible and bidirectional characters escaped, bytes that are not UTF-8 as
``\\xNN``): a CI log shown in a browser or a terminal gets nothing raw.  Then
each format escapes it for its own syntax:

* GitHub (:func:`write_github`): ``%``, CR and LF in a command's message,
  and also ``:`` and ``,`` in its properties (file, title), as the runner's
  toolkit does; a value cannot end the command or start another one.
* JUnit (:func:`write_junit`): XML text and attributes escaped, and any
  character XML 1.0 cannot hold (U+FFFE, U+FFFF...) written as ``\\uXXXX``.
* SARIF (:func:`write_sarif`): JSON by :func:`lldecode.output.jsonable.dumps`;
  the values from the log are also kept whole, every byte, in each result's
  property bag (``<field>_hex`` beside bytes that are not UTF-8).

Memory stays bounded: GitHub and SARIF results are streamed; JUnit groups
its test cases by domain (a test suite each) in a temporary SQLite file.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass, field
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    TextIO,
    Tuple,
)

from lldecode.analysis.denials import Denial
from lldecode.analysis.explain import Paragraph, where
from lldecode.output.text import Safe, Style, format_time, safe

if TYPE_CHECKING:  # annotations only: policies are loaded when given
    from lldecode.landlock.policy import Policy

CI_FORMATS = ("github", "junit", "sarif")

SARIF_SCHEMA = ("https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/"
                "Schemata/sarif-schema-2.1.0.json")
LANDLOCK_DOCS = "https://docs.kernel.org/userspace-api/landlock.html"
INFORMATION_URI = "https://docs.kernel.org/admin-guide/LSM/landlock.html"


@dataclass
class Finding:
    """One denial group, as the CI formats report it.

    ``title`` and ``message`` are terminal-safe text (lines of ``message``
    joined by newlines); ``file`` is the log's name as given (each format
    escapes it: GitHub and JUnit show it terminal-safe, SARIF's URI keeps
    every byte, percent-encoded); ``data`` holds the group's values from the log as
    they are (bytes kept), for SARIF's property bag."""

    level: str                       # "error" or "warning"
    title: str
    message: str
    domain: Optional[str]
    blockers: List[str]
    count: int
    file: Optional[str] = None
    line: Optional[int] = None
    data: Dict[str, Any] = field(default_factory=dict)
    key: Tuple[Any, ...] = ()        # what makes the group (for a fingerprint)

    @property
    def where(self) -> str:
        """``file:line``, ``file`` (terminal-safe), or an empty string."""
        if self.file is None:
            return ""
        return f"{safe(self.file)}:{self.line}" if self.line is not None else safe(self.file)


# -- from the commands' groups --------------------------------------------------------

def log_location(source: Optional[str], lineno: Optional[int]
                 ) -> Tuple[Optional[str], Optional[int]]:
    """A record's file and line, as CI formats give them: (None, None) for
    standard input and netlink (no file a CI system could open)."""
    if not source or source.startswith("<") or source == "netlink":
        return None, None
    return source, lineno


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _level(denial: Denial) -> str:
    """error for a denial the kernel enforced; warning when the domain says
    it was not enforcing (a log-only mode)."""
    info = denial.domain_info
    mode = info.mode if info is not None else None
    return "warning" if mode is not None and mode != "enforcing" else "error"


def _who(denial: Denial) -> str:
    comm = denial.actor("comm")
    exe = denial.actor("exe")
    pid = denial.actor("pid")
    name = safe(comm if comm is not None else exe if exe is not None else "a process")
    return Safe(f"{name} (pid {safe(pid)})" if pid is not None else name)


def _group_data(paragraph: Paragraph) -> Dict[str, Any]:
    first = paragraph.first
    process = first.process or {}
    return {"domain": first.domain, "blockers": list(first.blockers),
            "count": paragraph.count, "time": first.time, "last_time": paragraph.last_time,
            "serial": first.serial, "objects": [d.object for d in paragraph.denials],
            "where": [where(d) for d in paragraph.denials],
            "syscall": process.get("syscall"), "errno": process.get("errno"),
            "pid": process.get("pid"), "comm": process.get("comm"),
            "exe": process.get("exe"), "proctitle": process.get("proctitle")}


def _paragraph_finding(paragraph: Paragraph, message: str, utc: bool) -> Finding:
    first = paragraph.first
    blockers: List[str] = []
    for d in paragraph.denials:
        blockers.extend(b for b in d.blockers if b not in blockers)
    places = Safe(" and ".join(safe(where(d)) for d in paragraph.denials))
    title = Safe(f"Landlock denied {safe(', '.join(blockers))} to {_who(first)} "
                 f"on {places}")
    file, line = log_location(first.record.source, first.record.lineno)
    if paragraph.count > 1:
        message += (f"\n{safe(paragraph.count)} times, from {format_time(first.time, utc)} "
                    f"to {format_time(paragraph.last_time, utc)}")
    key = (first.domain, tuple(blockers),
           tuple(tuple(sorted((k, repr(v)) for k, v in d.object.items()))
                 for d in paragraph.denials), first.actor("exe"))
    return Finding(_level(first), title, message, first.domain, blockers, paragraph.count,
                   file, line, _group_data(paragraph), key)


def filter_finding(paragraph: Paragraph, utc: bool) -> Finding:
    """A group of ``filter``: each denial as its text line (a rename's two)."""
    from lldecode.output.reports import filter_line, filter_row

    plain = Style("never")
    lines = "".join(filter_line(filter_row(d, utc), plain) for d in paragraph.denials)
    return _paragraph_finding(paragraph, Safe(lines.rstrip("\n")), utc)


def explain_finding(paragraph: Paragraph, utc: bool,
                    policy: Optional[Policy] = None) -> Finding:
    """A paragraph of ``explain``, with its explanation as the message."""
    from lldecode.output.explain import render_text

    return _paragraph_finding(paragraph, render_text(paragraph, Style("never"), utc, policy),
                              utc)


def explain_findings(paragraphs: Iterable[Paragraph], utc: bool,
                     policy: Optional[Policy] = None) -> Iterator[Finding]:
    """``explain``'s paragraphs (see :func:`explain_finding`)."""
    for paragraph in paragraphs:
        yield explain_finding(paragraph, utc, policy)


def summary_findings(by: Sequence[str], rows: Iterable[Dict[str, Any]],
                     utc: bool) -> Iterator[Finding]:
    """``summarize``'s groups; a row's ``location`` (file, line) is where its
    earliest denial was read (see lldecode.analysis.summarize)."""
    from lldecode.output.reports import summary_headers, summary_line

    headers = summary_headers(by)
    for row in rows:
        cells = summary_line(by, row, utc)
        named = [f"{safe(d)} {safe(row.get(d))}" for d in by]
        blockers = [row["blocker"]] if row.get("blocker") is not None else []
        title = Safe(f"Landlock: {_plural(row['count'], 'denial')}, " + ", ".join(named))
        message = Safe("\n".join(f"{safe(h.lower())}: {safe(c)}"
                                 for h, c in zip(headers, cells)))
        file, line = log_location(*(row.get("location") or (None, None)))
        data = {k: v for k, v in row.items() if k != "location"}
        key = tuple(repr(row.get(d)) for d in by)
        yield Finding("error", title, message, row.get("domain"), blockers, row["count"],
                      file, line, data, key)


# -- GitHub workflow commands ---------------------------------------------------------

def _command_data(text: str) -> str:
    """A workflow command's message (the runner's escapeData)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _command_property(text: str) -> str:
    """A workflow command's property value (the runner's escapeProperty)."""
    return _command_data(text).replace(":", "%3A").replace(",", "%2C")


def github_command(finding: Finding) -> str:
    """One ``::error``/``::warning`` workflow command (a line)."""
    props = []
    if finding.file is not None:
        props.append(f"file={_command_property(safe(finding.file))}")
        if finding.line is not None:
            props.append(f"line={finding.line}")
    props.append(f"title={_command_property(finding.title)}")
    return f"::{finding.level} {','.join(props)}::{_command_data(finding.message)}\n"


def write_github(out: TextIO, findings: Iterable[Finding]) -> int:
    """One workflow command per finding; the number written."""
    n = 0
    for finding in findings:
        out.write(github_command(finding))
        n += 1
    return n


# -- JUnit XML ------------------------------------------------------------------------

# What XML 1.0 cannot hold, even escaped (the text is terminal-safe already:
# only the noncharacters U+FFFE and U+FFFF can be left of these).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_char(match: "re.Match[str]") -> str:
    return f"\\u{ord(match.group(0)):04x}"


def xml_text(text: str) -> str:
    """Text for an XML element's content."""
    text = _NOT_XML.sub(_xml_char, text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(text: str) -> str:
    """Text for a double-quoted XML attribute (line ends kept as references)."""
    return (xml_text(text).replace('"', "&quot;").replace("\n", "&#10;")
            .replace("\r", "&#13;").replace("\t", "&#9;"))


def _testcase(finding: Finding) -> str:
    classname = f"landlock.{finding.domain}" if finding.domain else "landlock"
    body = finding.message + (f"\nat {finding.where}" if finding.where else "")
    return (f'    <testcase name="{xml_attr(finding.title)}" classname="{xml_attr(classname)}"'
            f' time="0">\n'
            f'      <failure message="{xml_attr(finding.title)}" '
            f'type="{xml_attr(safe(",".join(finding.blockers)) or "landlock")}">'
            f"{xml_text(body)}</failure>\n"
            f"    </testcase>\n")


class _Suites:
    """Test cases by suite, in a temporary SQLite file (bounded memory)."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # a private temporary file
        self.db.execute("CREATE TABLE t (suite INTEGER, seq INTEGER, xml TEXT)")
        self.order: Dict[str, List[int]] = {}   # suite name -> [index, cases]
        self.seq = 0

    def add(self, suite: str, xml: str) -> None:
        entry = self.order.get(suite)
        if entry is None:
            entry = self.order[suite] = [len(self.order), 0]
        entry[1] += 1
        self.seq += 1
        self.db.execute("INSERT INTO t VALUES (?, ?, ?)", (entry[0], self.seq, xml))

    def cases(self, index: int) -> Iterator[str]:
        cursor = self.db.execute("SELECT xml FROM t WHERE suite = ? ORDER BY seq", (index,))
        for (xml,) in cursor:
            yield xml

    def close(self) -> None:
        self.db.close()


def write_junit(out: TextIO, findings: Iterable[Finding], command: str) -> int:
    """A JUnit XML report: a test suite per domain, a failed test case per
    finding (a passing one, "no Landlock denial", when there is none); the
    number of findings."""
    suites = _Suites()
    try:
        suites.db.execute("CREATE INDEX t_suite ON t (suite, seq)")
        for finding in findings:
            name = (f"Landlock domain {finding.domain}" if finding.domain
                    else f"lldecode {command}")
            suites.add(name, _testcase(finding))
        total = suites.seq
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write(f'<testsuites name="{xml_attr("lldecode " + command)}" tests="{max(total, 1)}"'
                  f' failures="{total}" errors="0">\n')
        if not total:
            out.write(f'  <testsuite name="{xml_attr("lldecode " + command)}" tests="1" '
                      'failures="0" errors="0" skipped="0">\n'
                      '    <testcase name="no Landlock denial" classname="landlock" '
                      'time="0"/>\n  </testsuite>\n')
        for name, (index, cases) in suites.order.items():
            out.write(f'  <testsuite name="{xml_attr(name)}" tests="{cases}" '
                      f'failures="{cases}" errors="0" skipped="0">\n')
            for xml in suites.cases(index):
                out.write(xml)
            out.write("  </testsuite>\n")
        out.write("</testsuites>\n")
        return total
    finally:
        suites.close()


# -- SARIF 2.1.0 ----------------------------------------------------------------------

def artifact_uri(file: str) -> str:
    """A log file name as a SARIF URI reference: percent-encoded, every
    byte kept; an absolute path as a ``file://`` URI."""
    raw = os.fsencode(file) if isinstance(file, str) else file
    quoted = urllib.parse.quote(raw, safe="/")
    return f"file://{quoted}" if raw.startswith(b"/") else quoted


# The rule of a group that is not by blocker (summarize --by domain, exe...).
ANY_DENIAL = "landlock.denial"


def _rule(blocker: str) -> Dict[str, Any]:
    """A SARIF rule (reportingDescriptor) for a blocker, with its help text."""
    from lldecode.analysis.explain import BLOCKER_FIXES
    from lldecode.landlock.access import NON_RIGHT_BLOCKERS, right

    name = safe(blocker)
    r = right(blocker) if blocker != ANY_DENIAL else None
    if blocker == ANY_DENIAL:
        short = "Landlock denied an access"
        full = ("A Landlock sandbox denied accesses (summarized by domain, executable, path "
                "or syscall; lldecode summarize --by blocker names the rights missing).")
        how = ("Run lldecode explain on the log: it names each missing right and the rule "
               "that would allow it.")
        known = True
    elif r is not None:
        short = f"Landlock denied {name}: {r.description}"
        full = (f"{name} ({r.description}) was not granted: it is needed by "
                f"{', '.join(r.syscalls) or 'the operations it guards'}; Landlock ABI {r.abi}"
                + ({"file": "; granted on files (or a directory above them)",
                    "dir": "; granted on directories"}.get(r.applies_to or "", "")) + ".")
        if blocker.startswith("fs."):
            how = (f"Allow {name} in a path_beneath rule on the denied path (or a directory "
                   "above it) in the ruleset of the domain that denied it, or keep the "
                   "process from needing it.")
        elif blocker.startswith("net."):
            how = (f"Allow {name} in a net_port rule for the denied port in the ruleset of "
                   "the domain that denied it.")
        else:
            fix = BLOCKER_FIXES.get(blocker)
            how = safe(fix.decode()) if fix else "See the Landlock documentation."
        known = True
    else:
        guard = NON_RIGHT_BLOCKERS.get(blocker)
        short = f"Landlock denied {name}: {guard or 'a blocker this lldecode does not know'}"
        full = short + "."
        fix = BLOCKER_FIXES.get(blocker)
        how = safe(fix.decode()) if fix else "See the Landlock documentation."
        known = guard is not None
    text = (f"{full}\n\nHow to fix: {how}\n\nTo keep the sandbox as it is and stop logging "
            "this, the sandboxing program can pass LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF "
            "to landlock_restrict_self().")
    rule: Dict[str, Any] = {
        "id": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": text},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", "landlock"], "known": known},
    }
    if known:
        rule["helpUri"] = LANDLOCK_DOCS
    return rule


def sarif_result(finding: Finding, rule_ids: Dict[str, int]) -> Dict[str, Any]:
    """One SARIF result; registers the rule of its first blocker."""
    blocker = finding.blockers[0] if finding.blockers else ANY_DENIAL
    index = rule_ids.setdefault(blocker, len(rule_ids))
    result: Dict[str, Any] = {
        "ruleId": safe(blocker),
        "ruleIndex": index,
        "level": finding.level,
        "kind": "fail",
        "message": {"text": f"{finding.title}\n{finding.message}"},
        "occurrenceCount": max(finding.count, 1),
        "partialFingerprints": {"lldecodeDenialGroup/v1": hashlib.sha256(
            repr(finding.key).encode("utf-8", "backslashreplace")).hexdigest()},
        "properties": finding.data,
    }
    if finding.file is not None:
        region = {"startLine": finding.line} if finding.line else {}
        physical: Dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(finding.file)}}
        if region:
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
    return result


def write_sarif(out: TextIO, findings: Iterable[Finding], command: str,
                succeeded: Callable[[], bool]) -> int:
    """A SARIF 2.1.0 log: one run, a result per finding (streamed), a rule
    per blocker seen (written after the results: JSON members have no
    order); the number of findings."""
    from lldecode import __version__
    from lldecode.output.jsonable import dumps

    out.write('{"$schema": ' + dumps(SARIF_SCHEMA) + ', "version": "2.1.0", "runs": [{\n'
              '  "results": [')
    rule_ids: Dict[str, int] = {}
    n = 0
    for finding in findings:
        out.write(",\n    " if n else "\n    ")
        out.write(dumps(sarif_result(finding, rule_ids)))
        n += 1
    out.write("\n  ],\n" if n else "],\n")
    driver = {"name": "lldecode", "version": __version__, "informationUri": INFORMATION_URI,
              "rules": [_rule(b) for b, _ in sorted(rule_ids.items(), key=lambda i: i[1])]}
    invocation = {"executionSuccessful": succeeded(),
                  "commandLine": f"lldecode {command}"}
    out.write('  "tool": {"driver": ' + dumps(driver) + "},\n")
    out.write('  "invocations": [' + dumps(invocation) + "],\n")
    out.write('  "columnKind": "unicodeCodePoints"\n}]}\n')
    return n


def write(out: TextIO, fmt: str, findings: Iterable[Finding], command: str,
          succeeded: Callable[[], bool] = lambda: True) -> int:
    """``findings`` in a CI format (github, junit or sarif); their number."""
    if fmt == "github":
        return write_github(out, findings)
    if fmt == "junit":
        return write_junit(out, findings, command)
    if fmt == "sarif":
        return write_sarif(out, findings, command, succeeded)
    raise ValueError(f"not a CI format: {fmt}")
