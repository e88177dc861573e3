"""With several --policy layers, a snippet for each layer that denies
(lldecode.landlock.blame), on a real record of fixtures/auditd-raw.log."""

from __future__ import annotations

from pathlib import Path

import tomllib

from lldecode.analysis.explain import OLDER_LAYERS, Paragraph, explanation
from lldecode.analysis.reader import LogReader
from lldecode.landlock.blame import blame_denial
from lldecode.landlock.policy import Policy, parse_layer

RAW = str(Path(__file__).resolve().parents[2] / "fixtures" / "auditd-raw.log")
READ_FILE = "/tmp/llcapture-u_k9p5k5/fs_read_file/file"


def layer(source, handled, rules=""):
    return parse_layer(f"[[ruleset]]\nhandled_access_fs = {handled}\n{rules}", source)


def snippets(toml):
    """Each snippet of a blame's TOML: (the file it names, the rule)."""
    out = []
    for chunk in toml.strip().split("# add to ")[1:]:
        head, _, body = chunk.partition("\n")
        out.append((head, tomllib.loads(body)["path_beneath"][0]))
    return out


def test_a_snippet_per_denying_layer():
    policy = Policy((layer("one.toml", '["read_file", "write_file"]'),
                     layer("two.toml", '["read_file"]',
                           '[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["/etc"]\n'),
                     layer("three.toml", '["write_file"]'),
                     layer("four.toml", '["read_file", "write_file"]')))
    blamed = blame_denial(policy, ["fs.write_file", "fs.read_file"], {"path": "/srv/data"})
    assert blamed.consistent and blamed.layer == 4
    assert blamed.findings[0].also_denied_by == (1, 2, 3)
    assert snippets(blamed.toml) == [
        ("four.toml (layer 4)", {"allowed_access": ["write_file", "read_file"],
                                 "parent": ["/srv/data"]}),
        ("one.toml (layer 1)", {"allowed_access": ["write_file", "read_file"],
                                "parent": ["/srv/data"]}),
        ("two.toml (layer 2)", {"allowed_access": ["read_file"], "parent": ["/srv/data"]}),
        ("three.toml (layer 3)", {"allowed_access": ["write_file"], "parent": ["/srv/data"]}),
    ]
    # a layer whose rule allows it gets none
    allowed_in_two = blame_denial(policy, ["fs.write_file", "fs.read_file"],
                                  {"path": "/etc/passwd"})
    assert [head for head, _ in snippets(allowed_in_two.toml)] == [
        "four.toml (layer 4)", "one.toml (layer 1)", "three.toml (layer 3)"]


def test_net_ports_get_a_snippet_per_denying_layer():
    def net(source, rules=""):
        return parse_layer(f'[[ruleset]]\nhandled_access_net = ["connect_tcp"]\n{rules}', source)

    policy = Policy((net("a.toml"),
                     net("b.toml", '[[net_port]]\nallowed_access = ["connect_tcp"]\nport = [80]\n'),
                     net("c.toml")))
    blamed = blame_denial(policy, ["net.connect_tcp"], {"dest": 443})
    assert blamed.toml.count("[[net_port]]") == 3
    assert "# add to a.toml (layer 1)" in blamed.toml and "# add to b.toml (layer 2)" in blamed.toml
    assert blame_denial(policy, ["net.connect_tcp"], {"dest": 80}).toml.count("[[net_port]]") == 2


def test_explain_of_a_real_record_with_two_denying_layers():
    denial = next(d for d in LogReader([RAW]).denials() if d.path == READ_FILE.encode())
    policy = Policy((layer("outer.toml", '["read_file"]'), layer("inner.toml", '["read_file"]')))
    explained = explanation(Paragraph([denial]), policy)
    toml = explained["policy"]["toml"]
    assert [head for head, _ in snippets(toml)] == ["inner.toml (layer 2)",
                                                     "outer.toml (layer 1)"]
    # without the policy: a sentence says older layers may deny too
    assert OLDER_LAYERS in explanation(Paragraph([denial]))["fix"]


def test_scopes_name_every_layer_that_scopes():
    def scoped(source):
        return parse_layer('[[ruleset]]\nscoped = ["signal"]\n', source)

    blamed = blame_denial(Policy((scoped("a.toml"), scoped("b.toml"))), ["scope.signal"],
                          {"opid": 1})
    assert blamed.toml.split("\n") == [
        '# b.toml (layer 2): no rule can allow this; remove "signal" from [[ruleset]] scoped',
        '# a.toml (layer 1): no rule can allow this; remove "signal" from [[ruleset]] scoped']
