"""Reading landlockconfig policy files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lldecode.landlock.access import all_mask, names_to_mask
from lldecode.landlock.policy import (
    PolicyError,
    load_layer,
    load_policy,
    normalize_path,
    parse_layer,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "policies"


def fs(*names: str) -> int:
    return names_to_mask("fs", names)


def layer(text: str, fmt: str = "toml"):
    return parse_layer(text, "test." + fmt, fmt, cwd="/work")


def test_fixture_base_system():
    base = load_layer(str(FIXTURES / "base-system.toml"))
    assert base.abi == 7
    assert base.handled_fs == all_mask("fs", 7)
    assert base.handled_net == 3 and base.scoped == 3
    assert base.path_rules["/usr"] == fs("execute", "read_file", "read_dir", "refer")
    assert base.path_rules["/tmp"] == all_mask("fs", 7) & ~fs("execute")
    assert base.port_rules == {443: names_to_mask("net", ["connect_tcp"])}


def test_fixture_json_with_variables():
    project = load_layer(str(FIXTURES / "project.json"))
    assert project.path_rules["/tmp/project/build"] == fs(
        "write_file", "truncate", "make_reg", "remove_file", "refer")
    assert project.path_rules["/dev/null"] == fs("write_file", "truncate")
    assert project.handled_net == names_to_mask("net", ["bind_tcp"])


def test_policy_keeps_layer_order():
    files = [str(FIXTURES / name) for name in ("base-system.toml", "project.json")]
    policy = load_policy(files)
    assert policy.sources == files


def test_rules_augment_handled_rights():
    result = layer('[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["/etc"]\n')
    assert result.handled_fs == fs("read_file")
    assert result.path_rules == {"/etc": fs("read_file")}


def test_rulesets_merge_and_rules_union():
    result = layer("""
[[ruleset]]
handled_access_fs = ["execute"]
[[ruleset]]
handled_access_fs = ["fs.write_file"]
scoped = ["signal"]
[[path_beneath]]
allowed_access = ["execute"]
parent = ["/usr/"]
[[path_beneath]]
allowed_access = ["fs_write_file"]
parent = ["/usr/./lib/.."]
""")
    assert result.handled_fs == fs("execute", "write_file")
    assert result.scoped == 2
    assert result.path_rules == {"/usr": fs("execute", "write_file")}


@pytest.mark.parametrize("abi,read_execute,read_write", [
    (1, fs("execute", "read_file", "read_dir"), all_mask("fs", 1) & ~fs("execute")),
    (2, fs("execute", "read_file", "read_dir", "refer"), all_mask("fs", 2) & ~fs("execute")),
    (5, fs("execute", "read_file", "read_dir", "refer"), all_mask("fs", 5) & ~fs("execute")),
])
def test_abi_groups(abi, read_execute, read_write):
    result = layer(f"""abi = {abi}
[[path_beneath]]
allowed_access = ["abi.read_execute"]
parent = ["/a"]
[[path_beneath]]
allowed_access = ["abi.read_write"]
parent = ["/b"]
""")
    assert result.path_rules == {"/a": read_execute, "/b": read_write}
    assert result.handled_fs == read_execute | read_write


def test_abi_all_net_before_abi_4_is_empty():
    result = layer('abi = 3\n[[ruleset]]\nhandled_access_fs = ["abi.all"]\n'
                   'handled_access_net = ["abi.all"]\n')
    assert result.handled_net == 0 and result.handled_fs == all_mask("fs", 3)


def test_variables_expand_to_every_combination():
    result = layer("""
