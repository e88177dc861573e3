"""JSON keeps every byte of the log, in every command that writes it.

The real capture holds paths with a newline, an ESC sequence and bytes that
are not UTF-8 (the kernel logs them hex-encoded).  Text output escapes them;
JSON must carry them as they are: the newline as a JSON ``\\n`` (a real
newline once parsed), never as the two characters backslash and n, and
bytes that are not UTF-8 in a ``<field>_hex`` sibling.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lldecode.cli.app import cli
from tests.conftest import FIXTURES
from tests.output.hostile import strings as json_strings

LOG = str(FIXTURES / "auditd-raw.log")
NEWLINE_PATH = "hex_paths/new\nline/file"
BAD_UTF8_HEX = "626164fffe75746638"  # "bad\xff\xfeutf8"

COMMANDS = [
    ["filter", "-f", "json"], ["filter", "-f", "ndjson"],
    ["explain", "-f", "json"], ["explain", "-f", "ndjson"],
    ["summarize", "--by", "path", "-f", "json"], ["summarize", "--by", "path", "-f", "ndjson"],
    ["summarize", "--by", "path,blocker", "-f", "json"],
]


def _documents(fmt: str, text: str):
    if fmt == "ndjson":
        return [json.loads(line) for line in text.splitlines()]
    return [json.loads(text)]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_json_keeps_every_byte(args):
    result = CliRunner().invoke(cli, [*args, "-j", "1", LOG] if args[0] == "summarize"
                                else [*args, LOG])
    assert result.exit_code == 0, result.output
    strings = [s for doc in _documents(args[-1], result.stdout) for s in json_strings(doc)]
    assert any(NEWLINE_PATH in s for s in strings), "the newline in the path is lost"
    assert not any("new\\nline" in s for s in strings), "the newline was escaped as text"
    assert not any("\\x1b" in s for s in strings), "ESC was escaped as text"
    assert any(BAD_UTF8_HEX in s for s in strings), "the bytes that are not UTF-8 are lost"
