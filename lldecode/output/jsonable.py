"""Denials, domains and reports as JSON-ready values, and the JSON writers.

The records the commands write (a denial, an explanation, a summary group,
a domain, a simulation) follow schema version 1 (docs/json.md, and the JSON
Schema shipped as lldecode/schema/lldecode-v1.schema.json): each carries
``schema_version``; every key is always there (null when the log does not
give the value; a nested object is always an object); ids are numbers
whatever the input (``ausearch -i``'s names in ``<id>_name`` keys); each time
is epoch seconds with its ISO 8601 form beside (``<time>_iso``); the fields
that carry bytes from the log (path, comm, exe, proctitle, argv...) always
have their ``<field>_hex`` sibling, null when the text is exactly the bytes.
:func:`denial_dict`, :func:`explanation_record`, :func:`summary_record`,
:func:`domain_record` and :func:`simulation_record` make them.

One rule for every value from the log, whatever its field: JSON output is
always valid UTF-8, valid JSON, and never loses a byte.

* A ``bytes`` value (paths, comm, exe, argv, cwd...) is written as a JSON
  string of its UTF-8 text.  When the bytes are not valid UTF-8, each
  invalid byte becomes U+FFFD in that string and the exact bytes are given,
  hex-encoded, in a sibling field named ``<field>_hex``.
* A ``str`` value that holds lone surrogates (bytes that were not UTF-8,
  kept by ``surrogateescape``: a policy verdict's sentence about such a
  path, a file name, a JSON ``\\udc9b`` escape) is the same: its bytes are what
  ``surrogateescape`` encodes it to (U+DC80..U+DCFF stand for the bytes
  0x80..0xFF; any other lone surrogate, which no byte stands for, for its
  three-byte WTF-8 form), written by the bytes rule, with ``<field>_hex``.
* In a list, ``<field>_hex`` is the list of every element's hex (``null``
  for an element that is neither bytes nor such a string), given when one
  element is not valid UTF-8.
* A field the log named like such a sibling (``path_hex=`` beside ``path=``:
  the kernel writes no such field) cannot pose as one: it is replaced by
  the sibling, given then whatever the field's bytes (``null`` when the
  field is no string: a number, or no value).
* A key (a blocker's name, a field name the log gave) that is not valid
  UTF-8 is written as its text with each invalid byte as ``\\xNN``.
* A number JSON cannot write (infinite or NaN) is written as ``null``.

Then the text: every JSON writer goes through :func:`dumps`, which converts
its value by these rules and writes U+2028, U+2029 and the other
characters the text rule escapes (C1 controls, DEL, bidirectional and
invisible format characters) as JSON ``\\uNNNN`` escapes
(:func:`lldecode.output.escape.escape_json`): the parsed values are the same,
a reader that splits NDJSON on line ends never splits a record, and JSON
shown on a terminal cannot act on it.
"""

from __future__ import annotations

import datetime
import functools
import json
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO

from lldecode.analysis.denials import Denial
from lldecode.audit.values import as_text, bytes_to_text, is_utf8
from lldecode.output.escape import escape_json

HEX_SUFFIX = "_hex"


class Converted(dict):  # type: ignore[type-arg]
    """A dict already converted by :func:`convert_mapping`: not converted again."""


def log_bytes(text: str) -> bytes:
    """The bytes a string from the log stands for (see the module docstring):
    UTF-8, with surrogateescape's lone surrogates back to their bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no byte stands for
        out = bytearray()
        for ch in text:
            code = ord(ch)
            if 0xDC80 <= code <= 0xDCFF:
                out.append(code - 0xDC00)
            else:
                out += ch.encode("utf-8", "surrogatepass")
        return bytes(out)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _raw(value: Any) -> Optional[bytes]:
    """The bytes of a value the bytes rule applies to, else None."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) and _has_surrogates(value):
        return log_bytes(value)
    return None


