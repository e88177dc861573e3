"""explain as text: one paragraph per explained operation.

The values come from :mod:`lldecode.analysis.explain` as they are in the log
(bytes kept); any of them may hold what an attacker wrote in the log (the
syscall and pid of a SYSCALL record, a blocker name, a creator's pid as much
as a path).  Everything is escaped here, for the terminal, where it is
formatted: each ``{...}`` is ``{safe(value)}``, each value joined to literal
text is ``safe(value)`` (or a memoized text built so), styled words are
escaped by :class:`~lldecode.output.text.Style` (see :mod:`lldecode.output.text`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from lldecode.analysis.domains import Creator
from lldecode.analysis.explain import Paragraph, against_policy, fixes, rights, where
from lldecode.audit.values import LogNumber
from lldecode.output.escape import escape_text
from lldecode.output.reports import created_by
from lldecode.output.text import Safe, Style, format_time, safe

if TYPE_CHECKING:  # annotations only: policies are loaded when given
    from lldecode.landlock.policy import Policy


# Texts memoized per process, domain creator, blocker and syscall: a log
# repeats a few of each.  Each cache is bounded (least recently used out),
# and values longer than _SHORT (a forged log can hold any) are not kept,
# so that memory stays flat over a long log.
_KEPT = 1024
_SHORT = 512


def _short(a: Any, b: Any, c: Any = None) -> bool:
    """Whether values of the log (None, numbers, bytes or text) are short
    enough to be memoized."""
    return ((a is None or not isinstance(a, (bytes, str)) or len(a) <= _SHORT)
            and (b is None or not isinstance(b, (bytes, str)) or len(b) <= _SHORT)
            and (c is None or not isinstance(c, (bytes, str)) or len(c) <= _SHORT))


def _actor(comm: Optional[bytes], pid: LogNumber, exe: Optional[bytes],
           from_creator: bool) -> str:
    """Who was denied, in words (memoized unless a value is long)."""
    if _short(comm, pid, exe):
        try:
            return _actor_text(comm, pid, exe, from_creator)
        except TypeError:  # a value that cannot be a key
            pass
    return _actor_text.__wrapped__(comm, pid, exe, from_creator)


@functools.lru_cache(maxsize=_KEPT, typed=True)
def _actor_text(comm: Optional[bytes], pid: LogNumber, exe: Optional[bytes],
                from_creator: bool) -> str:
    name = safe(comm) if comm is not None else Safe("a process")
    parts: List[str] = []
    if pid is not None:
        parts.append(Safe(f"pid {safe(pid)}"))
    if exe is not None:
        parts.append(safe(exe))
    text = f"{safe(name)} ({safe(parts)})" if parts else name
    if from_creator:
        text += " [from the domain's creator: the event has no SYSCALL record]"
    return Safe(text)


@functools.lru_cache(maxsize=_KEPT, typed=True)
def _right_tail_text(guards: Optional[str], syscalls: Tuple[str, ...], abi: Optional[int],
                     applies_to: Optional[str]) -> str:
    if abi is None:
        guard = guards or "not a right this version of lldecode knows"
        return Safe(f": {safe(guard)}")
    applies = {"file": "granted on files (or a directory above them)",
               "dir": "granted on directories", "-": ""}.get(applies_to or "-", "")
    needed = Safe(f"; needed by {safe(list(syscalls))}" if syscalls else "")
    tail = Safe(f"; {safe(applies)}" if applies else "")
    return Safe(f": {safe(guards)}{safe(needed)} (Landlock ABI {safe(abi)})"
                f"{safe(tail)}")


# (comm, pid, exe, from_creator, syscall, errno) -> _asked's text: bounded as
# the caches (emptied when full), short values only.
_ASKED: Dict[Tuple[Any, ...], str] = {}


def _asked(comm: Optional[bytes], pid: LogNumber, exe: Optional[bytes], from_creator: bool,
           syscall: Optional[str], errno: Optional[str]) -> str:
    """The first line after its time: who was denied and what was refused
    (``_actor(...) + ": " + _refused(...) + "."``), memoized unless a value
    is long."""
    key = (comm, pid, exe, from_creator, syscall, errno, pid.__class__)
    try:
        return _ASKED[key]
    except KeyError:
        pass
    except TypeError:  # a value that cannot be a key
        return Safe(_actor(comm, pid, exe, from_creator) + ": " + _refused(syscall, errno) + ".")
    text = Safe(_actor(comm, pid, exe, from_creator) + ": " + _refused(syscall, errno) + ".")
    if _short(comm, pid, exe) and _short(syscall, errno):
        if len(_ASKED) >= _KEPT:
            _ASKED.clear()
        _ASKED[key] = text
    return text


def _refused(syscall: Optional[str], errno: Optional[str]) -> str:
    """What was refused, in words (memoized unless a value is long)."""
    if _short(syscall, errno):
        try:
            return _refused_text(syscall, errno)
        except TypeError:  # a value that cannot be a key
            pass
    return _refused_text.__wrapped__(syscall, errno)


@functools.lru_cache(maxsize=_KEPT, typed=True)
def _refused_text(syscall: Optional[str], errno: Optional[str]) -> str:
    refused = Safe(f"{safe(syscall)}() was refused" if syscall else "an access was refused")
    if errno:
        refused = Safe(f"{safe(refused)} with {safe(errno)}")
    return refused


def _made(comm: Optional[bytes], pid: LogNumber, exe: Optional[bytes]) -> str:
    """The domain's creator in words (memoized unless a value is long)."""
    if _short(comm, pid, exe):
        try:
            return _made_text(comm, pid, exe)
        except TypeError:  # a value that cannot be a key
            pass
    return _made_text.__wrapped__(comm, pid, exe)


