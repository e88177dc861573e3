"""The JSON rule: valid UTF-8, valid JSON, no byte lost, whatever the value.

Bytes that are not UTF-8 (in ``bytes``, or in a ``str`` as the lone
surrogates of ``surrogateescape``) become U+FFFD in the text and are given
exactly in a ``<field>_hex`` sibling; U+2028/U+2029 and the other characters
a terminal acts on are written as ``\\uNNNN`` escapes; every writer goes
through the one conversion.
"""

from __future__ import annotations

import io
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from lldecode.output.jsonable import (
    convert,
    dumps,
    log_bytes,
    write_json_document,
    write_json_list,
    write_ndjson_line,
)
from tests.output.hostile import assert_json_rule


def _written(value):
    """``value`` through each writer: (bytes, ndjson?) pairs."""
    outs = []
    stream = io.StringIO()
    write_ndjson_line(stream, value)
    outs.append((stream.getvalue().encode("utf-8"), True))
    stream = io.StringIO()
    write_json_list(stream, [value, value])
    outs.append((stream.getvalue().encode("utf-8"), False))
    stream = io.StringIO()
    write_json_document(stream, {"total": 2, "by": ["x"]}, "groups", [value])
    outs.append((stream.getvalue().encode("utf-8"), False))
    return outs


def test_bytes_and_surrogates_get_a_hex_sibling():
    value = {"path": b"/bad\xff\xfe", "syscall": "\u202e\udc9b", "ok": b"/fine",
             "argv": [b"a", b"\xff"], "where": ["x\udcff", "y"], "n": 3}
    out = convert(value)
    assert out == {"path": "/bad\ufffd\ufffd", "path_hex": "2f626164fffe",
                   "syscall": "\u202e\ufffd", "syscall_hex": "e280ae9b", "ok": "/fine",
                   "argv": ["a", "\ufffd"], "argv_hex": ["61", "ff"],
                   "where": ["x\ufffd", "y"], "where_hex": ["78ff", None], "n": 3}
    assert list(out) == ["path", "path_hex", "syscall", "syscall_hex", "ok", "argv",
                         "argv_hex", "where", "where_hex", "n"]
    for data, ndjson in _written(value):
        assert_json_rule(data, ndjson)


def test_a_surrogate_no_byte_stands_for_is_kept_in_wtf8():
    assert log_bytes("a\ud800\udc9b") == b"a\xed\xa0\x80\x9b"
    out = convert({"x": "a\ud800"})
    assert out == {"x": "a\ufffd\ufffd\ufffd", "x_hex": "61eda080"}
    assert bytes.fromhex(out["x_hex"]).decode("utf-8", "surrogatepass") == "a\ud800"


def test_line_separators_and_terminal_controls_are_escaped():
    value = {"blockers": ["fs.\u2028x", "fs.\u2029\u202e\x9b"]}
    text = dumps(value)
    assert text == '{"blockers": ["fs.\\u2028x", "fs.\\u2029\\u202e\\u009b"]}'
    assert json.loads(text) == value


def test_keys_from_the_log():
    out = json.loads(dumps({"blockers": {"fs.\udc9b": 1, b"fs.\xff": 2, "fs.read_file": 3}}))
    assert out == {"blockers": {"fs.\\x9b": 1, "fs.\\xff": 2, "fs.read_file": 3}}


def test_a_field_cannot_pose_as_a_hex_sibling():
    """The log names a field path_hex: it cannot stand for the path's bytes."""
    obj = {"path_hex": "2f6574632f736861646f77", "path": "/tmp/x", "dev": "vda"}
    out = convert({"object": obj})["object"]
    assert out == {"path": "/tmp/x", "path_hex": b"/tmp/x".hex(), "dev": "vda"}
    bad = convert({"path": b"\xff", "path_hex": "00"})
    assert bad == {"path": "\ufffd", "path_hex": "ff"}
    # beside a number or no value, no bytes: null
    assert convert({"ino": 1, "ino_hex": "zz"}) == {"ino": 1, "ino_hex": None}
    assert convert({"path_hex": "2f", "path": None}) == {"path": None, "path_hex": None}


def test_numbers_json_cannot_write_are_null():
    assert json.loads(dumps({"time": math.inf, "x": math.nan, "y": 1.5})) == {
        "time": None, "x": None, "y": 1.5}


def test_conversion_is_done_once():
    once = convert({"path": b"\xff"})
    assert convert(once) is once
    assert convert({"a": once})["a"] is once


_LEAF = st.one_of(st.text(st.characters(blacklist_categories=()), max_size=10),
                  st.binary(max_size=10), st.integers(), st.none(), st.booleans(),
                  st.floats(allow_nan=True, allow_infinity=True))
_KEY = st.one_of(st.text(st.characters(blacklist_categories=()), max_size=6),
                 st.sampled_from(["path", "path_hex", "argv", "argv_hex"]))
_VALUE = st.recursive(_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEY, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_VALUE)
def test_any_value_is_valid_json_and_keeps_its_bytes(value):
    for data, ndjson in _written(value):
        assert_json_rule(data, ndjson)
    if isinstance(value, dict):
        out = json.loads(dumps(value))
        for key, item in value.items():
            raw = item if isinstance(item, bytes) else (
                log_bytes(item) if isinstance(item, str) else None)
            if raw is None or not isinstance(key, str) or key.endswith("_hex"):
                continue
            try:
                key.encode("utf-8")
                raw.decode("utf-8")
            except UnicodeError:
                if isinstance(key, str) and key.isascii():
                    assert bytes.fromhex(out[key + "_hex"]) == raw  # every byte kept


def test_every_json_writer_goes_through_dumps():
    """Only lldecode.output.jsonable calls json.dumps: the reading commands
    write JSON through its writers, which convert every value."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lldecode"
    callers = []
    for path in [*(root / "output").glob("*.py"), root / "cli" / "read.py"]:
        if path.name == "jsonable.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in ("dumps", "dump")
                    and isinstance(node.value, ast.Name) and node.value.id == "json"):
                callers.append(f"{path.name}:{node.lineno}")
    assert not callers
