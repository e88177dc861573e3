"""explain: each denial (or operation) in plain words.

For every denial the explanation says who asked (comm, exe, pid, command
line), what was refused (the syscall and each missing right: what it
guards, which syscalls need it, the ABI that introduced it, whether it is
granted on files or directories), where (the path, port or target process),
which sandbox refused (the domain and its creator) and how to fix it (the
rule the sandbox would need, or the logging flag that would hide it).

Consecutive identical denials fold into one paragraph with a count; the two
records of a rename or link across directories make one paragraph.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

from lldecode.landlock.access import NON_RIGHT_BLOCKERS, right
from lldecode.analysis.denials import Denial
from lldecode.output.render import Safe, Style, format_time, safe

RESTRICT_FLAGS_HINT = (
    "To keep the sandbox as it is and stop logging this, the sandboxing program can "
    "pass LANDLOCK_RESTRICT_SELF_LOG_SAME_EXEC_OFF to landlock_restrict_self() "
    "(or LOG_SUBDOMAINS_OFF in a parent domain)")


class Paragraph:
    """One explained operation: its denials (all alike) and a repeat count."""

    __slots__ = ("denials", "count", "last_time")

    def __init__(self, denials: List[Denial]):
        self.denials = denials
        self.count = 1
        self.last_time = denials[0].time

    @property
    def first(self) -> Denial:
        return self.denials[0]


def _signature(denials: List[Denial]) -> Tuple:
    process = denials[0].process or {}
    return tuple((d.domain, tuple(d.blockers), tuple(sorted(d.object.items())))
                 for d in denials) + ((process.get("syscall"), process.get("exe"),
                                       process.get("comm"), process.get("pid")),)


def paragraphs(operations: Iterable[List[Denial]]) -> Iterator[Paragraph]:
    """Fold consecutive identical operations (a streaming step)."""
    current: Optional[Paragraph] = None
    signature = None
    for denials in operations:
        sig = _signature(denials)
        if current is not None and sig == signature:
            current.count += 1
            current.last_time = denials[0].time
            continue
        if current is not None:
            yield current
        current, signature = Paragraph(denials), sig
    if current is not None:
        yield current


# -- the parts of an explanation --------------------------------------------------

def who(denial: Denial) -> Dict[str, Any]:
    """The process denied; the domain's creator when the event has no SYSCALL."""
    process = denial.process
    if not process:
        creator = (denial.domain_info.creator if denial.domain_info else None) or {}
        return {"comm": creator.get("comm"), "exe": creator.get("exe"),
                "pid": creator.get("pid"), "uid": creator.get("uid"), "proctitle": None,
                "from_creator": bool(creator)}
    return {"comm": process.get("comm"), "exe": process.get("exe"), "pid": process.get("pid"),
            "uid": process.get("uid"), "proctitle": process.get("proctitle"),
            "from_creator": False}


def rights(blockers: List[str]) -> List[Dict[str, Any]]:
    described = []
    for name in blockers:
        r = right(name)
        if r is not None:
            described.append({"name": name, "guards": r.description,
                              "syscalls": list(r.syscalls), "abi": r.abi,
                              "applies_to": r.applies_to})
        else:
            described.append({"name": name, "guards": NON_RIGHT_BLOCKERS.get(name),
                              "syscalls": [], "abi": None, "applies_to": None})
    return described


def where(denial: Denial) -> Safe:
    """The denied object in words (terminal-safe)."""
    return Safe(_where(denial))


def _where(denial: Denial) -> str:
    obj = denial.object
    if "path" in obj or "name" in obj:
        path = obj.get("path") if obj.get("path") is not None else obj.get("name")
        if "scope.abstract_unix_socket" in denial.blockers:
            return f"the abstract UNIX socket {safe(path)}"
        details = []
        if obj.get("dev"):
            details.append(f"on {safe(obj['dev'])}")
        if obj.get("ino") is not None:
            details.append(f"inode {obj['ino']}")
        if obj.get("ioctlcmd"):
            details.append(f"ioctl command {_ioctl(obj['ioctlcmd'])}")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{safe(path)}{suffix}"
    if obj.get("src") is not None or obj.get("saddr"):
        address = obj.get("saddr") or "any address"
        return f"local TCP port {obj.get('src')} on {safe(address)}"
    if obj.get("dest") is not None or obj.get("daddr"):
        address = obj.get("daddr") or "an address ausearch -i lost"
        return f"remote TCP port {obj.get('dest')} on {safe(address)}"
    if obj.get("opid") is not None:
        return f"process {obj['opid']} ({safe(obj.get('ocomm'))})"
    if obj:
        return ", ".join(f"{k}={safe(v)}" for k, v in obj.items())
    return "an object the record does not name"


