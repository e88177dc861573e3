"""Denials, domains and reports as JSON-ready values, and the JSON writers.

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

import json
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, TextIO

from lldecode.analysis.denials import Denial
from lldecode.audit.values import bytes_to_text, is_utf8
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


def denial_dict(denial: Denial) -> Dict[str, Any]:
    """One denial as a JSON-ready dict (see the module docstring for bytes)."""
    record = denial.record
    out: Dict[str, Any] = {
        "time": record.time,
        "serial": record.serial,
        "node": record.node,
        "domain": denial.domain,
        "blockers": list(denial.blockers),
        "object": denial.object,
    }
    if denial.operation_size > 1:
        out["operation"] = {"index": denial.operation_index, "size": denial.operation_size}
    out["process"] = denial.process
    info = denial.domain_info
    out["domain_info"] = info.as_dict() if info is not None else None
    out["source"] = {"file": record.source, "line": record.lineno,
                     "carrier": record.carrier}
    return convert_mapping(out)


def dumps(value: Any, indent: Optional[int] = None) -> str:
    """``value`` as JSON text, by the rules of the module docstring: the one
    way lldecode writes JSON."""
    text = json.dumps(convert(value), ensure_ascii=False, indent=indent)
    return escape_json(text)


def write_json_list(out: TextIO, items: Iterable[Any]) -> None:
    """A JSON list written item by item (never held whole in memory)."""
    out.write("[")
    empty = True
    for item in items:
        out.write("\n  " if empty else ",\n  ")
        out.write(dumps(item, indent=2).replace("\n", "\n  "))
        empty = False
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
    out.write(dumps(value) + "\n")
