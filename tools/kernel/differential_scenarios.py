"""Scenarios run both by the simulator and by the kernel (test_differential).

A scenario is a list of landlockconfig layers (TOML, or JSON when the text
starts with ``{``), an operation of ``lldecode simulate`` with its
arguments, the files to create first, and the simulator options that say
what the arguments cannot (source kind, open-time layers, target domain).
``@ROOT@`` in layers and arguments stands for the scenario's scratch
directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Sequence, Tuple

ROOT = "@ROOT@"


@dataclass(frozen=True)
class Scenario:
    name: str
    layers: Tuple[str, ...]
    operation: str
    args: Tuple[str, ...] = ()
    # entries to create below the root: "d/" a directory, "f" a file,
    # "f=char" a null character device, "f=exec" a copy of /bin/true
    setup: Tuple[str, ...] = ()
    options: Dict[str, object] = field(default_factory=dict, hash=False)


def layer(fs: Sequence[str] = (), net: Sequence[str] = (), scoped: Sequence[str] = (),
          paths: Sequence[Tuple[Sequence[str], Sequence[str]]] = (),
          ports: Sequence[Tuple[Sequence[str], Sequence[int]]] = (),
          abi: int = 0) -> str:
    """A landlockconfig TOML document; rule paths are relative to the root."""
    lines = [f"abi = {abi}"] if abi else []
    ruleset = []
    for key, names in (("handled_access_fs", fs), ("handled_access_net", net),
                       ("scoped", scoped)):
        if names:
            ruleset.append(f"{key} = {json.dumps(list(names))}")
    if ruleset:
        lines += ["[[ruleset]]"] + ruleset
    for rights, parents in paths:
        targets = [p if p.startswith("/") else f"{ROOT}/{p}" if p else ROOT for p in parents]
        lines += ["[[path_beneath]]", f"allowed_access = {json.dumps(list(rights))}",
                  f"parent = {json.dumps(targets)}"]
    for rights, numbers in ports:
        lines += ["[[net_port]]", f"allowed_access = {json.dumps(list(rights))}",
                  f"port = {json.dumps(list(numbers))}"]
    return "\n".join(lines) + "\n"


def at(path: str) -> str:
    return f"{ROOT}/{path}"


# Ports are chosen high and odd to stay clear of real services.
BIND_PORT = 47311
CONNECT_PORT = 47313
FIONREAD = "0x541b"
FIOCLEX = "0x5451"

MAKE_REMOVE = ["make_reg", "remove_file", "refer"]
VARIABLE_LAYER = f"""
[[variable]]
name = "base"
literal = ["{ROOT}"]
[[ruleset]]
handled_access_fs = ["read_file"]
[[path_beneath]]
allowed_access = ["read_file"]
parent = ["${{base}}/open"]
"""
JSON_LAYER = json.dumps({
    "abi": 3,
    "ruleset": [{"handledAccessFs": ["abi.read_write"]}],
    "pathBeneath": [{"allowedAccess": ["abi.read_write"], "parent": [f"{ROOT}/open"]}],
})

SCENARIOS: Tuple[Scenario, ...] = (
    # --- one right at a time ------------------------------------------------
    Scenario("read-denied", (layer(["read_file"], paths=[(["read_file"], ["open"])]),),
             "read", (at("closed/f"),), ("open/", "closed/", "closed/f")),
    Scenario("read-allowed-by-parent-rule",
             (layer(["read_file"], paths=[(["read_file"], ["open"])]),),
             "read", (at("open/sub/f"),), ("open/", "open/sub/", "open/sub/f")),
    Scenario("read-allowed-by-file-rule",
             (layer(["read_file"], paths=[(["read_file"], ["d/f"])]),),
             "read", (at("d/f"),), ("d/", "d/f")),
    Scenario("write-denied", (layer(["write_file", "read_file"],
                                    paths=[(["read_file"], [""])]),),
             "write", (at("f"),), ("f",)),
    Scenario("readdir-denied", (layer(["read_dir"]),), "readdir", (at("d"),), ("d/",)),
    Scenario("exec-denied-execute-only", (layer(["execute"]),), "exec", (at("true"),),
             ("true=exec",)),
    Scenario("exec-denied-all-handled", (layer(["abi.all"], abi=7),), "exec", (at("true"),),
             ("true=exec",)),
    Scenario("exec-allowed", (layer(["execute", "read_file"],
                                    paths=[(["execute", "read_file"], ["/"])]),),
             "exec", (at("true"),), ("true=exec",)),
    Scenario("create-denied-make-reg", (layer(["make_reg"]),), "create", (at("d/new"),),
             ("d/",)),
    Scenario("create-allowed-then-write-denied",
             (layer(["make_reg", "write_file"], paths=[(["make_reg"], ["d"])]),),
             "create", (at("d/new"),), ("d/",)),
    Scenario("mkdir-denied", (layer(["make_dir"]),), "mkdir", (at("d/new"),), ("d/",)),
    Scenario("mknod-char-denied", (layer(["make_char"]),), "mknod-char", (at("d/c"),), ("d/",)),
    Scenario("mknod-block-denied", (layer(["make_block"]),), "mknod-block", (at("d/b"),),
             ("d/",)),
    Scenario("mkfifo-denied", (layer(["make_fifo"]),), "mkfifo", (at("d/p"),), ("d/",)),
    Scenario("mksock-denied", (layer(["make_sock"]),), "mksock", (at("d/s"),), ("d/",)),
    Scenario("symlink-denied", (layer(["make_sym"]),), "symlink", (at("d/l"),), ("d/",)),
    Scenario("unlink-denied", (layer(["remove_file"]),), "unlink", (at("d/f"),), ("d/", "d/f")),
    Scenario("rmdir-denied", (layer(["remove_dir"]),), "rmdir", (at("d/e"),), ("d/", "d/e/")),
    Scenario("mkdir-allowed", (layer(["make_dir"], paths=[(["make_dir"], ["d"])]),),
             "mkdir", (at("d/new"),), ("d/",)),
    Scenario("truncate-path-denied", (layer(["truncate"]),), "truncate", (at("f"),), ("f",)),
    Scenario("open-trunc-denied", (layer(["write_file", "truncate"],
                                         paths=[(["write_file"], [""])]),),
             "open-trunc", (at("f"),), ("f",)),
    Scenario("ftruncate-denied", (layer(["write_file", "truncate"],
                                        paths=[(["write_file"], [""])]),),
             "ftruncate", (at("f"),), ("f",)),
    Scenario("ftruncate-allowed", (layer(["write_file", "truncate"],
                                         paths=[(["write_file", "truncate"], [""])]),),
             "ftruncate", (at("f"),), ("f",)),
    Scenario("ioctl-denied", (layer(["ioctl_dev", "read_file"], paths=[(["read_file"], [""])]),),
             "ioctl", (at("null"),), ("null=char",), {"ioctl_cmd": FIONREAD}),
    Scenario("ioctl-always-allowed-command",
             (layer(["ioctl_dev", "read_file"], paths=[(["read_file"], [""])]),),
             "ioctl", (at("null"),), ("null=char",), {"ioctl_cmd": FIOCLEX}),
    Scenario("ioctl-allowed-by-file-rule",
             (layer(["ioctl_dev", "read_file"],
                    paths=[(["read_file"], [""]), (["ioctl_dev"], ["null"])]),),
             "ioctl", (at("null"),), ("null=char",), {"ioctl_cmd": FIONREAD}),
    Scenario("ioctl-not-a-device", (layer(["ioctl_dev", "read_file"],
                                          paths=[(["read_file"], [""])]),),
             "ioctl", (at("f"),), ("f",), {"ioctl_cmd": FIONREAD, "device": False}),
    # --- reparenting ------------------------------------------------------------
    Scenario("link-exdev-refer-only", (layer(["refer"]),), "link", (at("a/f"), at("b/f")),
             ("a/", "b/", "a/f")),
    Scenario("link-eacces-make-reg", (layer(["make_reg", "refer"]),), "link",
             (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("rename-eacces-replace",
             (layer(["make_reg", "remove_file", "refer"]),), "rename",
             (at("a/f"), at("b/f")), ("a/", "b/", "a/f", "b/f"), {"replace": True}),
    Scenario("rename-allowed", (layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, ["a", "b"])]),),
             "rename", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("rename-same-directory", (layer(["make_reg", "remove_file"]),), "rename",
             (at("a/f"), at("a/g")), ("a/", "a/f")),
    Scenario("rename-exdev-would-gain-read",
             (layer(MAKE_REMOVE + ["read_file"],
                    paths=[(MAKE_REMOVE, ["a"]), (MAKE_REMOVE + ["read_file"], ["b"])]),),
             "rename", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("rename-allowed-into-more-restriction",
             (layer(MAKE_REMOVE + ["read_file"],
                    paths=[(MAKE_REMOVE + ["read_file"], ["a"]), (MAKE_REMOVE, ["b"])]),),
             "rename", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("rename-directory-denied",
             (layer(["make_dir", "remove_dir", "refer"],
                    paths=[(["make_dir", "remove_dir"], [""])]),),
             "rename", (at("a/d"), at("b/d")), ("a/", "b/", "a/d/"), {"kind": "dir"}),
    Scenario("rename-exchange-denied",
             (layer(MAKE_REMOVE, paths=[(["make_reg", "remove_file"], [""])]),),
             "rename", (at("a/f"), at("b/g")), ("a/", "b/", "a/f", "b/g"), {"exchange": True}),
    Scenario("refer-denied-by-net-only-layer",
             (layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, [""])]),
              layer(net=["bind_tcp"])),
             "rename", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("refer-implicit-in-fs-layer",
             (layer(["make_reg", "remove_file"], paths=[(["make_reg", "remove_file"], [""])]),),
             "link", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("link-allowed", (layer(["make_reg", "refer"], paths=[(["make_reg", "refer"], [""])]),),
             "link", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    Scenario("rename-directory-eacces",
             (layer(["make_dir", "remove_dir", "refer"], paths=[(["make_dir", "refer"], [""])]),),
             "rename", (at("a/d"), at("b/d")), ("a/", "b/", "a/d/"), {"kind": "dir"}),
    Scenario("refer-middle-layer-denies",
             (layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, [""])]),
              layer(MAKE_REMOVE, paths=[(["make_reg", "remove_file"], [""]), (["refer"], ["a"])]),
              layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, [""])])),
             "rename", (at("a/f"), at("b/f")), ("a/", "b/", "a/f")),
    # --- network ----------------------------------------------------------------
    Scenario("bind-denied", (layer(net=["bind_tcp"]),), "bind", (str(BIND_PORT),)),
    Scenario("bind-allowed", (layer(net=["bind_tcp"], ports=[(["bind_tcp"], [BIND_PORT])]),),
             "bind", (str(BIND_PORT),)),
    Scenario("bind-not-handled", (layer(net=["connect_tcp"]),), "bind", (str(BIND_PORT),)),
    Scenario("connect-denied", (layer(net=["connect_tcp"],
                                      ports=[(["connect_tcp"], [CONNECT_PORT + 2])]),),
             "connect", (str(CONNECT_PORT),)),
    Scenario("connect-allowed", (layer(net=["bind_tcp", "connect_tcp"],
                                       ports=[(["connect_tcp"], [CONNECT_PORT])]),),
             "connect", (str(CONNECT_PORT),)),
    # --- scopes and ptrace ---------------------------------------------------------
    Scenario("signal-denied", (layer(scoped=["signal"]),), "signal"),
    Scenario("signal-allowed-same-domain", (layer(scoped=["signal"]),), "signal", (),
             options={"target_shares": 1}),
    Scenario("signal-allowed-parent-scope-shared",
             (layer(scoped=["signal"]), layer(["read_file"])), "signal", (),
             options={"target_shares": 1}),
    Scenario("signal-denied-by-youngest-scope",
             (layer(scoped=["signal"]), layer(scoped=["signal"])), "signal", (),
             options={"target_shares": 1}),
    Scenario("signal-charged-to-scoping-layer",
             (layer(scoped=["signal"]), layer(["read_file"])), "signal"),
    Scenario("abstract-connect-denied", (layer(scoped=["abstract_unix_socket"]),),
             "abstract-connect"),
    Scenario("abstract-connect-allowed-same-domain", (layer(scoped=["abstract_unix_socket"]),),
             "abstract-connect", (), options={"target_shares": 1}),
    Scenario("ptrace-denied-youngest", (layer(["read_file"]), layer(net=["bind_tcp"]),
                                        layer(scoped=["signal"])), "ptrace"),
    Scenario("ptrace-allowed-same-domain", (layer(["read_file"]),), "ptrace", (),
             options={"target_shares": 1}),
    Scenario("ptrace-denied-partly-shared", (layer(["read_file"]), layer(["write_file"])),
             "ptrace", (), options={"target_shares": 1}),
    # --- nested layers -------------------------------------------------------------
    Scenario("middle-layer-denies",
             (layer(["read_file"], paths=[(["read_file"], [""])]),
              layer(["read_file"], paths=[(["read_file"], ["other"])]),
              layer(["read_file"], paths=[(["read_file"], [""])])),
             "read", (at("f"),), ("f", "other/")),
    Scenario("oldest-layer-denies",
             (layer(["write_file"]),
              layer(["write_file"], paths=[(["write_file"], [""])]),
              layer(["read_file"])),
             "write", (at("f"),), ("f",)),
    Scenario("youngest-of-two-denying-layers",
             (layer(["read_file"]), layer(["execute"])), "exec", (at("true"),),
             ("true=exec",)),
    Scenario("same-layer-denies-two-rights",
             (layer(["read_file", "execute"]), layer(["execute"], paths=[(["execute"], [""])])),
             "exec", (at("true"),), ("true=exec",)),
    Scenario("ftruncate-charged-to-open-time-layer",
             (layer(["truncate"]), layer(["write_file"], paths=[(["write_file"], [""])])),
             "ftruncate", (at("f"),), ("f",)),
    Scenario("ftruncate-allowed-at-open-time",
             (layer(["write_file"], paths=[(["write_file"], [""])]), layer(["truncate"])),
             "ftruncate", (at("f"),), ("f",), {"opened_under": 1}),
    Scenario("ftruncate-denied-at-open-time-by-oldest",
             (layer(["truncate"]), layer(["write_file"], paths=[(["write_file"], [""])])),
             "ftruncate", (at("f"),), ("f",), {"opened_under": 1}),
    Scenario("ioctl-charged-to-open-time-domain",
             (layer(["ioctl_dev"]), layer(["ioctl_dev"])),
             "ioctl", (at("null"),), ("null=char",), {"opened_under": 1, "ioctl_cmd": FIONREAD}),
    Scenario("ioctl-youngest-denying-at-open",
             (layer(["ioctl_dev"]), layer(["write_file"]), layer(["ioctl_dev"])),
             "ioctl", (at("null"),), ("null=char",), {"ioctl_cmd": FIONREAD}),
    Scenario("open-trunc-middle-layer",
             (layer(["truncate"], paths=[(["truncate"], [""])]), layer(["truncate"]),
              layer(["write_file", "truncate"], paths=[(["write_file", "truncate"], [""])])),
             "open-trunc", (at("f"),), ("f",)),
    Scenario("rights-add-up-along-the-path",
             (layer(["write_file", "truncate"],
                    paths=[(["write_file"], [""]), (["truncate"], ["sub"])]),),
             "open-trunc", (at("sub/f"),), ("sub/", "sub/f")),
    Scenario("variables-in-policy", (VARIABLE_LAYER,), "read", (at("open/f"),),
             ("open/", "open/f")),
    Scenario("json-policy-denies", (JSON_LAYER,), "create", (at("closed/new"),),
             ("open/", "closed/")),
    Scenario("json-policy-allows", (JSON_LAYER,), "create", (at("open/new"),), ("open/",)),
)