def _ioctl(cmd: str) -> str:
    try:
        from lldecode.syscalls import ioctl_name

        name = ioctl_name(int(cmd, 16))
    except (ImportError, ValueError):
        name = None
    return f"{name} ({cmd})" if name else safe(cmd)


def sandbox(denial: Denial) -> Dict[str, Any]:
    info = denial.domain_info
    out: Dict[str, Any] = {"domain": denial.domain, "creator": None, "status": None}
    if info is not None:
        out["creator"] = info.creator
        out["status"] = info.status
        out["boot"] = info.boot
    return out


def fixes(denials: List[Denial]) -> List[str]:
    """How the sandbox could allow it: one sentence per missing rule."""
    out: List[str] = []
    for denial in denials:
        obj = denial.object
        path = obj.get("path") if obj.get("path") is not None else obj.get("name")
        fs_rights = [b for b in denial.blockers if b.startswith("fs.")]
        if fs_rights and path is not None:
            names = ", ".join(fs_rights)
            kinds = {right(b).applies_to for b in fs_rights if right(b)}
            if kinds == {"dir"}:
                target = f"the directory {safe(path)}"
            else:
                target = f"{safe(path)} (or a directory above it)"
            out.append(f"allow {names} beneath {target} in the ruleset of domain "
                       f"{denial.domain}")
            if "fs.truncate" in fs_rights or "fs.ioctl_dev" in fs_rights:
                out.append("truncate and ioctl_dev on an open file are checked against the "
                           "rules in force when the file was opened: the rule must be in "
                           "the ruleset before the open")
            if "fs.refer" in fs_rights:
                out.append("fs.refer is needed on both the source and destination "
                           "directories of a rename or link across directories")
        for blocker in denial.blockers:
            if blocker == "net.bind_tcp":
                out.append(f"allow net.bind_tcp on port {obj.get('src')}")
            elif blocker == "net.connect_tcp":
                out.append(f"allow net.connect_tcp on port {obj.get('dest')}")
            elif blocker == "scope.signal":
                out.append("the domain is scoped for signals: it may only signal processes "
                           "in the same domain or a nested one; drop \"signal\" from the "
                           "ruleset's scoped set, or start the target inside the sandbox")
            elif blocker == "scope.abstract_unix_socket":
                out.append("the domain is scoped for abstract UNIX sockets: drop "
                           "\"abstract_unix_socket\" from the ruleset's scoped set, or "
                           "create the socket inside the sandbox")
            elif blocker == "ptrace":
                out.append("a sandboxed process cannot trace or inspect a process outside "
                           "its domain; run the tracer outside the sandbox (or the target "
                           "inside it)")
            elif blocker == "fs.change_topology":
                out.append("Landlock denies mount changes inside a sandbox; set up mounts "
                           "before enforcing the ruleset")
    return _unique(out)


def _unique(items: List[str]) -> List[str]:
    seen = set()
    return [i for i in items if not (i in seen or seen.add(i))]


def _text_object(obj: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v)
            for k, v in obj.items()}


def against_policy(paragraph: Paragraph, policy) -> Dict[str, Any]:
    """What the policy says: the layer and file blamed, the missing rule, and
    whether the log can have come from the policy (lldecode.landlock.simulate)."""
    from lldecode.landlock.blame import explain_denial

    first = paragraph.first
    process = first.process or {}
    destination = None
    if len(paragraph.denials) == 2:
        second = paragraph.denials[1]
        destination = (second.blockers, _text_object(second.object))
    result = explain_denial(policy, first.blockers, _text_object(first.object),
                            syscall=process.get("syscall"), destination=destination)
    return result.as_dict()


