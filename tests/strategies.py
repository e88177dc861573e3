"""Hypothesis strategies: audit records in every dialect lldecode reads.

Each strategy draws a *record description* (type, time, serial, fields) and
spells it in one carrier, so a test can check both that a reader gets the
description back and that the fast path and the grammar agree.
"""

from __future__ import annotations

import json
import time

from hypothesis import strategies as st

ACCESS_TYPES = ["LANDLOCK_ACCESS", "UNKNOWN[1423]", "AUDIT1423", "LL_DENY", "LANDLOCK_DENY"]
DOMAIN_TYPES = ["LANDLOCK_DOMAIN", "UNKNOWN[1424]", "AUDIT1424", "LL_DOM_INFO",
                "LANDLOCK_DOM_INFO"]
DROP_TYPES = ["LL_DOM_DROP", "LANDLOCK_DOM_DROP"]
OTHER_TYPES = ["SYSCALL", "PROCTITLE", "CWD", "PATH", "EOE", "SOCKADDR", "OBJ_PID"]
TYPE_NUMBERS = {"LANDLOCK_ACCESS": "1423", "UNKNOWN[1423]": "1423", "AUDIT1423": "1423",
                "LL_DENY": "1423", "LANDLOCK_DENY": "1423", "LANDLOCK_DOMAIN": "1424",
                "UNKNOWN[1424]": "1424", "AUDIT1424": "1424", "LL_DOM_INFO": "1424",
                "LANDLOCK_DOM_INFO": "1424", "SYSCALL": "1300", "PROCTITLE": "1327",
                "CWD": "1307", "PATH": "1302", "EOE": "1320", "SOCKADDR": "1306",
                "OBJ_PID": "1318"}

BLOCKERS = ["fs.execute", "fs.write_file", "fs.read_file", "fs.read_dir", "fs.remove_dir",
            "fs.remove_file", "fs.make_char", "fs.make_dir", "fs.make_reg", "fs.make_sock",
            "fs.make_fifo", "fs.make_block", "fs.make_sym", "fs.refer", "fs.truncate",
            "fs.ioctl_dev", "net.bind_tcp", "net.connect_tcp", "scope.abstract_unix_socket",
            "scope.signal", "ptrace", "fs.change_topology", "fs_ioctl_dev", "fs_write_file",
            "fs.resolve_unix", "net.bind_udp", "unknown"]

domain_ids = st.integers(min_value=1 << 32, max_value=(1 << 34)).map(lambda n: f"{n:x}")
blocker_lists = st.lists(st.sampled_from(BLOCKERS), min_size=1, max_size=4, unique=True)
# Untrusted strings: anything, as bytes (the kernel hex-encodes what needs it).
untrusted_bytes = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.text(alphabet="abc/._-XYZ019", min_size=1, max_size=30).map(str.encode),
)
token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._:-/", min_size=1, max_size=12)
keys = st.sampled_from(["dev", "ino", "ioctlcmd", "saddr", "src", "daddr", "dest", "opid",
                        "item", "inode", "nametype", "arch", "syscall", "exit", "pid",
                        "success", "tty", "ses", "key", "zz_future"])


def kernel_untrusted(raw: bytes) -> str:
    """The kernel's spelling: quoted if plain printable ASCII, else upper hex."""
    if raw and all(0x21 <= b <= 0x7E and b != 0x22 for b in raw):
        return '"' + raw.decode("ascii") + '"'
    return raw.hex().upper()


@st.composite
def plain_value(draw):
    """(raw spelling, interpreted spelling) of a trusted value."""
    kind = draw(st.sampled_from(["bare", "quoted", "null", "question"]))
    if kind == "null":
        return "(null)", "(null)"
    if kind == "question":
        return "?", "?"
    text = draw(token)
    if kind == "quoted":
        return f'"{text}"', text
    return text, text


@st.composite
def record_description(draw):
    kind = draw(st.sampled_from(["access", "domain", "drop", "other"]))
    fields = []
    if kind == "access":
        type_token = draw(st.sampled_from(ACCESS_TYPES))
        fields.append(("domain", draw(domain_ids), None))
        fields.append(("blockers", ",".join(draw(blocker_lists)), None))
        if draw(st.booleans()):
            fields.append(("path", None, draw(untrusted_bytes)))
    elif kind == "domain":
        type_token = draw(st.sampled_from(DOMAIN_TYPES))
        fields.append(("domain", draw(domain_ids), None))
        fields.append(("status", draw(st.sampled_from(["allocated", "deallocated"])), None))
        if draw(st.booleans()):
            fields.append(("exe", None, draw(untrusted_bytes)))
    elif kind == "drop":
        type_token = draw(st.sampled_from(DROP_TYPES))
        fields.append(("domain", draw(domain_ids), None))
    else:
        type_token = draw(st.sampled_from(OTHER_TYPES))
    for key in draw(st.lists(keys, min_size=1 if kind == "other" else 0, max_size=4, unique=True)):
        raw, interpreted = draw(plain_value())
        fields.append((key, (raw, interpreted), None))
    if draw(st.booleans()):
        fields.append(("comm", None, draw(untrusted_bytes)))
    if draw(st.integers(0, 4)) == 0:
        # A key given twice (no kernel writes it: a forged or damaged line),
        # with another value of its kind, somewhere after the first.
        index = draw(st.integers(0, len(fields) - 1))
        key, value, raw = fields[index]
        if raw is not None:
            again = (key, None, draw(untrusted_bytes))
        elif key == "domain":
            again = (key, draw(domain_ids), None)
        elif key == "blockers":
            again = (key, ",".join(draw(blocker_lists)), None)
        elif key == "status":
            again = (key, draw(st.sampled_from(["allocated", "deallocated"])), None)
        else:
            again = (key, draw(plain_value()), None)
        # (domain= stays first, and blockers= second in an access record)
        low = max(index + 1, 2 if kind == "access" else 1)
        fields.insert(draw(st.integers(low, len(fields))), again)
    return {
        "type": type_token,
        "sec": draw(st.integers(min_value=1_000_000_000, max_value=2_000_000_000)),
        "ms": draw(st.integers(min_value=0, max_value=999)),
        "serial": draw(st.integers(min_value=1, max_value=10 ** 9)),
        "node": draw(st.one_of(st.none(), st.sampled_from(["web1", "db-2.example.org"]))),
        "fields": fields,
    }