@functools.lru_cache(maxsize=_KEPT, typed=True)
def _made_text(comm: Optional[bytes], pid: LogNumber, exe: Optional[bytes]) -> str:
    """The creator in words (:func:`created_by` reads only these fields)."""
    creator: Creator = {}
    if comm is not None:
        creator["comm"] = comm
    if pid is not None:
        creator["pid"] = pid
    if exe is not None:
        creator["exe"] = exe
    return created_by(creator)


_UNKNOWN_CREATOR = Safe("creator unknown (its allocated record is not in this input)")


def _safe(value: Any) -> str:
    """:func:`safe`, with the usual case (plain printable ASCII bytes) first."""
    if value.__class__ is bytes and value.isascii():
        text = value.decode("ascii")
        if text.isprintable() and "\\" not in text:
            return text
    return safe(value)


def render_text(paragraph: Paragraph, style: Style, utc: bool = False,
                policy: Optional[Policy] = None) -> str:
    """One explained paragraph as text, every value from the log escaped.

    The text of :func:`lldecode.analysis.explain.explanation`, built from
    the same parts without the structure (tests/analysis/test_record_memos.py
    holds the two to each other)."""
    denials = paragraph.denials
    first = denials[0]
    process = first.process
    if process:
        comm, pid, exe = process.get("comm"), process.get("pid"), process.get("exe")
        proctitle, from_creator = process.get("proctitle"), False
        syscall, errno = process.get("syscall"), process.get("errno")
    else:
        creator: Creator = first.creator or {}
        comm, pid, exe = creator.get("comm"), creator.get("pid"), creator.get("exe")
        proctitle, from_creator = None, bool(creator)
        syscall = errno = None
    count = paragraph.count
    header = format_time(first.time, utc)
    if count > 1:
        header = Safe(header + " (" + str(count) + " times, until "
                      + format_time(paragraph.last_time, utc) + ")")
    lines = [style(header, "bold") + "  " + _asked(comm, pid, exe, from_creator, syscall, errno)]
    if proctitle is not None:
        lines.append("  command: " + _safe(proctitle))
    if len(denials) == 2 and first.operation_size == 2:
        lines.append("  on: " + _safe(where(first)) + " (source) and "
                     + _safe(where(denials[1])) + " (destination)")
    else:
        lines.append("  on: " + "; ".join([_safe(where(d)) for d in denials]))
    # every blocker of the paragraph's denials, once, in order
    if len(denials) == 1:
        blockers = tuple(dict.fromkeys(first.blockers))
    else:
        blockers = tuple(dict.fromkeys([b for d in denials for b in d.blockers]))
    lines.append(_rights_lines(blockers, style))
    info = first.domain_info
    made_by = info.creator if info is not None else None
    if made_by:
        made = _made(made_by.get("comm"), made_by.get("pid"), made_by.get("exe"))
    else:
        made = _UNKNOWN_CREATOR
    lines.append("  sandbox: Landlock domain " + style(first.domain, "cyan") + ", " + made)
    if policy is not None:
        lines.extend(_policy_lines(against_policy(paragraph, policy), style))
    else:
        for fix in fixes(denials):
            lines.append("  fix: " + _safe(fix))
    return Safe("\n".join(lines))


def _rights_lines(blockers: Tuple[str, ...], style: Style) -> str:
    """The missing rights' lines (a heading and one line per blocker);
    memoized for plain and coloured text (a log repeats a handful of
    blocker lists), unless the names are long."""
    if style.__class__ is Style and sum(map(len, blockers)) <= _SHORT:
        return _rights_text(blockers, bool(style.enabled))
    return _rights_text.__wrapped__(blockers, bool(style.enabled), style)


@functools.lru_cache(maxsize=_KEPT)
def _rights_text(blockers: Tuple[str, ...], colour: bool,
                 style: Optional[Style] = None) -> str:
    if style is None:
        style = Style("always" if colour else "never")
    lines = ["  missing rights:"]
    for r in rights(list(blockers)):
        lines.append("    " + style(r["name"], "red")
                     + _right_tail_text(r["guards"], tuple(r["syscalls"]), r["abi"],
                                        r["applies_to"]))
    return Safe("\n".join(lines))


def _policy_lines(verdict: Dict[str, Any], style: Style) -> List[str]:
    if not verdict["consistent"]:
        return ["  " + style("policy: the log and the policy disagree", "yellow")
                + f": {safe(verdict['reason'])}"]
    lines = [f"  policy: layer {safe(verdict['layer'])} ({safe(verdict['policy'])}) denied it"]
    if verdict["sentence"]:
        lines.append(f"  fix: {safe(verdict['sentence'])}")
    if verdict["toml"]:
        lines.append("  add to the policy:")
        # split on newlines only (str.splitlines also splits on U+2028,
        # U+0085... which a path may hold: those are escaped instead)
        toml = verdict["toml"].split("\n")
        if toml[-1] == "":
            toml.pop()
        lines.extend("    " + _snippet_line(line) for line in toml)
    return lines


def _snippet_line(line: str) -> str:
    """A line of a policy snippet, to copy into the policy: as it is when a
    terminal would show it as it is (the snippets write what it would act on
    as TOML or JSON escapes, lldecode.landlock.blame), else escaped."""
    bare = line.replace("\\", "")
    return Safe(line) if escape_text(bare) == bare else safe(line)