def explanation(paragraph: Paragraph, policy=None) -> Dict[str, Any]:
    """The structured explanation of one paragraph (what JSON output shows)."""
    first = paragraph.first
    process = first.process or {}
    blockers: List[str] = []
    for d in paragraph.denials:
        blockers.extend(b for b in d.blockers if b not in blockers)
    return {
        "time": first.time,
        "last_time": paragraph.last_time,
        "count": paragraph.count,
        "serial": first.serial,
        "who": who(first),
        "what": {"syscall": process.get("syscall"), "errno": process.get("errno"),
                 "rights": rights(blockers)},
        "where": [where(d) for d in paragraph.denials],
        "sandbox": sandbox(first),
        "fix": fixes(paragraph.denials),
        "hide": RESTRICT_FLAGS_HINT,
        "policy": against_policy(paragraph, policy) if policy is not None else None,
    }


# -- text --------------------------------------------------------------------------

def _actor(w: Dict[str, Any]) -> str:
    name = safe(w["comm"]) if w.get("comm") is not None else "a process"
    parts = []
    if w.get("pid") is not None:
        parts.append(f"pid {w['pid']}")
    if w.get("exe") is not None:
        parts.append(safe(w["exe"]))
    text = f"{name} ({', '.join(parts)})" if parts else name
    if w.get("from_creator"):
        text += " [from the domain's creator: the event has no SYSCALL record]"
    return text


def _right_line(r: Dict[str, Any]) -> str:
    if r["abi"] is None:
        guard = r["guards"] or "not a right this version of lldecode knows"
        return f"{r['name']}: {guard}"
    applies = {"file": "granted on files (or a directory above them)",
               "dir": "granted on directories", "-": ""}.get(r["applies_to"] or "-", "")
    syscalls = f"; needed by {', '.join(r['syscalls'])}" if r["syscalls"] else ""
    tail = f"; {applies}" if applies else ""
    return f"{r['name']}: {r['guards']}{syscalls} (Landlock ABI {r['abi']}){tail}"


def render_text(paragraph: Paragraph, style: Style, utc: bool = False, policy=None) -> str:
    e = explanation(paragraph, policy)
    first = paragraph.first
    w = e["who"]
    lines = []
    count = f" ({paragraph.count} times, until {format_time(paragraph.last_time, utc)})" \
        if paragraph.count > 1 else ""
    what = e["what"]
    syscall = what["syscall"]
    refused = f"{syscall}() was refused" if syscall else "an access was refused"
    if what["errno"]:
        refused += f" with {what['errno']}"
    header = f"{format_time(first.time, utc)}{count}"
    lines.append(style(header, "bold") + f"  {_actor(w)}: {refused}.")
    if w.get("proctitle") is not None:
        lines.append(f"  command: {safe(w['proctitle'])}")
    if len(e["where"]) == 2 and first.operation_size == 2:
        lines.append(f"  on: {e['where'][0]} (source) and {e['where'][1]} (destination)")
    else:
        lines.append(f"  on: {'; '.join(e['where'])}")
    lines.append("  missing rights:")
    for r in what["rights"]:
        lines.append("    " + style(r["name"], "red") + _right_line(r)[len(r["name"]):])
    box = e["sandbox"]
    creator = box["creator"]
    if creator:
        made = (f"created by {safe(creator.get('comm'))} (pid {creator.get('pid')}, "
                f"{safe(creator.get('exe'))})")
    else:
        made = "creator unknown (its allocated record is not in this input)"
    lines.append(f"  sandbox: Landlock domain {style(box['domain'], 'cyan')}, {made}")
    verdict = e["policy"]
    if verdict is not None:
        lines.extend(_policy_lines(verdict, style))
    else:
        for fix in e["fix"]:
            lines.append(f"  fix: {fix}")
    return "\n".join(lines)


def _policy_lines(verdict: Dict[str, Any], style: Style) -> List[str]:
    if not verdict["consistent"]:
        return ["  " + style("policy: the log and the policy disagree", "yellow")
                + f": {safe(verdict['reason'])}"]
    lines = [f"  policy: layer {verdict['layer']} ({safe(verdict['policy'])}) denied it"]
    if verdict["sentence"]:
        lines.append(f"  fix: {safe(verdict['sentence'])}")
    if verdict["toml"]:
        lines.append("  add to the policy:")
        lines.extend("    " + safe(line) for line in verdict["toml"].splitlines())
    return lines


def operations(denials: Iterable[Denial]) -> Iterator[List[Denial]]:
    """Group the denials of one operation (a rename's two records) together."""
    pending: List[Denial] = []
    for denial in denials:
        if pending and (denial.event is not pending[0].event or denial.operation_index == 0):
            yield pending
            pending = []
        pending.append(denial)
    if pending:
        yield pending
