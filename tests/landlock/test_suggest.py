"""lldecode.landlock.suggest: rule derivation, placement, merging, refer,
scopes, policy documents, verification and hostile paths (the real kernel
checks the same in tests/kernel/test_suggest.py)."""

from __future__ import annotations

import json
import os
import sys

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from lldecode.landlock.access import fs_mask
from lldecode.landlock.policy import load_policy
from lldecode.landlock.suggest import (
    Request,
    Scope,
    SuggestError,
    access_names,
    merge_upward,
    suggest_rules,
)


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def read(path: str) -> Request:
    return Request("d1", ("fs.read_file",), f"openat {path}", path=path)


def rules_of(result):
    return [(r.layer, r.rights, r.targets) for r in result.rules]


# -- placement ----------------------------------------------------------------------

@pytest.mark.parametrize("scope, path, rights, placed", [
    ("file", "/a/b/f", fs_mask("read_file"), "/a/b/f"),
    ("dir", "/a/b/f", fs_mask("read_file"), "/a/b"),
    ("dir", "/a/b", fs_mask("make_reg"), "/a/b"),        # already the directory
    ("parent:1", "/a/b/f", fs_mask("read_file"), "/a/b"),
    ("parent:2", "/a/b/f", fs_mask("read_file"), "/a"),
    ("parent:9", "/a/b/f", fs_mask("read_file"), "/"),
    ("under:/a", "/a/b/f", fs_mask("read_file"), "/a"),
    ("under:/a/", "/a/b/f", fs_mask("read_file"), "/a"),
    ("under:/ab", "/a/b/f", fs_mask("read_file"), "/a/b/f"),  # not beneath: stays
])
def test_scope_places_rules(scope, path, rights, placed):
    assert Scope.parse(scope).place(path, rights) == placed


@pytest.mark.parametrize("bad", ["", "files", "parent:", "parent:x", "parent:-1", "under:",
                                 "under:/a\0b"])
def test_a_bad_scope_is_an_error(bad):
    with pytest.raises(SuggestError):
        Scope.parse(bad)


def test_without_policy_exactly_the_missing_rights_on_the_object():
    result = suggest_rules([
        read("/etc/passwd"),
        Request("d1", ("fs.make_reg",), "openat /tmp/x", path="/tmp/x"),
        Request("d2", ("net.bind_tcp",), "bind port 8080", port=8080),
    ])
    assert rules_of(result) == [
        (None, ("fs.read_file",), ("/etc/passwd",)),
        (None, ("fs.make_reg",), ("/tmp/x",)),
        (None, ("net.bind_tcp",), (8080,)),
    ]
    assert result.domains.keys() == {"d1", "d2"}
    assert result.verification.summary == "3 of 3 denials allowed by the suggested policy"
    assert any("older layers of the domain may deny too" in n for n in result.notes)
    assert result.snippets["d2"] == {"net_port": [{"allowed_access": ["bind_tcp"],
                                                   "port": [8080]}]}


def test_file_and_directory_rights_are_placed_apart():
    # a record listing a file right and a directory right (a moved
    # directory's comparison): the file right on the file's directory with
    # --scope dir, the directory right on the directory itself
    result = suggest_rules([Request("d", ("fs.read_file",), "x", path="/srv/a/f"),
                            Request("d", ("fs.read_dir",), "y", path="/srv/a")], scope="dir")
    assert rules_of(result) == [(None, ("fs.read_file", "fs.read_dir"), ("/srv/a",))]


# -- merging ------------------------------------------------------------------------

def test_same_rights_same_parent_share_one_entry():
    result = suggest_rules([read("/srv/a/f"), read("/srv/a/g"), read("/srv/b/h")])
    assert result.snippets["d1"]["path_beneath"] == [
        {"allowed_access": ["read_file"], "parent": ["/srv/a/f", "/srv/a/g"]},
        {"allowed_access": ["read_file"], "parent": ["/srv/b/h"]},
    ]
    assert len(result.rules) == 3


