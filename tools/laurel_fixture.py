#!/usr/bin/env python3
"""Write an auditd raw log as laurel would have: one JSON event per line.

laurel (https://github.com/threathunters-io/laurel) could not be built here
(crates.io is unreachable from this machine), so the laurel fixtures are
made by this converter, which follows laurel's source rule by rule (default
configuration: ``translate`` off, ``enrich.pid`` on):

* events: records with the same ``msg=audit(...)`` id (and node) are one
  event; kernel types (1300 to 2099) are collected and written when their
  id is five seconds older than the newest line read (laurel's
  EXPIRE_INFLIGHT_TIMEOUT, checked every second of log time) or at the end,
  in (node, time, serial) order; other types are written at once
  (src/coalesce.rs);
* each record type is a key in arrival order; SYSCALL, EXECVE, CWD and
  PROCTITLE hold one object, the others a list; unknown types are named
  ``UNKNOWN[N]`` (1423 and 1424 are not in laurel's message dictionary);
* values (linux-audit-parser's parser.rs and its field dictionary): the
  common keys and names ending in uid/gid by their type, dictionary fields
  by theirs (numeric decimal: a JSON number; hexadecimal: ``"0x.."``;
  octal: ``"0o.."``); any other field is tried as an encoded string first:
  ``"..."``, then *an even number of hex digits, decoded* (so ``denials=12``
  becomes the byte 0x12), then ``(null)``/``?`` as null, else the text;
* SYSCALL ``a0..a3`` become ``ARGV``, PROCTITLE becomes ``ARGV`` split at
  NUL bytes, EXECVE ``aN`` become ``ARGV``;
* strings: bytes outside printable ASCII that are not UTF-8, control
  characters, ``%`` and ``+`` as ``%xx`` (src/quote.rs);
* enrichment of ``pid``, ``ppid`` and ``*pid`` fields from laurel's process
  table: here, the processes the log's own SYSCALL records show (laurel
  reads /proc, whose processes of the capture are gone): ``PID`` and
  ``PPID`` with ``START_TIME`` (``EVENT_ID`` for a process seen in execve),
  ``OPID`` and others with ``comm``, ``exe`` and ``ppid`` too.

Usage: tools/laurel_fixture.py AUDIT_LOG > fixtures/laurel-....json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lldecode.audit.syntax import RAW_RE, split_fields  # noqa: E402

# linux-audit-parser's field dictionary: the types laurel acts on.
DEC = {"argc", "audit_backlog_limit", "audit_backlog_wait_time", "audit_enabled",
       "audit_failure", "auid", "capability", "cap_fe", "changed", "compat", "dport", "egid",
       "enforcing", "entries", "errno", "euid", "exit", "family", "fd", "fe", "fsgid", "fsuid",
       "gid", "igid", "ino", "inode", "inode_gid", "inode_uid", "ipid", "item", "items", "iuid",
       "len", "lport", "list", "major", "minor", "nargs", "new-enabled", "new_gid", "new_lock",
       "new-log_passwd", "nlnk-pid", "oauid", "obj_gid", "obj_uid", "ogid", "old-auid",
       "old-enabled", "old_enforcing", "old_lock", "old-log_passwd", "old_prom", "old-ses",
       "old_val", "opid", "oses", "ouid", "permissive", "pid", "ppid", "prom", "prog-id",
       "proto", "res", "rport", "sauid", "seqno", "ses", "sgid", "sig", "sigev_signo",
       "spid", "sport", "suid", "syscall", "uid", "uring_op", "val", "vm-pid"}
HEX = {"a0", "a1", "a2", "a3", "arch", "cap_fi", "cap_fp", "cap_fver", "cap_pa", "cap_pe",
       "cap_pi", "cap_pp", "code", "fi", "flags", "fp", "fver", "ioctlcmd", "old_pa", "old_pe",
       "old_pi", "old_pp", "pa", "pe", "per", "pi", "pp", "qbytes"}
OCT = {"mode"}
ENCODED = {"acct", "addr", "apparmor", "cgroup", "cmd", "comm", "cwd", "data", "device", "dir",
           "exe", "file", "grp", "invalid_context", "key", "name", "new-chardev", "new-disk",
           "new-fs", "new-net", "new-rng", "ocomm", "old-chardev", "old-disk", "old-fs",
           "old-net", "old-rng", "path", "proctitle", "saddr", "vm", "watch"}
COMMON = {"arch": "hex", "syscall": "dec", "items": "dec", "pid": "dec", "ppid": "dec",
          "exit": "dec", "ses": "dec", "success": "enc", "tty": "enc", "comm": "enc",
          "exe": "enc", "subj": "enc", "key": "enc"}
SINGLE = {"SYSCALL", "EXECVE", "CWD", "PROCTITLE"}
EXPIRE_PERIOD, EXPIRE_INFLIGHT_TIMEOUT = 1000, 5000

_HEXPAIRS = re.compile(r"(?:[0-9A-Fa-f]{2})+\Z")
_DEC = re.compile(r"-?\d+\Z")


class Bytes(bytes):
    """A byte string laurel serializes with its URI escaping."""


def encode_bytes(raw: bytes) -> str:
    """src/quote.rs: URIEscapeWriter (JSON escaping is json.dumps')."""
    out: List[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if 32 <= c < 127 and c not in b"%+":
            out.append(chr(c))
            i += 1
            continue
        size = 2 if c & 0xE0 == 0xC0 else 3 if c & 0xF0 == 0xE0 else 4 if c & 0xF8 == 0xF0 else 0
        if size:
            chunk = raw[i:i + size]
            try:
                text = chunk.decode("utf-8") if len(chunk) == size else None
            except UnicodeDecodeError:
                text = None
            if text is not None and text != "\ufeff":
                out.append(text)
                i += size
                continue
        out.append(f"%{c:02x}")
        i += 1
    return "".join(out)


def parse_encoded(value: str) -> Optional[Any]:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"' and '"' not in value[1:-1]:
        return Bytes(value[1:-1].encode("latin-1"))
    if _HEXPAIRS.match(value):
        return Bytes(bytes.fromhex(value))
    if value in ("(null)", "?"):
        return None
    return NotImplemented


def parse_unspec(value: str) -> Any:
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        return Bytes(value[1:-1].encode("latin-1"))
    if value == "":
        return None
    return Bytes(value.encode("latin-1"))


def field_value(type_name: str, key: str, value: str) -> Any:
    kind = COMMON.get(key)
    if kind is None:
        if key.endswith("uid") or key.endswith("gid"):
            kind = "dec"
        elif key in DEC:
            kind = "dec"
        elif key in HEX:
            kind = "hex"
        elif key in OCT:
            kind = "oct"
        else:
            kind = "enc"
    if kind == "dec" and _DEC.match(value):
        return int(value)
    if kind == "hex" and re.fullmatch(r"[0-9A-Fa-f]+", value):
        return f"0x{int(value, 16):x}"
    if kind == "oct" and re.fullmatch(r"[0-7]+", value):
        return f"0o{int(value, 8):o}"
    if kind == "enc" or key not in COMMON:
        parsed = parse_encoded(value)
        if parsed is not NotImplemented:
            return parsed
    return parse_unspec(value)


class Process:
    def __init__(self, key: str, comm: Any, exe: Any, ppid: int):
        self.key, self.comm, self.exe, self.ppid = key, comm, exe, ppid


class Laurel:
    def __init__(self, out):
        self.out = out
        self.inflight: Dict[Tuple[str, int, int], Dict[str, Any]] = {}
        self.next_expire: Optional[int] = None
        self.processes: Dict[int, Process] = {}

    def line(self, text: str) -> None:
        m = RAW_RE.match(text)
        if m is None:
            return
        node, type_name, sec, ms, serial = m.groups("")
        timestamp = int(sec) * 1000 + int(ms)
        body = text[m.end():].split("\x1d")[0].rstrip()
        record = self.record(type_name, body)
        key = (node, timestamp, int(serial))
        if self.next_expire is None:
            self.next_expire = timestamp + EXPIRE_PERIOD
        elif self.next_expire < timestamp:
            self.expire(timestamp)
            self.next_expire = timestamp + EXPIRE_PERIOD
        number = int(type_name[8:-1]) if type_name.startswith("UNKNOWN[") else None
        multipart = number is None and type_name not in USER_TYPES or (
            number is not None and 1300 <= number < 2100)
        if type_name == "EOE":
            if key in self.inflight:
                self.emit(key, self.inflight.pop(key))
            return
        if not multipart:
            self.emit(key, {type_name: record})
            return
        event = self.inflight.setdefault(key, {})
        if type_name in event:
            if type_name in SINGLE:
                event[type_name].update(record)
            else:
                event[type_name].append(record)
        else:
            event[type_name] = record if type_name in SINGLE else [record]

    def record(self, type_name: str, body: str) -> Dict[str, Any]:
        fields: Dict[str, Any] = {}
        argv: List[Any] = []
        for key, value in split_fields(body):
            if type_name == "SYSCALL" and key in ("a0", "a1", "a2", "a3"):
                argv.append(f"0x{int(value, 16):x}")
                continue
            if type_name == "EXECVE" and re.fullmatch(r"a\d+", key):
                argv.append(parse_encoded(value))
                continue
            fields[key] = field_value(type_name, key, value)
        if type_name == "SYSCALL":
            fields["ARGV"] = argv
        elif type_name == "EXECVE":
            fields["ARGV"] = argv
        elif type_name == "PROCTITLE" and isinstance(fields.get("proctitle"), bytes):
            title = fields.pop("proctitle")
            fields["ARGV"] = [Bytes(a) for a in title.split(b"\0") if a]
        return fields

    def expire(self, now: int) -> None:
        for key in sorted(k for k in self.inflight if k[1] + EXPIRE_INFLIGHT_TIMEOUT < now):
            self.emit(key, self.inflight.pop(key))

    def flush(self) -> None:
        for key in sorted(self.inflight):
            self.emit(key, self.inflight.pop(key))

    def emit(self, key: Tuple[str, int, int], body: Dict[str, Any]) -> None:
        node, timestamp, serial = key
        event_id = f"{timestamp // 1000}.{timestamp % 1000:03d}:{serial}"
        syscall = body.get("SYSCALL")
        if isinstance(syscall, dict) and isinstance(syscall.get("pid"), int):
            pid = syscall["pid"]
            is_exec = syscall.get("syscall") in (59, 322) and syscall.get("success") == b"yes"
            if pid not in self.processes or is_exec:
                start = f"{timestamp // 1000}.{timestamp % 1000:03d}"
                self.processes[pid] = Process(
                    ("EVENT_ID", event_id) if is_exec else ("START_TIME", start),
                    syscall.get("comm"), syscall.get("exe"), syscall.get("ppid") or 0)
        for value in body.values():
            for record in ([value] if isinstance(value, dict) else value):
                self.enrich(record)
        event: Dict[str, Any] = {"ID": event_id}
        if node:
            event["NODE"] = Bytes(node.encode("latin-1"))
        event.update(body)
        self.out.write(dumps(event) + "\n")

    def enrich(self, record: Dict[str, Any]) -> None:
        added = {}
        for key, value in record.items():
            if not (key in ("pid", "ppid") or key.endswith("pid")) or not isinstance(value, int):
                continue
            proc = self.processes.get(value)
            if proc is None:
                continue
            info: Dict[str, Any] = {proc.key[0]: proc.key[1]}
            if key not in ("pid", "ppid"):
                if proc.comm is not None:
                    info["comm"] = proc.comm
                if proc.exe is not None:
                    info["exe"] = proc.exe
                if proc.ppid:
                    info["ppid"] = proc.ppid
            added[key.upper()] = info
        record.update(added)


# auditd's user-space types in these logs (below 1300: not multi-part).
USER_TYPES = {"DAEMON_START", "DAEMON_END", "DAEMON_ABORT", "DAEMON_CONFIG", "USER_AUTH",
              "USER_ACCT", "USER_START", "USER_END", "CRED_ACQ", "CRED_DISP", "CRED_REFR",
              "USER_LOGIN", "USER_LOGOUT", "SERVICE_START", "SERVICE_STOP", "USER_CMD",
              "LOGIN_FIXME"}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return encode_bytes(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dumps(event: Dict[str, Any]) -> str:
    """serde_json's compact output (non-ASCII written as UTF-8)."""
    return json.dumps(_plain(event), separators=(",", ":"), ensure_ascii=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", help="an auditd raw log")
    args = parser.parse_args(argv)
    out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False, newline="\n")
    laurel = Laurel(out)
    with open(args.log, encoding="latin-1", newline="\n") as log:
        for line in log:
            laurel.line(line.rstrip("\n"))
    laurel.flush()
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
