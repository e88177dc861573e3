"""The simulator and the explanation of logged denials, without a kernel."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lldecode.landlock.access import lookup
from lldecode.landlock.blame import blame_denial
from lldecode.landlock.checks import is_eacces, no_more_access, scope_to_request
from lldecode.landlock.policy import Policy, parse_layer
from lldecode.landlock.simulate import Options, SimulationError, parse_ioctl_cmd, simulate
from lldecode.syscalls import LANDLOCK_ALWAYS_ALLOWED_IOCTLS


def bit(name: str) -> int:
    return lookup("fs", name).bit


def policy(*layers: str) -> Policy:
    return Policy(tuple(parse_layer(text, f"l{i}.toml", "toml")
                        for i, text in enumerate(layers, 1)))


def fs_layer(handled, rules=(), scoped=(), net=(), ports=()) -> str:
    lines = []
    if handled or scoped or net:
        lines.append("[[ruleset]]")
    if handled:
        lines.append(f"handled_access_fs = {list(handled)!r}".replace("'", '"'))
    if net:
        lines.append(f"handled_access_net = {list(net)!r}".replace("'", '"'))
    if scoped:
        lines.append(f"scoped = {list(scoped)!r}".replace("'", '"'))
    for rights, path in rules:
        lines += ["[[path_beneath]]", f"allowed_access = {list(rights)!r}".replace("'", '"'),
                  f'parent = ["{path}"]']
    for rights, port in ports:
        lines += ["[[net_port]]", f"allowed_access = {list(rights)!r}".replace("'", '"'),
                  f"port = [{port}]"]
    return "\n".join(lines) + "\n"


def run(pol: Policy, operation: str, *args: str, **options) -> dict:
    return simulate(pol, operation, list(args), Options(**options)).as_dict()


def denial(layer: int, blockers, obj) -> dict:
    return {"layer": layer, "policy": f"l{layer}.toml", "blockers": list(blockers),
            "object": obj}


# --- the kernel's KUnit vectors for the refer helpers (fs.c) ------------------

RX0 = {bit("execute"): 1, bit("read_file"): 1}
MX0 = {bit("execute"): 1, bit("make_reg"): 1}
X0 = {bit("execute"): 1}
X1 = {bit("execute"): 2}
X01 = {bit("execute"): 3}
ALL = {}


@pytest.mark.parametrize("args,expected", [
    ((X0, ALL, False, ALL, None, False), True),
    ((ALL, X0, False, ALL, None, False), True),
    ((X0, X0, False, ALL, None, False), False),
    ((X0, X0, False, RX0, None, False), True),
    ((RX0, RX0, False, RX0, None, False), True),
    ((RX0, RX0, False, X0, None, False), False),
    ((RX0, RX0, False, X1, None, False), False),
    ((X0, X1, False, X0, None, False), True),
    ((X1, X0, False, X0, None, False), True),
    ((X0, X01, False, X0, None, False), True),
    ((X0, X01, False, RX0, None, False), True),
    ((X01, X0, False, X0, None, False), True),
    ((X01, X0, False, RX0, None, False), True),
    ((X01, X01, False, X0, None, False), False),
    ((RX0, RX0, True, X0, None, False), False),
    ((MX0, MX0, False, X0, None, False), True),
    ((MX0, MX0, True, X0, None, False), False),
    ((MX0, MX0, True, MX0, MX0, True), True),
    ((MX0, MX0, True, MX0, X0, True), True),
    ((MX0, MX0, True, X0, MX0, True), False),
    ((MX0, MX0, True, X0, X0, True), False),
    ((MX0, MX0, True, X1, X1, True), False),
    ((MX0, MX0, False, MX0, MX0, False), True),
    ((MX0, MX0, False, MX0, X0, False), True),
    ((MX0, MX0, False, X0, MX0, False), True),
    ((MX0, MX0, False, X0, X0, False), True),
    ((RX0, RX0, False, RX0, RX0, False), True),
    ((RX0, RX0, False, RX0, X0, False), True),
    ((RX0, RX0, False, X0, RX0, False), False),
    ((RX0, RX0, False, X0, X0, False), False),
    ((RX0, RX0, False, X1, X1, False), False),
    ((X1, X1, False, X0, None, False), False),
    ((X1, X1, False, RX0, None, False), False),
    ((X1, X1, True, X0, None, False), False),
    ((X1, X1, True, RX0, None, False), False),
    ((X1, X1, False, X01, None, False), True),
    ((X1, X1, False, X01, X0, False), False),
    ((X1, X1, False, X01, X01, False), False),
    ((X1, X1, False, X0, X0, False), False),
    ((X1, X1, False, X0, X0, True), False),
    ((X1, X1, True, X0, X0, False), False),
    ((X1, X1, True, X0, X0, True), False),
])
def test_kunit_no_more_access(args, expected):
    assert no_more_access(*args) is expected


def test_kunit_scope_to_request_and_is_eacces():
    masks = {}
    assert scope_to_request(lookup("fs", "execute").mask, masks)
    masks = {bit("execute"): 1, bit("write_file"): 2}
    assert not scope_to_request(lookup("fs", "execute").mask, masks)
    assert masks == {bit("execute"): 1, bit("write_file"): 0}
    masks = {bit("execute"): 1, bit("write_file"): 2}
    assert scope_to_request(0, masks) and not any(masks.values())
    refer, write = lookup("fs", "refer").mask, lookup("fs", "write_file").mask
    assert not is_eacces({}, refer) and not is_eacces({}, write)
    assert not is_eacces({bit("refer"): 1}, refer | lookup("fs", "execute").mask)
    assert is_eacces({bit("write_file"): 1}, write)
    assert not is_eacces({bit("write_file"): 1}, refer)


# --- simple requests ------------------------------------------------------------

READ_ETC = fs_layer(["read_file", "read_dir"], [(["read_file", "read_dir"], "/etc")])


def test_read_allowed_below_a_rule_and_denied_elsewhere():
    pol = policy(READ_ETC)
    assert run(pol, "read", "/etc/ssh/../hostname")["allowed"]
    assert run(pol, "read", "/home/x") == {
        "allowed": False, "errno": "EACCES",
        "denials": [denial(1, ["fs.read_file"], {"path": "/home/x"})]}
    assert run(pol, "readdir", "/etc")["allowed"]


def test_unhandled_rights_are_allowed():
    pol = policy(READ_ETC)
    for operation in ("write", "create", "mkdir", "unlink", "truncate", "ftruncate"):
        assert run(pol, operation, "/home/x")["allowed"], operation


@pytest.mark.parametrize("operation,blocker", [
    ("mkdir", "fs.make_dir"), ("mknod-char", "fs.make_char"), ("mknod-block", "fs.make_block"),
    ("mkfifo", "fs.make_fifo"), ("mksock", "fs.make_sock"), ("symlink", "fs.make_sym"),
    ("unlink", "fs.remove_file"), ("rmdir", "fs.remove_dir"), ("create", "fs.make_reg"),
])
def test_entry_operations_check_the_parent_directory(operation, blocker):
    pol = policy(fs_layer(["abi.all"]).replace("[[ruleset]]", "abi = 7\n[[ruleset]]"))
    result = run(pol, operation, "/srv/data/entry")
    assert result["denials"] == [denial(1, [blocker], {"path": "/srv/data"})]


def test_exec_needs_execute_and_read():
    assert run(policy(fs_layer(["execute"])), "exec", "/bin/x")["denials"][0]["blockers"] == [
        "fs.execute"]
    both = fs_layer(["execute", "read_file"])
    assert run(policy(both), "exec", "/bin/x")["denials"][0]["blockers"] == [
        "fs.execute", "fs.read_file"]


def test_create_then_write_is_checked_on_the_new_file():
    pol = policy(fs_layer(["make_reg", "write_file"], [(["make_reg"], "/d")]))
    assert run(pol, "create", "/d/new")["denials"] == [
        denial(1, ["fs.write_file"], {"path": "/d/new"})]


def test_rules_of_one_layer_add_up_along_the_path():
    pol = policy(fs_layer(["write_file", "truncate"],
                          [(["write_file"], "/srv"), (["truncate"], "/srv/sub")]))
    assert run(pol, "open-trunc", "/srv/sub/f")["allowed"]
    assert run(pol, "open-trunc", "/srv/f")["denials"] == [
        denial(1, ["fs.truncate"], {"path": "/srv/f"})]


def test_youngest_denying_layer_is_blamed():
    allow_all = fs_layer(["read_file"], [(["read_file"], "/")])
    deny = fs_layer(["read_file"], [(["read_file"], "/other")])
    assert run(policy(allow_all, deny, allow_all), "read", "/x")["denials"][0]["layer"] == 2
    assert run(policy(deny, allow_all, allow_all), "read", "/x")["denials"][0]["layer"] == 1
    assert run(policy(deny, deny), "read", "/x")["denials"][0]["layer"] == 2


def test_blockers_are_those_of_the_youngest_layer_only():
    pol = policy(fs_layer(["read_file"]), fs_layer(["execute"]))
    assert run(pol, "exec", "/x")["denials"] == [denial(2, ["fs.execute"], {"path": "/x"})]


# --- truncate and ioctl: rights kept at open time -------------------------------

def test_ftruncate_charged_to_open_time_layer():
    pol = policy(fs_layer(["truncate"]), fs_layer(["write_file"], [(["write_file"], "/")]))
    assert run(pol, "ftruncate", "/f")["denials"] == [denial(1, ["fs.truncate"], {"path": "/f"})]


def test_ftruncate_uses_the_layers_enforced_at_open():
    pol = policy(fs_layer(["write_file"], [(["write_file"], "/")]), fs_layer(["truncate"]))
    assert not run(pol, "ftruncate", "/f")["allowed"]
    assert run(pol, "ftruncate", "/f", opened_under=1)["allowed"]
    assert run(pol, "ftruncate", "/f", opened_under=0)["allowed"]
    assert not run(pol, "truncate", "/f")["allowed"]


def test_open_denial_comes_before_truncate():
    pol = policy(fs_layer(["write_file", "truncate"]))
    assert run(pol, "open-trunc", "/f")["denials"][0]["blockers"] == ["fs.write_file"]


def test_ioctl_on_devices_only_and_not_for_always_allowed_commands():
    pol = policy(fs_layer(["ioctl_dev"]))
    assert run(pol, "ioctl", "/dev/tty")["denials"] == [
        denial(1, ["fs.ioctl_dev"], {"path": "/dev/tty", "ioctlcmd": "0x541b"})]
    fioclex = LANDLOCK_ALWAYS_ALLOWED_IOCTLS["FIOCLEX"]
    assert run(pol, "ioctl", "/dev/tty", ioctl_cmd=fioclex)["allowed"]
    assert run(pol, "ioctl", "/srv/file", device=False)["allowed"]


def test_ioctl_deny_masks_pick_the_youngest_layer_at_open():
    ioctl = fs_layer(["ioctl_dev"])
    other = fs_layer(["write_file"])
    pol = policy(ioctl, other, ioctl)
    assert run(pol, "ioctl", "/dev/null")["denials"][0]["layer"] == 3
    assert run(pol, "ioctl", "/dev/null", opened_under=2)["denials"][0]["layer"] == 1


# --- reparenting ------------------------------------------------------------------

def test_link_refer_only_gives_exdev_and_two_records():
    result = run(policy(fs_layer(["refer"])), "link", "/a/f", "/b/f")
    assert result == {"allowed": False, "errno": "EXDEV", "denials": [
        denial(1, ["fs.refer"], {"path": "/a"}), denial(1, ["fs.refer"], {"path": "/b"})]}


def test_link_with_make_reg_gives_eacces():
    result = run(policy(fs_layer(["make_reg", "refer"])), "link", "/a/f", "/b/f")
    assert result["errno"] == "EACCES"
    assert [d["blockers"] for d in result["denials"]] == [
        ["fs.refer"], ["fs.make_reg", "fs.refer"]]


def test_rename_over_an_existing_file():
    result = run(policy(fs_layer(["make_reg", "remove_file", "refer"])), "rename",
                 "/a/f", "/b/f", replace=True)
    assert [d["blockers"] for d in result["denials"]] == [
        ["fs.remove_file", "fs.refer"], ["fs.remove_file", "fs.make_reg", "fs.refer"]]


def test_rename_in_one_directory_needs_no_refer():
    rights = ["make_reg", "remove_file"]
    assert run(policy(fs_layer(rights, [(rights, "/a")])), "rename", "/a/f", "/a/g")["allowed"]
    result = run(policy(fs_layer(rights)), "rename", "/a/f", "/a/g")
    assert result["denials"] == [denial(1, ["fs.remove_file", "fs.make_reg"], {"path": "/a"})]


def test_rename_that_would_gain_rights_is_exdev():
    moving = ["make_reg", "remove_file", "refer"]
    pol = policy(fs_layer(moving + ["read_file"],
                          [(moving, "/a"), (moving + ["read_file"], "/b")]))
    result = run(pol, "rename", "/a/f", "/b/f")
    assert result["errno"] == "EXDEV"
    assert result["denials"] == [denial(1, ["fs.read_file"], {"path": "/a"})]
    assert run(pol, "rename", "/b/f", "/a/f")["allowed"]


def test_every_layer_of_an_fs_domain_denies_refer():
    moving = ["make_reg", "remove_file", "refer"]
    pol = policy(fs_layer(moving, [(moving, "/")]), fs_layer([], net=["bind_tcp"]))
    result = run(pol, "rename", "/a/f", "/b/f")
    assert result["errno"] == "EXDEV"
    assert [d["layer"] for d in result["denials"]] == [2, 2]
    assert run(policy(fs_layer([], net=["bind_tcp"])), "rename", "/a/f", "/b/f")["allowed"]


def test_exchange_checks_both_directions():
    rights = ["make_reg", "remove_file", "refer", "read_file"]
    pol = policy(fs_layer(rights, [(rights, "/a"), (["make_reg", "remove_file", "refer"], "/b")]))
    assert run(pol, "rename", "/a/f", "/b/f")["allowed"]
    assert run(pol, "rename", "/b/f", "/a/f")["errno"] == "EXDEV"
    assert run(pol, "rename", "/a/f", "/b/f", exchange=True)["errno"] == "EXDEV"


def test_mount_root_bounds_the_first_walk():
    rights = ["make_reg", "remove_file", "refer"]
    pol = policy(fs_layer(rights, [(rights, "/")]))
    assert run(pol, "rename", "/mnt/a/f", "/mnt/b/f", mount_root="/mnt")["allowed"]


# --- network, scopes, ptrace ------------------------------------------------------

def test_ports_match_exactly():
    pol = policy(fs_layer([], net=["bind_tcp", "connect_tcp"], ports=[(["bind_tcp"], 8080)]))
    assert run(pol, "bind", "8080")["allowed"]
    assert run(pol, "bind", "8081")["denials"] == [denial(1, ["net.bind_tcp"], {"src": 8081})]
    assert run(pol, "connect", "8080")["denials"] == [
        denial(1, ["net.connect_tcp"], {"dest": 8080})]
    assert run(policy(READ_ETC), "connect", "1")["allowed"]


def test_signal_scope_charges_the_youngest_scoping_layer():
    scoped = fs_layer([], scoped=["signal"])
    plain = fs_layer(["read_file"])
    assert run(policy(scoped, plain), "signal", "42")["denials"] == [
        denial(1, ["scope.signal"], {"opid": 42})]
    assert run(policy(scoped, plain), "signal", target_shares=1)["allowed"]
    assert run(policy(scoped, scoped), "signal", target_shares=1)["denials"][0]["layer"] == 2
    assert run(policy(plain), "signal")["allowed"]
    assert run(policy(scoped), "signal", target_shares=1, target_own_layers=2)["allowed"]


def test_abstract_socket_scope():
    pol = policy(fs_layer([], scoped=["abstract_unix_socket"]))
    assert run(pol, "abstract-connect", "srv")["denials"] == [
        denial(1, ["scope.abstract_unix_socket"], {"path": "@srv"})]
    assert run(pol, "abstract-connect", target_shares=1)["allowed"]


def test_ptrace_only_inside_the_domain():
    pol = policy(READ_ETC, fs_layer([], net=["bind_tcp"]))
    assert run(pol, "ptrace")["denials"] == [denial(2, ["ptrace"], {})]
    assert run(pol, "ptrace", target_shares=1)["denials"][0]["layer"] == 2
    assert run(pol, "ptrace", target_shares=2)["allowed"]


# --- errors and properties ---------------------------------------------------------

@pytest.mark.parametrize("operation,args,options,message", [
    ("fly", ["/x"], {}, "unknown operation 'fly'"),
    ("rename", ["/x"], {}, "usage: rename SRC DST"),
    ("bind", ["http"], {}, "not a port number"),
    ("bind", ["70000"], {}, "out of range"),
    ("signal", [], {"target_shares": 3}, "target_shares must be between 0"),
    ("rename", ["/a", "/b"], {"kind": "pipe"}, "unknown file kind"),
])
def test_errors(operation, args, options, message):
    with pytest.raises(SimulationError, match=message):
        simulate(policy(READ_ETC), operation, args, Options(**options))


def test_parse_ioctl_cmd():
    assert parse_ioctl_cmd("FIONREAD") == 0x541B
    assert parse_ioctl_cmd("fioclex") == 0x5451
    assert parse_ioctl_cmd("0x541b") == parse_ioctl_cmd("21531")
    with pytest.raises(SimulationError, match="unknown ioctl command"):
        parse_ioctl_cmd("FROB")


def test_resolve_follows_symbolic_links(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "f").write_text("x")
    (tmp_path / "link").symlink_to(real)
    pol = policy(fs_layer(["read_file"], [(["read_file"], str(tmp_path / "link"))]))
    assert not run(pol, "read", str(real / "f"))["allowed"]
    assert run(pol, "read", str(real / "f"), resolve=True)["allowed"]
    ioctl = policy(fs_layer(["ioctl_dev"]))
    assert run(ioctl, "ioctl", str(real / "f"), resolve=True)["allowed"]
    assert not run(ioctl, "ioctl", "/dev/null", resolve=True)["allowed"]


names = st.sampled_from(["read_file", "write_file", "execute", "truncate", "make_reg"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(names, max_size=3), st.lists(names, max_size=3)),
                min_size=1, max_size=5))
def test_denial_layer_is_the_youngest_layer_lacking_the_right(layers):
    """The blamed layer handles the right, has no rule for it, and every younger layer allows it."""
    texts = [fs_layer(sorted(set(h) | {"read_file"}), [(sorted(set(r)), "/srv")] if r else [])
             for h, r in layers]
    pol = policy(*texts)
    result = run(pol, "read", "/srv/f")
    lacking = [i + 1 for i, layer in enumerate(pol.layers)
               if not layer.path_rules.get("/srv", 0) & lookup("fs", "read_file").mask]
    if lacking:
        assert result["denials"][0]["layer"] == max(lacking)
    else:
        assert result["allowed"]


# --- explaining logged denials -------------------------------------------------------

def test_explain_names_layer_rule_and_snippet():
    pol = policy(READ_ETC, fs_layer(["write_file"], [(["write_file"], "/tmp")]))
    result = blame_denial(pol, ["fs_write_file"], {"path": "/etc/passwd"})
    assert result.consistent and result.reason is None
    assert (result.layer, result.policy) == (2, "l2.toml")
    assert "Layer 2 (l2.toml) denied fs.write_file on /etc/passwd" in result.sentence
    assert result.toml == ('# add to l2.toml (layer 2)\n[[path_beneath]]\n'
                           'allowed_access = ["write_file"]\nparent = ["/etc/passwd"]\n')
    assert result.as_dict()["findings"][0]["missing"] == ["fs.write_file"]


def test_explain_mentions_older_layers_denying_too():
    deny_read = fs_layer(["read_file"])
    result = blame_denial(policy(deny_read, deny_read), ["fs.read_file"], {"path": "/x"})
    assert result.layer == 2 and result.findings[0].also_denied_by == (1,)
    assert "Older layer 1 (l1.toml) denies it too" in result.sentence


def test_explain_detects_logs_the_policy_cannot_produce():
    pol = policy(READ_ETC)
    allowed = blame_denial(pol, ["fs.read_file"], {"path": "/etc/hosts"})
    assert not allowed.consistent and "allows fs.read_file" in allowed.reason
    other = blame_denial(pol, ["fs.read_file", "fs.write_file"], {"path": "/x"})
    assert not other.consistent and "would block fs.read_file" in other.reason
    wrong_layer = blame_denial(pol, ["fs.read_file"], {"path": "/x"}, logged_layer=2)
    assert not wrong_layer.consistent and "names layer 2" in wrong_layer.reason
    masked = blame_denial(policy(fs_layer(["ioctl_dev"])), ["fs.ioctl_dev"],
                            {"path": "/dev/tty", "ioctlcmd": "0x5451"})
    assert not masked.consistent and "FIOCLEX" in masked.reason
    newer = blame_denial(pol, ["net.bind_udp"], {"src": 53})
    assert not newer.consistent and "newer than Landlock ABI 7" in newer.reason
    mixed = blame_denial(pol, ["fs.read_file", "scope.signal"], {"path": "/x"})
    assert not mixed.consistent


def test_explain_reparenting_pair():
    pol = policy(fs_layer(["make_reg", "refer"]))
    result = blame_denial(pol, ["fs.refer"], {"path": "/a"}, syscall="linkat",
                            destination=(["fs.make_reg", "fs.refer"], {"path": "/b"}))
    assert result.consistent, result.reason
    assert [f.object["path"] for f in result.findings] == ["/a", "/b"]
    assert 'allowed_access = ["make_reg", "refer"]' in result.toml


def test_explain_refer_from_a_layer_that_does_not_list_it():
    moving = ["make_reg", "remove_file", "refer"]
    pol = policy(fs_layer(moving, [(moving, "/")]), fs_layer(["read_file"], [(["read_file"], "/")]))
    result = blame_denial(pol, ["fs.refer"], {"path": "/a"}, syscall="renameat",
                            destination=(["fs.refer"], {"path": "/b"}))
    assert result.consistent and result.layer == 2
    assert "does not list refer" in result.sentence


def test_explain_net_scope_ptrace_and_mounts():
    pol = policy(fs_layer(["read_file"], net=["bind_tcp"], scoped=["signal"]))
    bind = blame_denial(pol, ["net.bind_tcp"], {"saddr": "0.0.0.0", "src": "8080"})
    assert bind.consistent and "[[net_port]]" in bind.toml and "port = [8080]" in bind.toml
    assert not blame_denial(pol, ["net.connect_tcp"], {"dest": 443}).consistent
    signal = blame_denial(pol, ["scope_signal"], {"opid": 1, "ocomm": "systemd"})
    assert signal.consistent and "No rule can allow this" in signal.sentence
    assert not blame_denial(pol, ["scope.abstract_unix_socket"], {}).consistent
    ptrace = blame_denial(pol, ["ptrace"], {"opid": 1})
    assert ptrace.consistent and ptrace.layer == 1
    mount = blame_denial(pol, ["fs.change_topology"], {"path": "/mnt"})
    assert mount.consistent and "mounting" in mount.sentence


def test_explain_truncate_charged_to_the_layers_at_open_time():
    truncate = fs_layer(["truncate"])
    pol = policy(truncate, fs_layer(["write_file"], [(["write_file"], "/")]), truncate)
    assert blame_denial(pol, ["fs.truncate"], {"path": "/f"}).layer == 3
    earlier = blame_denial(pol, ["fs.truncate"], {"path": "/f"}, logged_layer=1)
    assert earlier.consistent and earlier.layer == 1
    assert "opened before layer 2 was enforced" in earlier.sentence
    never = blame_denial(pol, ["fs.truncate"], {"path": "/f"}, logged_layer=2)
    assert not never.consistent