def test_merge_depth_merges_upward_but_never_into_root():
    result = suggest_rules([read("/srv/a/f"), read("/srv/a/g"), read("/srv/b/h")],
                           merge_depth=1)
    assert rules_of(result) == [(None, ("fs.read_file",), ("/srv/a",)),
                                (None, ("fs.read_file",), ("/srv/b/h",))]
    result = suggest_rules([read("/srv/a/f"), read("/srv/a/g"), read("/srv/b/h")],
                           merge_depth=2)
    assert rules_of(result) == [(None, ("fs.read_file",), ("/srv",))]
    rules, notes = merge_upward({"/a": 4, "/b": 4}, 3)
    assert rules == {"/a": 4, "/b": 4} and "not merged into one rule on /" in notes[0]


def test_merging_keeps_different_rights_apart():
    rules, _ = merge_upward({"/s/a": fs_mask("read_file"), "/s/b": fs_mask("write_file")}, 1)
    assert rules == {"/s/a": fs_mask("read_file"), "/s/b": fs_mask("write_file")}


# -- refer ---------------------------------------------------------------------------

def test_rename_gets_refer_on_both_sides_remove_at_source_make_at_destination(tmp_path):
    policy = write(tmp_path, "l.toml", '[[ruleset]]\nhandled_access_fs = ["make_reg", '
                   '"remove_file", "refer", "read_file"]\n')
    request = Request("d", ("fs.remove_file", "fs.refer", "fs.make_reg"), "rename",
                      path="/srv/a", destination="/srv/b", operation="rename")
    result = suggest_rules([request], [policy])
    assert rules_of(result) == [
        (1, ("fs.remove_file", "fs.refer"), ("/srv/a",)),
        (1, ("fs.make_reg", "fs.refer"), ("/srv/b",)),
    ]
    assert result.verification.ok


def test_link_needs_no_remove_right():
    request = Request("d", ("fs.refer", "fs.make_reg"), "link", path="/srv/a",
                      destination="/srv/b", operation="link")
    result = suggest_rules([request])
    assert rules_of(result) == [(None, ("fs.refer",), ("/srv/a",)),
                                (None, ("fs.make_reg", "fs.refer"), ("/srv/b",))]
    assert result.verification.ok


def test_rights_the_file_would_gain_are_granted_at_the_source(tmp_path):
    policy = write(tmp_path, "l.toml", """
[[ruleset]]
handled_access_fs = ["make_reg", "remove_file", "refer", "read_file"]
[[path_beneath]]
allowed_access = ["make_reg", "remove_file", "refer"]
parent = ["/srv/a", "/srv/b"]
[[path_beneath]]
allowed_access = ["read_file"]
parent = ["/srv/b"]
""")
    request = Request("d", ("fs.read_file",), "rename", path="/srv/a", destination="/srv/b",
                      operation="rename")
    result = suggest_rules([request], [policy])
    assert rules_of(result) == [(1, ("fs.read_file",), ("/srv/a",))]
    assert result.verification.ok


def test_a_layer_not_listing_refer_gains_it_with_a_note(tmp_path):
    policy = write(tmp_path, "l.toml", """
[[ruleset]]
handled_access_fs = ["make_reg", "remove_file"]
[[path_beneath]]
allowed_access = ["make_reg", "remove_file"]
parent = ["/"]
""")
    request = Request("d", ("fs.refer",), "link", path="/srv/a", destination="/srv/b",
                      operation="link")
    result = suggest_rules([request], [policy])
    assert rules_of(result) == [(1, ("fs.refer",), ("/srv/a", "/srv/b"))] or rules_of(
        result) == [(1, ("fs.refer",), ("/srv/a",)), (1, ("fs.refer",), ("/srv/b",))]
    assert result.verification.ok
    assert any("did not list refer" in n for n in result.notes)


# -- with a policy ---------------------------------------------------------------------

