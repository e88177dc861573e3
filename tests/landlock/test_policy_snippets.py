"""The policy snippets explain --policy prints (lldecode.landlock.blame):
valid TOML for every path, read back by tomllib to the same path; a path
TOML cannot hold (bytes that are not UTF-8) said so, with the JSON form,
read back by json to the same bytes; safe to print on a terminal as they
are, whatever the path or the policy file's name holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest
import tomllib
from click.testing import CliRunner

from lldecode.cli.app import cli
from lldecode.landlock.blame import blame_denial
from lldecode.landlock.policy import load_policy, normalize_path
from tests.output.hostile import assert_clean_text
from tests.output.hostile_logs import HOSTILE_PATHS, hostile_paths_log

PATHS = [p.decode("utf-8", "surrogateescape") for p in HOSTILE_PATHS] + [
    '/tmp/say "hi"', "/tmp/\\u001b not an escape", "/tmp/tab\there", "/tmp/é ü 😀",
    "/tmp/'single' \"double\" \\back\\", "/tmp/line\u2028sep\u0085nel", "/tmp/\x7f\x00nul",
    "/tmp/#not a comment", "/tmp/]] [[path_beneath]]"]

LAYER1 = """abi = 4
[[ruleset]]
handled_access_fs = ["read_file", "write_file"]
handled_access_net = ["connect_tcp"]
[[path_beneath]]
allowed_access = ["read_file", "write_file"]
parent = ["/usr"]
"""
LAYER2 = """abi = 4
[[ruleset]]
handled_access_fs = ["read_file"]
[[path_beneath]]
allowed_access = ["read_file"]
parent = ["/usr"]
"""


@pytest.fixture(scope="module")
def policy_files(tmp_path_factory) -> List[Path]:
    base = tmp_path_factory.mktemp("snippets")
    one = base / "layer\x1b[2J\n# one\u202e.toml"
    two = base / "two.toml"
    one.write_text(LAYER1)
    two.write_text(LAYER2)
    return [one, two]


def _snippets_of(text: str):
    """(kind, value) of each rule of a snippet: TOML documents, or the JSON
    lines the snippet gives instead (after a comment saying why)."""
    json_lines = [line for line in text.split("\n") if line.startswith("{")]
    toml_text = "\n".join(line for line in text.split("\n") if not line.startswith("{"))
    return tomllib.loads(toml_text), [json.loads(line) for line in json_lines]


@pytest.mark.parametrize("path", PATHS, ids=ascii)
def test_snippet_parses_to_the_path(policy_files, path):
    policy = load_policy([str(p) for p in policy_files])
    result = blame_denial(policy, ["fs.read_file"], {"path": path})
    assert result.consistent, result.reason
    snippet = result.toml
    assert_clean_text(snippet)        # printable as it is
    toml, json_rules = _snippets_of(snippet)
    rules = toml.get("path_beneath", []) + [r for doc in json_rules
                                            for r in doc["path_beneath"]]
    # a rule for the layer that denied it, and for the older one that does too
    assert len(rules) == 2
    for rule in rules:  # (the rule's path as the kernel resolves it: // is /)
        assert rule["parent"] == [normalize_path(path)]
        assert rule["allowed_access"] == ["read_file"]
    representable = not any(0xD800 <= ord(c) <= 0xDFFF for c in path)
    assert bool(json_rules) == (not representable)
    if not representable:
        assert "not valid UTF-8, which TOML cannot hold" in snippet
    # the policy file's name, in the comment, is one line with nothing raw
    assert snippet.count("# add to ") == 2
    assert "layer\\u001B[2J\\u000A# one\\u202E.toml (layer 1)" in snippet


def test_port_snippet(policy_files):
    policy = load_policy([str(p) for p in policy_files])
    result = blame_denial(policy, ["net.connect_tcp"], {"dest": 8443})
    toml, _ = _snippets_of(result.toml)
    assert toml["net_port"] == [{"allowed_access": ["connect_tcp"], "port": [8443]}]


def test_explain_prints_snippets_to_copy(policy_files, tmp_path):
    """The snippets explain --policy prints, cut from its text, parse."""
    log = tmp_path / "paths.log"
    log.write_bytes(hostile_paths_log())
    args = ["explain", *[f"--policy={p}" for p in policy_files], str(log)]
    result = CliRunner().invoke(cli, args, env={"NO_COLOR": "1"})
    assert result.exit_code == 0, result.stderr
    text = assert_clean_text(result.stdout_bytes)
    blocks: List[List[str]] = []
    inside = False
    for line in text.split("\n"):
        if line == "  add to the policy:":
            blocks.append([])
            inside = True
        elif inside and line.startswith("    "):
            blocks[-1].append(line[4:])
        else:
            inside = False
    assert len(blocks) == len(HOSTILE_PATHS)
    for block, path in zip(blocks, HOSTILE_PATHS):
        toml, json_rules = _snippets_of("\n".join(block))
        rules = toml.get("path_beneath", []) + [r for doc in json_rules
                                                for r in doc["path_beneath"]]
        expected = normalize_path(path.decode("utf-8", "surrogateescape"))
        assert rules and all(r["parent"] == [expected] for r in rules)