def first_values(desc):
    """The fields of a description as readers keep them: a key given twice
    keeps its first value."""
    kept = {}
    for key, value, raw in desc["fields"]:
        kept.setdefault(key, (value, raw))
    return kept


def repeated_keys(desc):
    """The keys a description gives more than once, in order."""
    seen, repeated = set(), []
    for key, _, _ in desc["fields"]:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def raw_body(desc) -> str:
    parts = []
    for key, value, raw in desc["fields"]:
        if raw is not None:
            parts.append(f"{key}={kernel_untrusted(raw)}")
        elif isinstance(value, tuple):
            parts.append(f"{key}={value[0]}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def _interpreted_untrusted(raw: bytes) -> str:
    # auparse's terminal escaping: control bytes as \ooo, the rest raw.
    return "".join(f"\\{b:03o}" if b < 0x20 or b == 0x7F else chr(b) for b in raw)


def interpreted_body(desc) -> str:
    parts = []
    for key, value, raw in desc["fields"]:
        if raw is not None:
            parts.append(f"{key}={_interpreted_untrusted(raw)}")
        elif isinstance(value, tuple):
            parts.append(f"{key}={value[1]}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts) + " "


def interpreted_safe(desc) -> bool:
    """Can ausearch -i spell it unambiguously?  (A decoded value holding
    " key=" or a trailing space cannot be told apart from the next field.)"""
    import re

    from lldecode.audit.syntax import KERNEL_KEYS
    from lldecode.audit.values import PLACEHOLDERS

    after_untrusted = False
    for key, value, raw in desc["fields"]:
        if after_untrusted and key not in KERNEL_KEYS:
            return False  # an unknown key after a path reads as part of the path
        after_untrusted = after_untrusted or raw is not None
        text = (_interpreted_untrusted(raw) if raw is not None
                else value[1] if isinstance(value, tuple) else value)
        if re.search(r" [a-z][a-z0-9_-]*=", text) or text.endswith(" ") or "\\" in text:
            return False
        if raw is not None and any(ch in text for ch in "\x1b\x85\xa0"):
            return False
        if raw is not None and text in PLACEHOLDERS:
            return False  # ausearch -i prints a file named "?" as the kernel's "?"
    return True


def stamp(desc) -> str:
    return f"{desc['sec']}.{desc['ms']:03d}:{desc['serial']}"


def spell(desc, carrier: str, prefix: str = "") -> str:
    """The record as one line of the given carrier."""
    node = f"node={desc['node']} " if desc["node"] else ""
    number = TYPE_NUMBERS.get(desc["type"], desc["type"])
    if carrier == "raw":
        return f"{prefix}{node}type={desc['type']} msg=audit({stamp(desc)}): {raw_body(desc)}"
    if carrier == "enriched":
        return (f"{prefix}{node}type={desc['type']} msg=audit({stamp(desc)}): {raw_body(desc)}"
                "\x1dUID=\"root\" AUID=\"unset\"")
    if carrier == "interpreted":
        local = time.strftime("%m/%d/%y %H:%M:%S", time.localtime(desc["sec"]))
        return (f"{node}type={desc['type']} msg=audit({local}.{desc['ms']:03d}:"
                f"{desc['serial']}) : {interpreted_body(desc)}")
    if carrier == "printk":
        return f"{prefix}audit: type={number} audit({stamp(desc)}): {raw_body(desc)}"
    if carrier == "netlink":
        return f"type={number} audit({stamp(desc)}): {raw_body(desc)}"
    if carrier == "journal":
        local = time.strftime("%b %d %H:%M:%S", time.localtime(desc["sec"]))
        name = desc["type"] if not desc["type"].startswith("UNKNOWN") else "AUDIT" + number
        return f"{local} host audit[42]: {name} {raw_body(desc)}"
    if carrier == "journal-json":
        name = desc["type"] if not desc["type"].startswith("UNKNOWN") else "AUDIT" + number
        entry = {"_TRANSPORT": "audit", "_AUDIT_TYPE": number, "_AUDIT_TYPE_NAME": name,
                 "_AUDIT_ID": str(desc["serial"]),
                 "_SOURCE_REALTIME_TIMESTAMP": str(desc["sec"] * 10 ** 6 + desc["ms"] * 1000),
                 "MESSAGE": f"{name} {raw_body(desc)}"}
        return json.dumps(entry)
    if carrier == "elided":
        return f"type={desc['type']} [...]: {raw_body(desc)}"
    raise ValueError(carrier)


CARRIERS = ["raw", "enriched", "interpreted", "printk", "netlink", "journal",
            "journal-json", "elided"]
PREFIXES = ["", "2026-11-26T23:02:37.1234567Z ", "Nov 26 23:02:37 host audisp-syslog: ",
            "\x1b[36m[build]\x1b[0m "]