def test_every_denying_layer_gets_the_rule_and_no_other(tmp_path):
    first = write(tmp_path, "1.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    second = write(tmp_path, "2.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n'
                   '[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["/srv"]\n')
    third = write(tmp_path, "3.toml", '[[ruleset]]\nhandled_access_fs = ["read_file", '
                  '"write_file"]\n')
    result = suggest_rules([read("/srv/f")], [first, second, third])
    assert rules_of(result) == [(1, ("fs.read_file",), ("/srv/f",)),
                                (3, ("fs.read_file",), ("/srv/f",))]
    assert [d.changed for d in result.documents] == [True, False, True]
    assert result.verification.ok
    # the updated files parse back to the same handled rights
    for before, doc in zip([first, second, third], result.documents):
        assert load_policy([before]).layers[0].handled_fs == \
            load_policy([write(tmp_path, "check.toml", doc.text)]).layers[0].handled_fs


def test_toml_is_appended_and_keeps_comments(tmp_path):
    original = '# my sandbox\nabi = 4\n[[ruleset]]\nhandled_access_fs = ["abi.read_write"]\n'
    policy = write(tmp_path, "p.toml", original)
    result = suggest_rules([Request("d", ("fs.write_file", "fs.read_file", "fs.truncate",
                                          "fs.read_dir", "fs.remove_dir", "fs.remove_file",
                                          "fs.make_char", "fs.make_dir", "fs.make_reg",
                                          "fs.make_sock", "fs.make_fifo", "fs.make_block",
                                          "fs.make_sym", "fs.refer"), "x", path="/srv")],
                           [policy])
    doc = result.documents[0]
    assert doc.text.startswith(original)
    assert 'allowed_access = ["abi.read_write"]' in doc.text  # the group, as the abi knows it
    diff = result.diff()
    assert diff.startswith("--- a/") and "+# added by lldecode suggest" in diff


def test_abi_groups_only_where_one_is_included():
    every = fs_mask("execute", "read_file", "read_dir", "refer")
    assert access_names("fs", every, 7) == ["abi.read_execute"]
    assert access_names("fs", every, None) == ["execute", "read_file", "read_dir", "refer"]
    assert access_names("fs", fs_mask("read_file"), 7) == ["read_file"]
    assert access_names("net", 3, 4) == ["abi.all"]


def test_json_policy_stays_json_with_its_spelling(tmp_path):
    policy = write(tmp_path, "p.json", json.dumps(
        {"ruleset": [{"handledAccessFs": ["read_file"]}],
         "pathBeneath": [{"allowedAccess": ["read_file"], "parent": ["/usr"]}]}))
    result = suggest_rules([read("/srv/f")], [policy])
    document = json.loads(result.documents[0].text)
    assert document["pathBeneath"][-1] == {"allowedAccess": ["read_file"], "parent": ["/srv/f"]}


def test_an_inline_array_is_rewritten_with_a_note(tmp_path):
    policy = write(tmp_path, "p.toml", '# gone\npath_beneath = [{allowed_access = ["read_file"],'
                   ' parent = ["/usr"]}]\n')
    result = suggest_rules([read("/srv/f")], [policy])
    assert any("rewritten" in n for n in result.notes)
    layer = load_policy([write(tmp_path, "n.toml", result.documents[0].text)]).layers[0]
    assert layer.path_rules == {"/usr": fs_mask("read_file"), "/srv/f": fs_mask("read_file")}


