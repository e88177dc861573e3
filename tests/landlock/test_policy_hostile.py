"""Hostile policies and arguments: a PolicyError or SimulationError naming the
file and key, never an internal error (RecursionError, Python's digit limit,
a NUL handed to os.path.realpath, a MemoryError of variables)."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from lldecode.landlock.blame import blame_denial
from lldecode.landlock.policy import (
    MAX_EXPANDED_PATHS,
    Layer,
    Policy,
    PolicyError,
    load_layer,
    parse_layer,
)
from lldecode.landlock.simulate import Options, SimulationError, simulate

RULE = '[[path_beneath]]\nallowed_access = ["read_file"]\nparent = {parent}\n'
SCOPED = '\n[[ruleset]]\nscoped = ["signal"]\n'


def error_of(text: str, fmt: str = "toml") -> str:
    with pytest.raises(PolicyError) as info:
        parse_layer(text, f"hostile.{fmt}", fmt, cwd="/work")
    message = str(info.value)
    assert message.startswith(f"hostile.{fmt}: ")
    assert len(message) < 400 and "\n" not in message
    return message


@pytest.mark.parametrize("depth", [70, 500, 1000, 20000])
def test_deeply_nested_toml_arrays(depth):
    message = error_of("abi = 4\n" + RULE.format(parent="[" * depth + "]" * depth))
    # the parser takes a few hundred levels, then says where the nesting went too deep
    assert "path_beneath[0].parent[0]: expected a path" in message or (
        "(key 'parent')" in message and "nested more than 64 deep" in message)


@pytest.mark.parametrize("depth", [500, 1000, 20000])
def test_deeply_nested_toml_tables(depth):
    error_of("abi = 4\nvariable = " + "{ a = " * depth + "1" + " }" * depth + "\n")


@pytest.mark.parametrize("depth", [500, 1000, 20000])
def test_deeply_nested_json(depth):
    nested = "[" * depth + "]" * depth
    message = error_of(json.dumps({"pathBeneath": [{"allowedAccess": ["read_file"],
                                                    "parent": "X"}]}).replace('"X"', nested),
                       "json")
    assert "pathBeneath[0].parent[0]: expected a path" in message or (
        "(key 'parent')" in message and "nested more than 64 deep" in message)
    objects = '{"a": ' * depth + "1" + "}" * depth
    message = error_of('{"variable": ' + objects + "}", "json")
    assert "variable: expected an array" in message or "(key 'a')" in message


def test_brackets_in_strings_and_comments_do_not_count():
    text = ("abi = 4 # [[[[[[[[[[\n" + RULE.format(parent='["/a[[[", \'/b{{{\']')
            + 'x = """\n' + "[" * 2000 + '\n"""\n')
    # a TOML document (the unknown key is its only fault)
    assert "x: unknown key" in error_of(text)


@pytest.mark.parametrize("fmt, text", [
    ("toml", "abi = " + "9" * 4301 + "\n"),
    ("toml", "abi = 4\n[[net_port]]\nallowed_access = [\"bind_tcp\"]\nport = [" + "1" * 5000
     + "]\n"),
    ("json", '{"abi": ' + "9" * 4301 + "}"),
    ("json", '{"abi": 4, "netPort": [{"allowedAccess": ["bind_tcp"], "port": [' + "7" * 9999
     + "]}]}"),
])
def test_numbers_beyond_pythons_digit_limit(fmt, text):
    message = error_of(text, fmt)
    assert "more than 4300 digits" in message and "line 1" in message or "line " in message


@pytest.mark.parametrize("text, key", [
    ("abi = " + "9" * 400 + SCOPED,
     "abi: ABI version must be an integer >= 1, got an integer of 400 digits"),
    ("abi = 4\n[[net_port]]\nallowed_access = [\"bind_tcp\"]\nport = [" + "9" * 4000 + "]\n",
     "net_port[0].port[0]: expected a port number 0..65535, got an integer of 4000 digits"),
    ('[[ruleset]]\nhandled_access_fs = ["' + "x" * 100000 + '"]\n',
     "ruleset[0].handled_access_fs[0]: unknown fs access right 'xxxx"),
    ("abi = " + "[" * 50 + "]" * 50 + SCOPED,
     "abi: ABI version must be an integer >= 1, got an array"),
])
def test_huge_values_are_named_shortly(text, key):
    assert key in error_of(text)


@pytest.mark.parametrize("parent", ['["/tmp/a\\u0000b"]', '["\\u0000"]'])
def test_a_nul_in_a_path(parent):
    message = error_of(RULE.format(parent=parent))
    assert "path_beneath[0].parent[0]: a path cannot hold a NUL character" in message


def test_a_nul_in_a_path_through_a_variable():
    text = ('[[variable]]\nname = "v"\nliteral = ["ok", "b\\u0000d"]\n'
            + RULE.format(parent='["/x/${v}"]'))
    assert "parent[0]: a path cannot hold a NUL character" in error_of(text)


def variables_policy(variables: int, values: int) -> str:
    text = "".join(f'[[variable]]\nname = "v{i}"\nliteral = ['
                   + ", ".join(f'"x{j}"' for j in range(values)) + "]\n"
                   for i in range(variables))
    return text + RULE.format(parent='["' + "".join(f"/${{v{i}}}" for i in range(variables))
                                      + '"]')


def test_variables_expanding_to_trillions_of_paths():
    text = variables_policy(8, 40)  # 40**8 paths in under 3 KB
    assert len(text) < 3000
    tracemalloc.start()
    try:
        message = error_of(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "path_beneath[0].parent[0]: its variables expand to more than 10000" in message
    assert peak < 10 << 20


def test_the_expansion_cap_counts_the_whole_file():
    assert len(parse_layer(variables_policy(2, 100), "ok.toml").path_rules) == 10000
    many = variables_policy(2, 100) + RULE.format(parent='["/one/more"]')
    assert "with it, the file's rule paths" in error_of(many)
    assert MAX_EXPANDED_PATHS == 10000


def test_many_variable_values_are_read_in_linear_time():
    values = ", ".join(f'"v{i}"' for i in range(9000))
    text = f'[[variable]]\nname = "v"\nliteral = [{values}, "v1"]\n' + RULE.format(
        parent='["/${v}"]')
    assert len(parse_layer(text, "many.toml").path_rules) == 9000


def test_a_hostile_policy_file(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"abi": ' + "[" * 100000 + "]" * 100000 + "}")
    with pytest.raises(PolicyError, match=f"^{path}: invalid JSON: line 1, column "):
        load_layer(str(path))


# -- the simulator and blame --------------------------------------------------------

def a_policy(*paths: str) -> Policy:
    return Policy((Layer("l1.toml", None, 1 << 2, 0, 0, {p: 1 << 2 for p in paths}, {}),))


def test_resolve_with_a_nul_in_an_operation_path():
    with pytest.raises(SimulationError, match="NUL"):
        simulate(a_policy("/tmp"), "read", ["/tmp/a\0b"], Options(resolve=True))
    # lexically, a path is only a string
    assert not simulate(a_policy("/tmp"), "read", ["/etc/a\0b"]).allowed


def test_resolve_with_a_nul_in_a_rule_path_built_without_a_file():
    with pytest.raises(SimulationError, match="l1.toml: rule path .* cannot be resolved"):
        simulate(a_policy("/tmp/a\0b"), "read", ["/tmp/x"], Options(resolve=True))


def test_a_mount_root_with_no_path():
    with pytest.raises(SimulationError, match="mount root"):
        simulate(a_policy("/tmp"), "rename", ["/tmp/a", "/tmp/b/c"], Options(mount_root=""))


def test_signal_targets_of_any_spelling():
    pol = Policy((Layer("l1.toml", None, 0, 0, 1 << 1, {}, {}),))
    for target in ("²", "9" * 5000, "12"):
        outcome = simulate(pol, "signal", [target])
        assert outcome.denials[0].object == ({"opid": 12} if target == "12" else {})


@pytest.mark.parametrize("port", ["99999", "9" * 5000, "-1", "0x50"])
def test_blaming_a_logged_port_out_of_range(port):
    pol = Policy((Layer("l1.toml", None, 0, 1, 0, {}, {}),))
    blame = blame_denial(pol, ["net.bind_tcp"], {"src": port})
    assert not blame.consistent and "no port" in (blame.reason or "")


@pytest.mark.parametrize("cmd", ["zz", "0x" + "f" * 5000, "", "0x541b"])
def test_blaming_a_logged_ioctl_command_of_any_spelling(cmd):
    pol = a_policy()
    blame = blame_denial(pol, ["fs.ioctl_dev"], {"path": "/dev/tty", "ioctlcmd": cmd})
    assert blame is not None


@pytest.mark.parametrize("name, text", [
    ("deep.json", '{"abi": ' + "[" * 100000 + "]" * 100000 + "}"),
    ("digits.toml", "abi = " + "9" * 4301 + "\n"),
    ("nul.toml", RULE.format(parent='["/tmp/a\\u0000b"]')),
    ("variables.toml", variables_policy(8, 40)),
])
def test_the_commands_say_what_is_wrong_with_a_hostile_policy(tmp_path, name, text):
    from tests.conftest import FIXTURES, run_cli

    path = tmp_path / name
    path.write_text(text)
    for args in (["simulate", "--policy", str(path), "--resolve", "read", "/tmp/a"],
                 ["explain", "--policy", str(path), str(FIXTURES / "dmesg.txt")]):
        result = run_cli(*args)
        err = result.stderr.decode()
        assert result.returncode == 2, (args, err)
        assert "Traceback" not in err and "internal error" not in err, err
        assert str(path) in err and err.count("\n") == 1, err


@pytest.mark.parametrize("fmt, before", [
    ("toml", 'x = """a"b\\"""[[[["""\n'),
    ("toml", "x = '''[[[['''''\n# [[[[\n"),
    ("toml", 'x = "\\\\" # [[[[\ny = "\\"[[["\n'),
    ("json", '{"x": "\\\\", "y": "\\"[[[[", '),
])
def test_where_nesting_goes_too_deep_after_strings_holding_brackets(fmt, before):
    deep = "[" * 5000 + "]" * 5000
    text = (before + "abi = " + deep + "\n") if fmt == "toml" else (before + '"abi": ' + deep + "}")
    message = error_of(text, fmt)
    line = text[:text.index("[" * 65)].count("\n") + 1
    assert f"line {line}, column " in message and "(key 'abi')" in message, message
    assert "nested more than 64 deep" in message


def test_skipping_long_strings_takes_no_memory():
    text = 'x = """' + 'a"b' * 500_000 + '"""\nabi = ' + "[" * 5000 + "]" * 5000 + "\n"
    tracemalloc.start()
    try:
        message = error_of(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "line 2, column 71 (key 'abi')" in message  # the 65th bracket
    assert peak < 20 * len(text)
