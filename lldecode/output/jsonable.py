"""Denials, domains and reports as JSON-ready values.

One rule for bytes from the log (paths, comm, exe, argv, cwd): a value is
written as a JSON string of its UTF-8 text; when the bytes are not valid
UTF-8, invalid bytes become U+FFFD in that string and the exact bytes are
given, hex-encoded, in a sibling field named ``<field>_hex`` (for a list,
``<field>_hex`` is the list of every element's hex).  JSON output is thus
always valid JSON and never loses a byte.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Mapping, TextIO

from lldecode.analysis.denials import Denial
from lldecode.audit.values import bytes_to_text, is_utf8


def convert(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (dicts, lists, bytes, numbers, text)."""
    if isinstance(value, dict):
        return convert_mapping(value)
    if isinstance(value, (list, tuple)):
        return [convert(v) for v in value]
    if isinstance(value, bytes):
        return bytes_to_text(value)
    return value


def convert_mapping(mapping: Mapping[str, Any]) -> Dict[str, Any]:
    """A JSON-ready copy of a dict, with ``<field>_hex`` beside bytes that
    are not UTF-8."""
    out: Dict[str, Any] = {}
    for key, value in mapping.items():
        out[key] = convert(value)
        if isinstance(value, bytes) and not is_utf8(value):
            out[key + "_hex"] = value.hex()
        elif (isinstance(value, (list, tuple)) and value
              and any(isinstance(v, bytes) and not is_utf8(v) for v in value)):
            out[key + "_hex"] = [v.hex() if isinstance(v, bytes) else None for v in value]
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


def write_json_list(out: TextIO, items: Iterable[Any]) -> None:
    """A JSON list written item by item (never held whole in memory)."""
    out.write("[")
    empty = True
    for item in items:
        out.write("\n  " if empty else ",\n  ")
        out.write(json.dumps(item, ensure_ascii=False, indent=2).replace("\n", "\n  "))
        empty = False
    out.write("]\n" if empty else "\n]\n")


def write_ndjson_line(out: TextIO, value: Any) -> None:
    """One JSON value on one line."""
    out.write(json.dumps(value, ensure_ascii=False) + "\n")