def test_a_right_the_policy_does_not_deny_is_said_not_added(tmp_path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    result = suggest_rules([Request("d", ("net.bind_tcp",), "bind port 80", port=80)],
                           [policy])
    assert result.rules == []
    assert not result.documents[0].changed
    assert any("no layer of the policy handles net.bind_tcp" in n for n in result.notes)


def test_abi_older_than_a_right_is_said(tmp_path):
    policy = write(tmp_path, "p.toml", 'abi = 4\n[[ruleset]]\nhandled_access_fs = '
                   '["ioctl_dev"]\n')
    result = suggest_rules([Request("d", ("fs.ioctl_dev",), "ioctl", path="/dev/tty")],
                           [policy])
    assert rules_of(result) == [(1, ("fs.ioctl_dev",), ("/dev/tty",))]
    assert any("needs Landlock ABI 5" in n for n in result.notes)


def test_write_in_place_keeps_an_orig_copy(tmp_path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    result = suggest_rules([read("/srv/f")], [policy])
    assert result.write(in_place=True) == [policy]
    assert open(policy + ".orig").read() == '[[ruleset]]\nhandled_access_fs = ["read_file"]\n'
    assert load_policy([policy]).layers[0].path_rules == {"/srv/f": fs_mask("read_file")}
    out = tmp_path / "out"
    out.mkdir()
    written = result.write(directory=str(out), fmt="json")
    assert [os.path.basename(p) for p in written] == ["p.json"]
    assert load_policy(written).layers[0].path_rules == {"/srv/f": fs_mask("read_file")}


# -- what no rule can allow ------------------------------------------------------------

def test_scopes_and_ptrace_are_said_and_not_verified(tmp_path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n'
                   'scoped = ["signal", "abstract_unix_socket"]\n')
    requests = [Request("d", ("scope.signal",), "kill"),
                Request("d", ("scope.abstract_unix_socket",), "connect"),
                Request("d", ("ptrace",), "ptrace")]
    result = suggest_rules(requests, [policy])
    assert result.verification.summary == "0 of 3 denials allowed by the suggested policy"
    reasons = [f.reason for f in result.verification.failures]
    assert "--allow-scope signal" in reasons[0]
    assert "--allow-scope abstract_unix_socket" in reasons[1]
    assert reasons[2].startswith("ptrace: no rule can allow")
    assert not result.documents[0].changed  # no scope removed unless asked

    result = suggest_rules(requests, [policy], allow_scopes=["signal"])
    assert result.verification.allowed == 1
    assert result.documents[0].dropped_scopes == ["signal"]
    layer = load_policy([write(tmp_path, "n.toml", result.documents[0].text)]).layers[0]
    assert layer.scoped == 1  # abstract_unix_socket kept
    assert layer.handled_fs == fs_mask("read_file")


def test_a_layer_that_handles_only_the_scope_is_not_emptied(tmp_path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nscoped = ["signal"]\n')
    result = suggest_rules([Request("d", ("scope.signal",), "kill")], [policy],
                           allow_scopes=["signal"])
    assert not result.documents[0].changed
    assert any("remove the layer instead" in n for n in result.notes)
    assert not result.verification.ok


def test_skipped_and_denied_requests_are_listed():
    result = suggest_rules([read("/a"), Request("d1", ("fs.read_file",), "b", path="/b",
                                                decision="skip"),
                            Request("d1", ("fs.read_file",), "c", path="/c", decision="deny")])
    assert rules_of(result) == [(None, ("fs.read_file",), ("/a",))]
    assert result.verification.summary == "1 of 3 denials allowed by the suggested policy"
    assert [f.reason for f in result.verification.failures] == [
        "skipped", "denied on purpose (deny forever)"]


def test_objects_with_no_absolute_path_cannot_have_a_rule():
    result = suggest_rules([Request("d", ("fs.read_file",), "x", path="pipe:[4]"),
                            Request("d", ("fs.read_file",), "y", path="/a\0b"),
                            Request("d", ("fs.resolve_unix",), "z", path="/s")])
    assert result.rules == []
    assert not result.verification.ok
    notes = " ".join(result.notes)
    assert "no absolute path" in notes and "NUL" in notes and "newer than" in notes


# -- hostile paths -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ['/t/say "hi"', "/t/new\nline", "/t/\x1b[31mred",
                                  "/t/tab\tx", "/t/back\\slash", "/t/bidi\u202eexe.txt",
                                  "/t/nel\x85x", "/t/]]\n[[ruleset]]"])
def test_hostile_paths_parse_back_to_the_same_path(tmp_path, path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    result = suggest_rules([read(path)], [policy])
    text = result.documents[0].text
    assert "\x1b" not in text and "\u202e" not in text and "\x85" not in text
    assert tomllib.loads(text)
    layer = load_policy([write(tmp_path, "n.toml", text)]).layers[0]
    assert layer.path_rules == {path: fs_mask("read_file")}
    assert result.verification.ok


def test_a_path_that_is_not_utf8_turns_the_layer_into_json(tmp_path):
    path = "/t/bad\udcff\udcfe"
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    result = suggest_rules([read(path)], [policy])
    doc = result.documents[0]
    assert doc.format == "json" and doc.output_name.endswith("p.json")
    assert any("not valid UTF-8" in n for n in result.notes)
    assert json.loads(doc.text)["path_beneath"][0]["parent"] == [path]
    assert "--- /dev/null" in result.diff()
    assert result.verification.ok


def test_deny_forever_is_remembered_in_the_youngest_toml_layer(tmp_path):
    first = write(tmp_path, "1.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n')
    second = write(tmp_path, "2.json", '{"ruleset": [{"handledAccessFs": ["read_file"]}]}')
    hostile = "/srv/x\n[[ruleset]]\u202e\udcff"
    denied = Request("d", ("fs.read_file",), "openat", path=hostile, decision="deny")
    result = suggest_rules([denied, read("/srv/ok")], [first, second])
    text = result.documents[0].text
    assert "# lldecode suggest: denied on purpose: " in text
    assert text.isascii() and tomllib.loads(text)  # the comment cannot end early
    result.write(in_place=True)
    # the next run does not suggest it, and says it was denied on purpose
    again = suggest_rules([read(hostile), read("/srv/other")], [first, second])
    assert [r.targets for r in again.rules] == [("/srv/other",), ("/srv/other",)]
    assert [f.reason for f in again.verification.failures] == [
        "denied on purpose (deny forever)"]
    assert again.documents[0].text.count("denied on purpose") == 1  # not twice


def test_remembered_denials_survive_a_rewrite(tmp_path):
    policy = write(tmp_path, "p.toml", '[[ruleset]]\nhandled_access_fs = ["read_file"]\n'
                   'scoped = ["signal"]\n')
    result = suggest_rules([Request("d", ("fs.read_file",), "x", path="/a", decision="deny")],
                           [policy])
    result.write(in_place=True)
    result = suggest_rules([Request("d", ("scope.signal",), "kill")], [policy],
                           allow_scopes=["signal"])
    assert result.documents[0].dropped_scopes == ["signal"]
    assert "denied on purpose" in result.documents[0].text


def test_allow_scope_spells_out_an_abi_group(tmp_path):
    policy = write(tmp_path, "p.toml", 'abi = 6\n[[ruleset]]\nhandled_access_fs = ["read_file"]\n'
                   'scoped = ["abi.all"]\n')
    result = suggest_rules([Request("d", ("scope.signal",), "kill")], [policy],
                           allow_scopes=["signal"])
    assert result.verification.ok
    assert 'scoped = ["abstract_unix_socket"]' in result.documents[0].text


def test_dropping_a_scope_edits_the_line_and_keeps_comments(tmp_path):
    text = ('# keep me\n[[ruleset]]\nhandled_access_fs = ["read_file"]  # and me\n'
            'scoped = ["signal"]\n[[path_beneath]]\nallowed_access = ["read_file"]\n'
            'parent = ["/usr"]\n')
    policy = write(tmp_path, "p.toml", text)
    result = suggest_rules([Request("d", ("scope.signal",), "kill")], [policy],
                           allow_scopes=["signal"])
    assert result.documents[0].text == text.replace('scoped = ["signal"]\n', "\n")
    assert not any("comments are lost" in n for n in result.notes)
    assert result.verification.ok