def convert(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (dicts, lists, bytes, numbers, text)."""
    kind = value.__class__
    if kind is str:
        if value.isascii() or not _has_surrogates(value):
            return value
        return bytes_to_text(log_bytes(value))
    if kind is int or value is None or kind is bool or kind is Converted:
        return value
    if isinstance(value, dict):
        return convert_mapping(value)
    if isinstance(value, (list, tuple)):
        return [convert(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes_to_text(bytes(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return convert(str(value))
    return value


def _key(key: Any) -> Any:
    """A dict key as JSON can write it (see the module docstring)."""
    if isinstance(key, bytes):
        return key.decode("utf-8", "backslashreplace")
    if isinstance(key, str) and _has_surrogates(key):
        return log_bytes(key).decode("utf-8", "backslashreplace")
    return key


def _hex_of(value: Any) -> Any:
    """The ``<field>_hex`` sibling of a value (None: it needs none)."""
    raw = _raw(value)
    if raw is not None:
        return None if is_utf8(raw) else raw.hex()
    if isinstance(value, (list, tuple)) and value:
        raws = [_raw(v) for v in value]
        if any(r is not None and not is_utf8(r) for r in raws):
            return [r.hex() if r is not None else None for r in raws]
    return None


def _forced_hex(value: Any) -> Any:
    """The sibling of a field whose name the log also used for a field of its
    own: always given (None when the field is no string, bytes or list)."""
    if isinstance(value, str):
        return log_bytes(value).hex()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        raws = [v if isinstance(v, bytes) else log_bytes(v) if isinstance(v, str) else None
                for v in value]
        return [r.hex() if r is not None else None for r in raws]
    return None


def convert_mapping(mapping: Mapping[Any, Any]) -> Dict[str, Any]:
    """A JSON-ready copy of a dict, with ``<field>_hex`` beside bytes (and
    strings holding undecodable bytes) that are not UTF-8."""
    if mapping.__class__ is Converted:
        return mapping  # type: ignore[return-value]
    for key in mapping:
        if key.__class__ is not str or not key.isascii() or key.endswith(HEX_SUFFIX):
            return _convert_any_mapping(mapping)
    # The usual mapping: plain ASCII keys, none named like a sibling.
    out = Converted()
    for key, value in mapping.items():
        kind = value.__class__
        if kind is str:
            if value.isascii():
                out[key] = value
                continue
        elif kind is int or kind is bool or value is None:
            out[key] = value
            continue
        elif kind is bytes and value.isascii():
            out[key] = value.decode("ascii")
            continue
        out[key] = convert(value)
        hexed = _hex_of(value)
        if hexed is not None:
            out[key + HEX_SUFFIX] = hexed
    return out


def _convert_any_mapping(mapping: Mapping[Any, Any]) -> Dict[str, Any]:
    """:func:`convert_mapping` for keys that are not plain ASCII text, or a
    key named like a sibling."""
    out = Converted()
    for key, value in mapping.items():
        name = _key(key)
        if not isinstance(name, str):
            out[name] = convert(value)
            continue
        if name.endswith(HEX_SUFFIX) and name[:-len(HEX_SUFFIX)] in mapping:
            continue  # the log's own field, replaced by its field's sibling
        out[name] = convert(value)
        sibling = name + HEX_SUFFIX
        if sibling in mapping:
            out[sibling] = _forced_hex(value)
        else:
            hexed = _hex_of(value)
            if hexed is not None:
                out[sibling] = hexed
    return out


# -- the records of schema v1 ----------------------------------------------------
#
# Each command writes records of one kind (docs/json.md, and the JSON Schema
# lldecode/schema/lldecode-v1.schema.json): a denial (filter), an
# explanation (explain), a group (summarize), a domain (domains).  Their keys
# are stable: every key of a kind is always there, null when the log does not
# give its value; a nested object is always an object (its fields null when
# the log does not give it), so that tools that make columns of the first
# rows (sqlite-utils --flatten, DuckDB) see them all; one type per key,
# whatever the input's format.

SCHEMA_VERSION = 1
SCHEMA_ID = "https://lldecode.invalid/schema/lldecode-v1.schema.json"

# The object fields of a denial, in order (lldecode.analysis.denials.OBJECT_FIELDS);
# those that hold bytes from the log get a ``_hex`` sibling.
OBJECT_KEYS = ("path", "name", "dev", "ino", "ioctlcmd", "saddr", "src", "daddr", "dest",
               "opid", "ocomm")
_OBJECT_BYTES = ("path", "name", "ocomm")

# The id fields of a process: a number, and the name ``ausearch -i`` gave.
_USER_IDS = ("uid", "auid", "euid")
_GROUP_IDS = ("gid",)
UNSET_ID = 4294967295


def iso_time(stamp: Optional[float]) -> Optional[str]:
    """Epoch seconds as ISO 8601 in UTC with its offset and milliseconds
    (``2026-11-26T23:51:31.645+00:00``); None for no time, or one no
    calendar can show."""
    if stamp is None or not isinstance(stamp, (int, float)):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.isoformat(timespec="milliseconds")


def _timed(out: Dict[str, Any], key: str, stamp: Optional[float]) -> None:
    out[key] = stamp if stamp is None or math.isfinite(stamp) else None
    out[key + "_iso"] = iso_time(stamp)


def _stable_hex(value: Any) -> Any:
    """The ``_hex`` sibling of a field that always has one: the bytes in hex
    when the text alone does not give them back (not UTF-8, or holding
    U+FFFD), else None."""
    raw = _log_raw(value)
    if raw is not None:
        return raw.hex() if not is_utf8(raw) or b"\xef\xbf\xbd" in raw else None
    if isinstance(value, (list, tuple)):
        raws = [_log_raw(v) for v in value]
        if any(r is not None and (not is_utf8(r) or b"\xef\xbf\xbd" in r) for r in raws):
            return [r.hex() if r is not None else None for r in raws]
    return None


def _log_raw(value: Any) -> Optional[bytes]:
    """The bytes of a value from the log (bytes, or text), else None."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return log_bytes(value)
    return None


def _with_hex(out: Dict[str, Any], key: str, value: Any) -> None:
    """``key`` (text, or a list of texts) and its ``key_hex`` sibling, always."""
    kind = value.__class__
    if value is None or ((kind is str or kind is bytes) and value.isascii()):
        # the usual case: no value, or ASCII (its own bytes)
        out[key] = value.decode("ascii") if kind is bytes else value
        out[key + HEX_SUFFIX] = None
        return
    if kind is list:
        texts = _ascii_texts(value)
        if texts is not None:  # a list of ASCII (its own bytes): no sibling
            out[key] = texts
            out[key + HEX_SUFFIX] = None
            return
    out[key] = convert(value)
    out[key + HEX_SUFFIX] = _stable_hex(value)


def _ascii_texts(values: List[Any]) -> Optional[List[str]]:
    """The texts of a list of ASCII strings or bytes, None when one is not."""
    texts: List[str] = []
    add = texts.append
    for value in values:
        kind = value.__class__
        if kind is bytes and value.isascii():
            add(value.decode("ascii"))
        elif kind is str and value.isascii():
            add(value)
        else:
            return None
    return texts


def _text(value: Any) -> Any:
    """A short value the kernel writes as plain text (dev, syscall...): as
    text, or None when it is none."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def _plain(out: Dict[str, Any], key: str, value: Any) -> None:
    """A value the kernel writes as plain text (dev, syscall, mode...): its
    text; a ``key_hex`` sibling only when a forged record put bytes that are
    not UTF-8 in it (the general rule of the module docstring)."""
    if value is None or (value.__class__ is str and value.isascii()):
        out[key] = value
        return
    text = _text(value)
    out[key] = convert(text)
    hexed = _hex_of(text)
    if hexed is not None:
        out[key + HEX_SUFFIX] = hexed


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@functools.lru_cache(maxsize=256)
def id_number(value: str, group: bool = False) -> Optional[int]:
    """The number of an id the log names (``ausearch -i``: ``root``,
    ``unset``, ``unknown(1234)``), None when it cannot be known: a name is
    looked up in this host's user (group) database, as ``--uid`` does."""
    text = value.strip()
    if text == "unset":
        return UNSET_ID
    if text.startswith("unknown(") and text.endswith(")"):
        text = text[len("unknown("):-1]
    if text.isdigit() and text.isascii():
        return int(text)
    try:
        if group:
            import grp

            return grp.getgrnam(text).gr_gid
        import pwd

        return pwd.getpwnam(text).pw_uid
    except (KeyError, ValueError, UnicodeError, OSError):
        return None


def _id(out: Dict[str, Any], key: str, value: Any, group: bool = False,
        named: bool = True) -> None:
    """An id as a number (``key``) and the name the log gave (``key_name``)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, (bytes, bytearray)):
        value = _text(value)
    if isinstance(value, str):
        out[key] = id_number(value, group) if value.isascii() else None
        name = convert(value)
    else:
        out[key] = value if isinstance(value, int) else None
        name = None
    if named:
        out[key + "_name"] = name


# auditd's ENRICHED log_format: ``UID="root" AUID="unset"`` after the record.
_ENRICHED_FIELD = re.compile(r'([A-Z]+)=("[^"]*"|\S+)')


def enriched_names(enrichment: Optional[str]) -> Dict[str, str]:
    """The names auditd's ENRICHED format gives for a record's ids
    (``{"uid": "root", "auid": "unset"}``), as the log's text."""
    names: Dict[str, str] = {}
    if not enrichment:
        return names
    for match in _ENRICHED_FIELD.finditer(enrichment):
        key = match.group(1).lower()
        if key in _USER_IDS or key in _GROUP_IDS:
            names.setdefault(key, as_text(match.group(2).strip('"')))
    return names


def creator_record(creator: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """A domain's creator (all null when the log does not say)."""
    creator = creator or {}
    out: Dict[str, Any] = Converted()
    _id(out, "pid", creator.get("pid"), named=False)
    _id(out, "uid", creator.get("uid"))
    _with_hex(out, "exe", creator.get("exe"))
    _with_hex(out, "comm", creator.get("comm"))
    return out


def object_record(obj: Mapping[str, Any]) -> Dict[str, Any]:
    """A denied object: every known field (null when the record has none),
    and ``other``: the fields this version does not know, as text."""
    out: Dict[str, Any] = Converted()
    get = obj.get
    for key, kind in _OBJECT_PLAN:
        value = get(key)
        if kind == 0:
            _with_hex(out, key, value)
        elif kind == 1:
            out[key] = value if value is None or value.__class__ is int else _int(value)
        elif value is None or (value.__class__ is str and value.isascii()):
            out[key] = value  # as _plain does
        else:
            _plain(out, key, value)
    others = [k for k in obj if k not in _OBJECT_KEY_SET]
    out["other"] = convert_mapping({k: obj[k] for k in others}) if others else Converted()
    return out


# How object_record writes each key: 0 bytes from the log (with its sibling),
# 1 a number, 2 text the kernel writes.
_OBJECT_PLAN = tuple((key, 0 if key in _OBJECT_BYTES else
                      1 if key in ("ino", "src", "dest", "opid") else 2)
                     for key in OBJECT_KEYS)
_OBJECT_KEY_SET = frozenset(OBJECT_KEYS)


_PATH_ITEM_NUMBERS = ("item", "inode")
_PATH_ITEM_TEXTS = ("nametype", "dev", "mode")


def process_record(process: Optional[Mapping[str, Any]],
                   names: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """The process denied (all null when its event has no SYSCALL record);
    ``names``: the names an enriched log gives for its ids."""
    p = process or {}
    out: Dict[str, Any] = Converted()
    _plain(out, "arch", p.get("arch"))
    out["syscall_nr"] = _int(p.get("syscall_nr"))
    _plain(out, "syscall", p.get("syscall"))
    success = p.get("success")
    out["success"] = success if isinstance(success, bool) else None
    out["exit"] = _int(p.get("exit"))
    _plain(out, "errno", p.get("errno"))
    _id(out, "pid", p.get("pid"), named=False)
    _id(out, "ppid", p.get("ppid"), named=False)
    for key in _USER_IDS[:2]:
        _id(out, key, p.get(key))
    _id(out, "gid", p.get("gid"), group=True)
    _id(out, "euid", p.get("euid"))
    _id(out, "ses", p.get("ses"), named=False)
    _with_hex(out, "comm", p.get("comm"))
    _with_hex(out, "exe", p.get("exe"))
    out["exe_deleted"] = bool(p.get("exe_deleted")) if process else None
    _plain(out, "key", p.get("key"))
    argv = p.get("argv")
    _with_hex(out, "argv", list(argv) if argv is not None else None)
    _with_hex(out, "proctitle", p.get("proctitle"))
    _with_hex(out, "cwd", p.get("cwd"))
    for key, name in (names or {}).items():
        if out.get(key + "_name", "") is None:
            _plain(out, key + "_name", name)
    paths = []
    for item in p.get("paths") or ():
        entry: Dict[str, Any] = Converted()
        _with_hex(entry, "name", item.get("name"))
        for key in _PATH_ITEM_NUMBERS:
            entry[key] = _int(item.get(key))
        for key in _PATH_ITEM_TEXTS:
            _plain(entry, key, item.get(key))
        paths.append(entry)
    out["paths"] = paths
    return out


# The times of a domain, each with its ISO 8601 form.
_DOMAIN_TIMES = ("creation_time", "allocated_time", "first_denial", "last_denial",
                 "deallocated_time")


def domain_info_record(info: Optional[Mapping[str, Any]], domain: Optional[str] = None,
                       node: Optional[str] = None) -> Dict[str, Any]:
    """What the log says of a domain (DomainInfo.as_dict()); for a domain the
    registry does not know, its id and node and every other field null."""
    d = info or {}
    out: Dict[str, Any] = Converted()
    _plain(out, "domain", d.get("domain", domain))
    _plain(out, "node", d.get("node", node))
    out["boot"] = _int(d.get("boot"))
    _plain(out, "status", d.get("status"))
    out["creator"] = creator_record(d.get("creator"))
    _plain(out, "mode", d.get("mode"))
    for key in _DOMAIN_TIMES:
        _timed(out, key, d.get(key))
    out["denials_logged"] = _int(d.get("denials_logged"))
    out["denials_reported"] = _int(d.get("denials_reported"))
    return out


def _versioned() -> Dict[str, Any]:
    out: Dict[str, Any] = Converted()
    out["schema_version"] = SCHEMA_VERSION
    return out


def denial_dict(denial: Denial) -> Dict[str, Any]:
    """One denial as a record of schema v1 (``filter``'s JSON and NDJSON)."""
    record = denial.record
    out = _versioned()
    _timed(out, "time", record.time)
    out["serial"] = record.serial
    _plain(out, "node", record.node)
    _plain(out, "domain", denial.domain)
    out["blockers"] = convert(list(denial.blockers))
    out["object"] = object_record(denial.object)
    out["operation"] = Converted(index=denial.operation_index, size=denial.operation_size)
    syscall = denial.event.first("SYSCALL")
    out["process"] = process_record(
        denial.process, enriched_names(syscall.enrichment) if syscall is not None else None)
    info = denial.domain_info
    out["domain_info"] = domain_info_record(info.as_dict() if info is not None else None,
                                            denial.domain, record.node)
    source: Dict[str, Any] = Converted()
    _with_hex(source, "file", record.source)
    source["line"] = record.lineno
    source["carrier"] = record.carrier
    out["source"] = source
    return out


def explanation_record(item: Mapping[str, Any], denials: Iterable[Denial] = ()) -> Dict[str, Any]:
    """One explained paragraph (lldecode.analysis.explain.explanation) as a
    record of schema v1, with the objects of its ``denials`` as fields."""
    out = _versioned()
    stamp, last = item.get("time"), item.get("last_time")
    _timed(out, "time", stamp)
    if last is not None and last.__class__ is stamp.__class__ and last == stamp:
        out["last_time"], out["last_time_iso"] = out["time"], out["time_iso"]  # as _timed
    else:
        _timed(out, "last_time", last)
    out["count"] = item.get("count")
    out["serial"] = item.get("serial")
    who = item.get("who") or {}
    who_out: Dict[str, Any] = Converted()
    _with_hex(who_out, "comm", who.get("comm"))
    _with_hex(who_out, "exe", who.get("exe"))
    _id(who_out, "pid", who.get("pid"), named=False)
    _id(who_out, "uid", who.get("uid"))
    _with_hex(who_out, "proctitle", who.get("proctitle"))
    who_out["from_creator"] = bool(who.get("from_creator"))
    out["who"] = who_out
    what = item.get("what") or {}
    what_out: Dict[str, Any] = Converted()
    _plain(what_out, "syscall", what.get("syscall"))
    _plain(what_out, "errno", what.get("errno"))
    what_out["rights"] = [_right_record(r) for r in what.get("rights") or []]
    out["what"] = what_out
    _with_hex(out, "where", list(item.get("where") or []))
    out["objects"] = [object_record(d.object) for d in denials]
    sandbox = item.get("sandbox") or {}
    out["sandbox"] = Converted(domain=convert(sandbox.get("domain")),
                               boot=_int(sandbox.get("boot")),
                               status=convert(sandbox.get("status")),
                               creator=creator_record(sandbox.get("creator")))
    _with_hex(out, "fix", list(item.get("fix") or []))
    out["hide"] = item.get("hide")
    policy = item.get("policy")
    out["policy"] = convert(policy) if policy is not None else None
    out["refer"] = refer_record(item.get("refer"))
    return out


# Rights converted (lldecode.analysis.explain.RightInfo), by their fields:
# a log names a handful; bounded (emptied when full), short names only.
_RIGHTS_KEPT = 1024
_RIGHT_RECORDS: Dict[Any, Dict[str, Any]] = {}


def _right_record(r: Any) -> Any:
    """``convert(r)`` for a described right (a fresh copy of a memoized one)."""
    if r.__class__ is not dict or len(r) != 5:
        return convert(r)
    name, syscalls = r.get("name"), r.get("syscalls")
    if name.__class__ is not str or len(name) > 256 or syscalls.__class__ is not list:
        return convert(r)
    try:
        abi = r.get("abi")
        key = (tuple(r), name, r.get("guards"), tuple(syscalls), abi.__class__, abi,
               r.get("applies_to"))
        done = _RIGHT_RECORDS.get(key)
    except TypeError:  # a value that cannot be a key
        return convert(r)
    if done is None:
        done = convert(r)
        if len(_RIGHT_RECORDS) >= _RIGHTS_KEPT:
            _RIGHT_RECORDS.clear()
        _RIGHT_RECORDS[key] = done
    copy = Converted(done)
    for k, v in copy.items():
        if v.__class__ is list:
            copy[k] = list(v)
    return copy


def refer_record(refer: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The refer rule's part in an explained operation
    (lldecode.analysis.explain.Refer): ``refused`` false, and every other
    field null or empty, when it had none."""
    if refer is None:  # the usual case: what the code below gives for no refer
        return Converted(refused=False, operation=None, errno=None, directories=[],
                         refer_missing=[], refer_missing_hex=None, compared_all=None,
                         gained=[], needed=[])
    r = refer
    out: Dict[str, Any] = Converted()
    out["refused"] = refer is not None
    _plain(out, "operation", r.get("operation"))
    _plain(out, "errno", r.get("errno"))
    directories = []
    for directory in r.get("directories") or ():
        entry: Dict[str, Any] = Converted()
        _plain(entry, "role", directory.get("role"))
        _with_hex(entry, "path", directory.get("path"))
        _plain(entry, "domain", directory.get("domain"))
        entry["missing"] = convert(list(directory.get("missing") or []))
        directories.append(entry)
    out["directories"] = directories
    _with_hex(out, "refer_missing", list(r.get("refer_missing") or []))
    compared = r.get("compared_all")
    out["compared_all"] = bool(compared) if refer is not None else None
    out["gained"] = convert(list(r.get("gained") or []))
    needed = []
    for need in r.get("needed") or ():
        entry = Converted()
        _with_hex(entry, "path", need.get("path"))
        entry["rights"] = convert(list(need.get("rights") or []))
        needed.append(entry)
    out["needed"] = needed
    return out


# The dimensions of a summary, each a key of every group (null when the
# summary is not grouped by it).
SUMMARY_DIMENSIONS = ("domain", "blocker", "exe", "path", "syscall")


def summary_record(row: Mapping[str, Any]) -> Dict[str, Any]:
    """One group of a summary (lldecode.analysis.summarize) as a record of
    schema v1: every dimension's key (null when not grouped by it)."""
    out = _versioned()
    _plain(out, "domain", row.get("domain"))
    _plain(out, "node", row.get("node"))
    _plain(out, "blocker", row.get("blocker"))
    _with_hex(out, "exe", row.get("exe"))
    _with_hex(out, "path", row.get("path"))
    _plain(out, "syscall", row.get("syscall"))
    out["creator"] = creator_record(row.get("creator"))
    out["denials_logged"] = _int(row.get("denials_logged"))
    out["denials_reported"] = _int(row.get("denials_reported"))
    out["count"] = row.get("count")
    _timed(out, "first", row.get("first"))
    _timed(out, "last", row.get("last"))
    return out


def summary_document(total: int, by: Sequence[str]) -> Dict[str, Any]:
    """The head of ``summarize --format json`` (its ``groups`` follow)."""
    return {"schema_version": SCHEMA_VERSION, "total": total, "by": list(by)}


def simulation_record(outcome: Mapping[str, Any]) -> Dict[str, Any]:
    """``simulate``'s answer (lldecode.landlock.simulate.Outcome.as_dict())
    as a document of schema v1: each predicted denial's object with the
    keys of a logged one."""
    out = _versioned()
    out["allowed"] = bool(outcome.get("allowed"))
    _plain(out, "errno", outcome.get("errno"))
    denials = []
    for denial in outcome.get("denials") or ():
        entry: Dict[str, Any] = Converted()
        entry["layer"] = _int(denial.get("layer"))
        _with_hex(entry, "policy", denial.get("policy"))
        entry["blockers"] = convert(list(denial.get("blockers") or []))
        entry["object"] = object_record(denial.get("object") or {})
        denials.append(entry)
    out["denials"] = denials
    return out


def domain_record(row: Mapping[str, Any]) -> Dict[str, Any]:
    """One row of the domains report (lldecode.analysis.domain_report) as a
    record of schema v1."""
    out = _versioned()
    out.update(domain_info_record(row))
    selected = row.get("denials_selected")
    out["denials_selected"] = _int(selected)
    missing = row.get("missing")
    out["missing"] = _int(missing)
    out["duplicate_allocations"] = _int(row.get("duplicate_allocations"))
    out["blockers"] = [Converted(name=convert(name), count=count)
                       for name, count in (row.get("blockers") or {}).items()]
    out["gap_causes"] = convert(list(row.get("gap_causes") or []))
    return out


def dumps(value: Any, indent: Optional[int] = None) -> str:
    """``value`` as JSON text, by the rules of the module docstring: the one
    way lldecode writes JSON."""
    encoder = _ENCODER if indent is None else _indented_encoder(indent)
    return escape_json(encoder.encode(convert(value)))


# json.dumps(value, ensure_ascii=False, indent=...) makes an encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False)


@functools.lru_cache(maxsize=8)
def _indented_encoder(indent: int) -> json.JSONEncoder:
    return json.JSONEncoder(ensure_ascii=False, indent=indent)


def write_json_list(out: TextIO, items: Iterable[Any]) -> None:
    """A JSON list written item by item (never held whole in memory)."""
    write_json_pieces(out, (json_list_piece(item) for item in items))


def json_list_piece(item: Any) -> str:
    """An item of a list :func:`write_json_pieces` writes: the comma
    before it, and the item, indented."""
    return ",\n  " + dumps(item, indent=2).replace("\n", "\n  ")


def write_json_pieces(out: TextIO, pieces: Iterable[str]) -> None:
    """A JSON list of the items whose pieces (:func:`json_list_piece`,
    several in one string or one cut in several) are given in order: the
    comma before the first is left out."""
    out.write("[")
    empty = True
    for piece in pieces:
        if empty and piece:
            piece = piece[1:]  # (the first item's comma)
            empty = False
        out.write(piece)
    out.write("]\n" if empty else "\n]\n")


def write_json_document(out: TextIO, head: Mapping[str, Any], key: str,
                        items: Iterable[Any]) -> None:
    """A JSON object: the fields of ``head`` on one line, then ``key``'s list
    written item by item (as :func:`write_json_list`)."""
    fields: List[str] = [f"{dumps(name)}: {dumps(value)}" for name, value in head.items()]
    out.write("{" + "".join(f"{field}, " for field in fields) + f"{dumps(key)}: ")
    write_json_list(out, items)
    out.write("}\n")


def write_ndjson_line(out: TextIO, value: Any) -> None:
    """One JSON value on one line."""
    out.write(ndjson_line(value))


def ndjson_line(value: Any) -> str:
    """One JSON value on one line, as text (with its newline)."""
    return dumps(value) + "\n"


def load_schema() -> Dict[str, Any]:
    """The JSON Schema of schema version 1, as shipped in the package."""
    from importlib import resources

    text = (resources.files("lldecode") / "schema" / "lldecode-v1.schema.json").read_text(
        encoding="utf-8")
    loaded: Dict[str, Any] = json.loads(text)
    return loaded
