"""Fitting a policy to the kernel's Landlock ABI (lldecode.landlock.enforce.plan),
and the restrict flags.  The system calls themselves are exercised by
tests/kernel/test_run.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from lldecode.landlock import enforce
from lldecode.landlock.access import all_mask, fs_mask, names_to_mask
from lldecode.landlock.policy import Policy, load_policy, parse_layer

POLICIES = Path(__file__).resolve().parents[2] / "fixtures" / "policies"


def layer(text: str, source: str = "p.toml"):
    return parse_layer(text, source)


def test_the_shipped_policies_fit_abi_7_whole():
    policy = load_policy([str(POLICIES / "base-system.toml"), str(POLICIES / "project.json"),
                          str(POLICIES / "no-dev-ioctl.toml")])
    fitted = enforce.plan(policy, 7)
    assert fitted.warnings == ()
    assert fitted.flags == enforce.LOG_NEW_EXEC_ON and fitted.logs_denials
    for original, done in zip(policy.layers, fitted.layers):
        assert (done.handled_fs, done.handled_net, done.scoped) == (
            original.handled_fs, original.handled_net, original.scoped)
        assert dict(done.path_rules) == original.path_rules
        assert dict(done.port_rules) == original.port_rules


def test_each_right_the_kernel_lacks_is_a_warning_and_left_out():
    policy = Policy((layer('abi = 6\n[[ruleset]]\nhandled_access_fs = ["abi.all"]\n'
                           'handled_access_net = ["bind_tcp"]\nscoped = ["signal"]\n'
                           '[[path_beneath]]\nallowed_access = ["read_file", "truncate", '
                           '"ioctl_dev"]\nparent = ["/usr"]\n'
                           '[[net_port]]\nallowed_access = ["bind_tcp"]\nport = [80]\n'),))
    fitted = enforce.plan(policy, 3)
    text = "\n".join(fitted.warnings)
    assert "p.toml (layer 1): the kernel's Landlock ABI 3 lacks fs.ioctl_dev (ABI 5)" in text
    assert "lacks net.bind_tcp (ABI 4): not enforced" in text
    assert "lacks scope.signal (ABI 6)" in text
    assert "has no audit logging (ABI 7): no denial is logged" in text
    assert "fs.truncate" not in text
    done = fitted.layers[0]
    assert done.handled_fs == all_mask("fs", 3)
    assert (done.handled_net, done.scoped, done.port_rules) == (0, 0, ())
    assert done.path_rules == (("/usr", fs_mask("read_file", "truncate")),)
    assert fitted.flags == 0 and not fitted.logs_denials


def test_a_layer_the_kernel_supports_nothing_of_is_skipped():
    policy = Policy((layer('[[ruleset]]\nhandled_access_fs = ["read_file"]\n', "a.toml"),
                     layer('[[ruleset]]\nscoped = ["signal"]\n', "b.toml")))
    fitted = enforce.plan(policy, 5)
    assert [done.source for done in fitted.layers] == ["a.toml"]
    assert any("b.toml (layer 2): the kernel's Landlock ABI 5 supports none of the rights "
               "it handles: layer skipped" in w for w in fitted.warnings)


def test_abi_1_has_no_refer():
    fitted = enforce.plan(Policy((layer('[[ruleset]]\nhandled_access_fs = ["read_file"]\n'),)),
                          1, flags=0)
    assert fitted.warnings == ("p.toml (layer 1): the kernel's Landlock ABI 1 has no "
                               "fs.refer: it denies every rename and link across directories",)


def test_rules_keep_only_handled_rights():
    policy = Policy((layer('[[ruleset]]\nhandled_access_net = ["connect_tcp"]\n'
                           '[[net_port]]\nallowed_access = ["bind_tcp"]\nport = [8080]\n'),))
    # a rule's rights are handled too (landlockconfig): both stay
    done = enforce.plan(policy, 7).layers[0]
    assert done.handled_net == names_to_mask("net", ["bind_tcp", "connect_tcp"])
    assert done.port_rules == ((8080, names_to_mask("net", ["bind_tcp"])),)


@pytest.mark.parametrize("choices, flags", [
    ({}, enforce.LOG_NEW_EXEC_ON),
    ({"log_new_exec": False}, 0),
    ({"log_same_exec": False}, enforce.LOG_NEW_EXEC_ON | enforce.LOG_SAME_EXEC_OFF),
    ({"log_new_exec": False, "log_subdomains": False}, enforce.LOG_SUBDOMAINS_OFF),
])
def test_restrict_flags(choices, flags):
    assert enforce.restrict_flags(**choices) == flags
    # the kernel's values (include/uapi/linux/landlock.h)
    assert (enforce.LOG_SAME_EXEC_OFF, enforce.LOG_NEW_EXEC_ON,
            enforce.LOG_SUBDOMAINS_OFF) == (1, 2, 4)


def test_which_looks_in_path_like_execvp(tmp_path, monkeypatch):
    tool = tmp_path / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    (tmp_path / "plain").write_text("")
    monkeypatch.setenv("PATH", f"/nonexistent:{tmp_path}")
    assert enforce._which("tool") == str(tool)
    assert enforce._which("plain") is None
    assert enforce._which("./relative/x") == "./relative/x"