[[variable]]
name = "top"
literal = ["/a", "/b"]
[[variable]]
name = "sub"
literal = ["x"]
[[variable]]
name = "sub"
literal = ["y"]
[[path_beneath]]
allowed_access = ["read_file"]
parent = ["${top}/${sub}", "/cost/$$5", "/odd/$x"]
""")
    assert sorted(result.path_rules) == ["/a/x", "/a/y", "/b/x", "/b/y", "/cost/$5", "/odd/$x"]


def test_json_in_either_spelling():
    camel = {"ruleset": [{"handledAccessNet": ["connect_tcp"]}],
             "netPort": [{"allowedAccess": ["connect_tcp"], "port": [80]}]}
    snake = {"ruleset": [{"handled_access_net": ["connect_tcp"]}],
             "net_port": [{"allowed_access": ["connect_tcp"], "port": [80]}]}
    assert layer(json.dumps(camel), "json") == layer(json.dumps(snake), "json")


def test_relative_paths_use_the_working_directory():
    result = layer('[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["src/../lib"]\n')
    assert list(result.path_rules) == ["/work/lib"]


def test_normalize_path():
    assert normalize_path("//usr//lib/./x/..") == "/usr/lib"
    assert normalize_path("/") == "/"
    assert normalize_path("a", cwd="/b") == "/b/a"
    with pytest.raises(ValueError):
        normalize_path("")


@pytest.mark.parametrize("text,message", [
    ('abi = 0\n[[ruleset]]\nscoped = ["signal"]\n', r"test.toml: abi: ABI version must be"),
    ('[[ruleset]]\nhandled_access_fs = ["raed_file"]\n',
     r"test.toml: ruleset\[0\].handled_access_fs\[0\]: unknown fs access right 'raed_file'"),
    ('[[ruleset]]\nhandled_access_fs = ["abi.all"]\n',
     r"ruleset\[0\].handled_access_fs\[0\]: 'abi.all' needs a top-level 'abi'"),
    ('abi = 1\n[[ruleset]]\nscoped = ["abi.read_write"]\n', r"unknown scope access group"),
    ('[[ruleset]]\nhandled_access_net = ["read_file"]\n', r"unknown net access right 'read_file'"),
    ('[[ruleset]]\n', r"ruleset\[0\]: empty ruleset"),
    ('[[ruleset]]\nhandled = ["x"]\n', r"ruleset\[0\].handled: unknown key"),
    ('[[path_beneath]]\nallowed_access = ["read_file"]\n',
     r"path_beneath\[0\]: missing key 'parent'"),
    ('[[path_beneath]]\nallowed_access = []\nparent = ["/"]\n',
     r"path_beneath\[0\].allowed_access: must not be empty"),
    ('[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["${nope}"]\n',
     r"path_beneath\[0\].parent\[0\]: undefined variable 'nope'"),
    ('[[path_beneath]]\nallowed_access = ["read_file"]\nparent = ["${open"]\n',
     r"unclosed variable reference"),
    ('[[net_port]]\nallowed_access = ["bind_tcp"]\nport = [70000]\n',
     r"net_port\[0\].port\[0\]: expected a port number"),
    ('[[variable]]\nname = "9lives"\n', r"variable\[0\].name: invalid variable name"),
    ('[[variable]]\nname = "v"\nliteral = ["/x"]\n', r"handles no access right"),
    ('abi = 3\n', r"empty configuration"),
    ('colour = "blue"\n', r"colour: unknown key"),
    ('[[ruleset]\n', r"test.toml: invalid TOML"),
])
def test_errors_name_the_file_and_key(text, message):
    with pytest.raises(PolicyError, match=message):
        layer(text)


def test_invalid_json_and_missing_files(tmp_path):
    with pytest.raises(PolicyError, match=r"test.json: invalid JSON"):
        layer("{", "json")
    with pytest.raises(PolicyError, match="cannot read"):
        load_layer(str(tmp_path / "absent.toml"))
    with pytest.raises(PolicyError, match="at least one layer"):
        load_policy([])
    with pytest.raises(PolicyError, match="at most 16"):
        load_policy(["x.toml"] * 17)


def test_format_is_sniffed_without_a_known_suffix(tmp_path):
    policy = tmp_path / "layer.conf"
    policy.write_text('{"ruleset": [{"scoped": ["signal"]}]}')
    assert load_layer(str(policy)).scoped == 2
