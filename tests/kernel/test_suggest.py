"""``suggest`` against the real kernel: from a denial to a policy that works.

Each scenario enforces a policy for real (one landlockconfig file per
layer), performs an operation the policy denies and reads the kernel's audit
records from the netlink multicast group (with their SYSCALL, PATH, CWD
records).  ``lldecode.suggest`` gets those denials and the policy files; its
updated files are enforced for real and the operation performed again: it
must succeed, and the kernel must log nothing.  A control operation that was
never in the log must still be denied under the suggested policy (no
over-grant), and the suggestion must say "N of N denials allowed".

The harness (enforcing, the marker ptrace that tells layers apart, the
scenario tree) is tests/kernel/test_differential.py's.  Run as root with
Landlock ABI >= 7 and audit, under the shared lock::

    flock /tmp/lldecode-audit.lock python -m pytest -q tests/kernel/test_suggest.py
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

import lldecode
from lldecode.audit.netlink import AuditMulticast, record_as_line
from lldecode.landlock.policy import load_policy
from lldecode.landlock.simulate import Options
from tests.kernel import test_differential as harness
from tools.kernel.audit_guard import Disturbed, audit_undisturbed
from tools.kernel.differential_scenarios import (
    BIND_PORT,
    CONNECT_PORT,
    FIONREAD,
    JSON_LAYER,
    MAKE_REMOVE,
    ROOT,
    at,
    layer,
)

pytestmark = pytest.mark.kernel

audit_feed = harness.audit_feed  # the module's fixture: audit on, the multicast feed

LANDLOCK_ERRNOS = ("EACCES", "EXDEV", "EPERM")
_SERIAL = re.compile(r"audit\([0-9.]+:(\d+)\)")
# Where the dynamic loader and libraries of /bin/true live (exec checks them too).
SYSTEM = tuple(p for p in ("/usr", "/lib", "/lib64", "/lib32") if os.path.isdir(p))


@dataclass(frozen=True)
class Case:
    """A scenario: the layers, the denied operation, a control operation
    that must stay denied, and suggest's options."""

    name: str
    layers: Tuple[str, ...]
    operation: str
    args: Tuple[str, ...]
    setup: Tuple[str, ...]
    control: Tuple[str, Tuple[str, ...]]
    options: Dict[str, object] = field(default_factory=dict, hash=False)
    control_options: Dict[str, object] = field(default_factory=dict, hash=False)
    allow_scopes: Tuple[str, ...] = ()
    scope: str = "file"


def _file_right(name: str, right: str, operation: str, handled: Sequence[str] = (),
                paths: Sequence[Tuple[Sequence[str], Sequence[str]]] = (),
                options: Optional[Dict[str, object]] = None, kind: str = "") -> Case:
    """A right checked on a file: denied on d/f, the control on d/g."""
    suffix = f"={kind}" if kind else ""
    return Case(name, (layer([right, *handled], paths=paths),), operation, (at("d/f"),),
                ("d/", f"d/f{suffix}", f"d/g{suffix}"), (operation, (at("d/g"),)),
                dict(options or {}), dict(options or {}))


def _dir_right(name: str, right: str, operation: str, entry: str = "new",
               existing: str = "") -> Case:
    """A right checked on a directory: denied in d/, the control in e/."""
    setup: Tuple[str, ...] = ("d/", "e/")
    if existing:
        setup += (f"d/{existing}", f"e/{existing}")
    return Case(name, (layer([right]),), operation, (at(f"d/{entry}"),), setup,
                (operation, (at(f"e/{entry}"),)))


CASES: Tuple[Case, ...] = (
    # --- file rights ------------------------------------------------------------
    Case("read_file", (layer(["read_file"], paths=[(["read_file"], ["open"])]),), "read",
         (at("closed/f"),), ("open/", "closed/", "closed/f", "closed/g"),
         ("read", (at("closed/g"),))),
    _file_right("write_file", "write_file", "write", ["read_file"],
                [(["read_file"], [""])]),
    _file_right("truncate_path", "truncate", "truncate"),
    _file_right("open_trunc", "truncate", "open-trunc", ["write_file"],
                [(["write_file"], [""])]),
    _file_right("ftruncate", "truncate", "ftruncate", ["write_file"],
                [(["write_file"], [""])]),
    _file_right("ioctl_dev", "ioctl_dev", "ioctl", ["read_file"], [(["read_file"], [""])],
                {"ioctl_cmd": FIONREAD}, kind="char"),
    _file_right("execute", "execute", "exec", [], [(["execute"], list(SYSTEM))], kind="exec"),
    _file_right("execute_and_read", "execute", "exec", ["read_file"],
                [(["execute", "read_file"], list(SYSTEM))], kind="exec"),
    Case("read_dir", (layer(["read_dir"]),), "readdir", (at("d"),), ("d/", "e/"),
         ("readdir", (at("e"),))),
    # --- directory rights ----------------------------------------------------------
    _dir_right("make_reg", "make_reg", "create"),
    _dir_right("make_dir", "make_dir", "mkdir"),
    _dir_right("make_char", "make_char", "mknod-char"),
    _dir_right("make_block", "make_block", "mknod-block"),
    _dir_right("make_fifo", "make_fifo", "mkfifo"),
    _dir_right("make_sock", "make_sock", "mksock"),
    _dir_right("make_sym", "make_sym", "symlink"),
    _dir_right("remove_file", "remove_file", "unlink", "f", "f"),
    _dir_right("remove_dir", "remove_dir", "rmdir", "x", "x/"),
    # --- refer, both forms -----------------------------------------------------------
    Case("link_refer_only", (layer(["refer"]),), "link", (at("a/f"), at("b/f")),
         ("a/", "b/", "c/", "a/f", "a/g"), ("link", (at("a/g"), at("c/g")))),
    Case("link_make_reg_and_refer", (layer(["make_reg", "refer"]),), "link",
         (at("a/f"), at("b/f")), ("a/", "b/", "c/", "a/f", "a/g"),
         ("link", (at("a/g"), at("c/g")))),
    Case("rename_across", (layer(MAKE_REMOVE),), "rename", (at("a/f"), at("b/f")),
         ("a/", "b/", "c/", "a/f", "a/g"), ("rename", (at("a/g"), at("c/g")))),
    Case("rename_replace", (layer(MAKE_REMOVE),), "rename", (at("a/f"), at("b/f")),
         ("a/", "b/", "c/", "a/f", "b/f", "a/g", "c/g"), ("rename", (at("a/g"), at("c/g"))),
         {"replace": True}, {"replace": True}),
    Case("rename_directory", (layer(["make_dir", "remove_dir", "refer"]),), "rename",
         (at("a/d"), at("b/d")), ("a/", "b/", "c/", "a/d/", "a/e/"),
         ("rename", (at("a/e"), at("c/e"))), {"kind": "dir"}, {"kind": "dir"}),
    Case("rename_would_gain_read",
         (layer(MAKE_REMOVE + ["read_file"],
                paths=[(MAKE_REMOVE, ["a", "b"]), (["read_file"], ["b"])]),),
         "rename", (at("a/f"), at("b/f")), ("a/", "b/", "c/", "a/f", "a/g"),
         ("rename", (at("a/g"), at("c/g")))),
    Case("rename_same_directory", (layer(["make_reg", "remove_file"]),), "rename",
         (at("a/f"), at("a/g")), ("a/", "c/", "a/f", "c/f"), ("rename", (at("c/f"), at("c/g")))),
    Case("link_refer_not_listed",
         (layer(["make_reg", "remove_file"], paths=[(["make_reg", "remove_file"], [""])]),),
         "link", (at("a/f"), at("b/f")), ("a/", "b/", "c/", "a/f", "a/g"),
         ("link", (at("a/g"), at("c/g")))),
    # --- network ---------------------------------------------------------------------
    Case("bind_tcp", (layer(net=["bind_tcp"]),), "bind", (str(BIND_PORT),), (),
         ("bind", (str(BIND_PORT + 2),))),
    Case("connect_tcp", (layer(net=["connect_tcp"]),), "connect", (str(CONNECT_PORT),), (),
         ("connect", (str(CONNECT_PORT + 2),))),
    # --- scopes (only --allow-scope helps) ------------------------------------------
    Case("scope_signal",
         (layer(["read_file"], paths=[(["read_file"], ["open"])], scoped=["signal"]),),
         "signal", (), ("open/", "closed/", "closed/f"), ("read", (at("closed/f"),)),
         allow_scopes=("signal",)),
    Case("scope_abstract_unix_socket",
         (layer(["read_file"], paths=[(["read_file"], ["open"])],
                scoped=["abstract_unix_socket"]),),
         "abstract-connect", (), ("open/", "closed/", "closed/f"),
         ("read", (at("closed/f"),)), allow_scopes=("abstract_unix_socket",)),
    # --- nested layers -------------------------------------------------------------
    Case("nested_middle_layer_denies",
         (layer(["read_file"], paths=[(["read_file"], [""])]),
          layer(["read_file"], paths=[(["read_file"], ["other"])]),
          layer(["read_file"], paths=[(["read_file"], [""])])),
         "read", (at("d/f"),), ("d/", "d/f", "d/g", "other/"), ("read", (at("d/g"),))),
    Case("nested_two_layers_deny",
         (layer(["read_file"]), layer(["read_file", "write_file"])),
         "read", (at("d/f"),), ("d/", "d/f", "d/g"), ("read", (at("d/g"),))),
    Case("nested_make_dir_every_layer",
         (layer(["make_dir"]), layer(["make_dir", "read_file"]), layer(["make_dir"])),
         "mkdir", (at("d/new"),), ("d/", "e/"), ("mkdir", (at("e/new"),))),
    Case("nested_bind_two_layers",
         (layer(net=["bind_tcp"]), layer(net=["bind_tcp", "connect_tcp"])),
         "bind", (str(BIND_PORT),), (), ("bind", (str(BIND_PORT + 2),))),
    Case("nested_refer_middle_layer",
         (layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, [""])]),
          layer(MAKE_REMOVE, paths=[(["make_reg", "remove_file"], [""]), (["refer"], ["a"])]),
          layer(MAKE_REMOVE, paths=[(MAKE_REMOVE, [""])])),
         "rename", (at("a/f"), at("b/f")), ("a/", "b/", "c/", "a/f", "a/g"),
         ("rename", (at("a/g"), at("c/g")))),
    Case("nested_ftruncate_open_time_layer",
         (layer(["truncate"]), layer(["write_file"], paths=[(["write_file"], [""])])),
         "ftruncate", (at("d/f"),), ("d/", "d/f", "d/g"), ("ftruncate", (at("d/g"),))),
    Case("nested_signal_two_layers",
         (layer(["read_file"], paths=[(["read_file"], ["open"])], scoped=["signal"]),
          layer(["write_file"], scoped=["signal"])),
         "signal", (), ("open/", "closed/", "closed/f"), ("read", (at("closed/f"),)),
         allow_scopes=("signal",)),
    # --- policy forms and placement --------------------------------------------------
    Case("json_policy_read", (JSON_LAYER,), "read", (at("closed/f"),),
         ("open/", "closed/", "closed/f", "closed/g"), ("read", (at("closed/g"),))),
    Case("scope_dir_read", (layer(["read_file"]),), "read", (at("d/f"),),
         ("d/", "d/f", "e/", "e/f"), ("read", (at("e/f"),)), scope="dir"),
    Case("abi_group_read_write",
         (layer(["abi.read_write"], abi=7, paths=[(["abi.read_write"], ["open"])]),),
         "write", (at("closed/f"),), ("open/", "closed/", "closed/f", "closed/g"),
         ("write", (at("closed/g"),))),
)

RESULTS: Dict[str, bool] = {}


# -- running a round --------------------------------------------------------------


def _serial(payload: str) -> Optional[str]:
    match = _SERIAL.search(payload)
    return match.group(1) if match else None


def run_round(feed: AuditMulticast, files: List[str], operation: str, args: List[str],
              options: Options) -> Tuple[Optional[str], List[str]]:
    """Enforce the policy files, perform the operation: (its errno when
    Landlock refused it, the audit lines of its own denials' events)."""
    policy = load_policy(files)
    kernel = harness.run_kernel(policy.layers, operation, args, options)
    records: List[Tuple[int, str]] = []
    markers: List[Dict[str, str]] = []
    for _ in range(10):
        for rtype, payload in feed.messages(timeout=2.0, idle=0.3):
            records.append((rtype, payload))
            if rtype == harness.AUDIT_LANDLOCK_ACCESS:
                fields = harness.parse_fields(payload)
                if fields.get("blockers") == "ptrace" and \
                        fields.get("opid") == str(kernel["marker"]):
                    markers.append(fields)
        if len(markers) >= len(policy.layers):
            break
    domains = {r["domain"] for r in markers}
    assert len(domains) == len(policy.layers), f"saw {len(domains)} marker records"
    own = set()
    for rtype, payload in records:
        if rtype != harness.AUDIT_LANDLOCK_ACCESS:
            continue
        fields = harness.parse_fields(payload)
        if fields.get("domain") not in domains:
            continue
        if fields.get("blockers") == "ptrace" and fields.get("opid") == str(kernel["marker"]):
            continue
        if fields.get("blockers") == "fs.read_file" and \
                fields.get("path") == f"/proc/{kernel['pid']}/stat":
            continue
        own.add(_serial(payload))
    lines = [record_as_line(rtype, payload) for rtype, payload in records
             if _serial(payload) in own]
    refused = kernel["errno"] if kernel["errno"] in LANDLOCK_ERRNOS else None
    return refused, lines


def _options(values: Dict[str, object]) -> Options:
    return harness.simulator_options(harness.Scenario("x", (), "read", (), (), values))


@pytest.fixture
def tree():
    root = tempfile.mkdtemp(prefix="lldecode-suggest-", dir="/tmp")
    policies = tempfile.mkdtemp(prefix="lldecode-suggest-policies-", dir="/tmp")
    yield root, policies
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(policies, ignore_errors=True)


def _fresh(root: str, setup: Tuple[str, ...]) -> None:
    for entry in os.listdir(root):
        path = os.path.join(root, entry)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    harness.build_tree(root, setup)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_suggested_policy_allows_and_nothing_more(case: Case, audit_feed, tree):
    root, policy_dir = tree
    original = harness.write_policies(policy_dir, root, case.layers)
    args = [a.replace(ROOT, root) for a in case.args]
    control_op, control_args = case.control[0], [a.replace(ROOT, root) for a in case.control[1]]
    fixed_dir = os.path.join(policy_dir, "fixed")
    os.mkdir(fixed_dir)
    try:
        with audit_undisturbed(f"suggest scenario {case.name}"):
            _fresh(root, case.setup)
            refused, lines = run_round(audit_feed, original, case.operation, args,
                                       _options(case.options))
            assert refused, "the original policy did not deny the operation"
            denials = list(lldecode.read_denials(lines=lines))
            assert denials, "no denial logged"
            result = lldecode.suggest(denials, original, scope=case.scope,
                                      allow_scopes=case.allow_scopes)
            assert result.verification.ok, (result.verification.summary,
                                             result.verification.failures, result.notes)
            n = sum(1 for _ in denials)
            assert result.verification.summary == (
                f"{n} of {n} denials allowed by the suggested policy")
            fixed = result.write(directory=fixed_dir)
            assert len(fixed) == len(original)

            _fresh(root, case.setup)
            refused_again, lines_again = run_round(audit_feed, fixed, case.operation, args,
                                                   _options(case.options))
            assert refused_again is None, f"still refused ({refused_again}): {lines_again}"
            assert lines_again == [], "the kernel still logged denials"

            _fresh(root, case.setup)
            control_refused, _ = run_round(audit_feed, fixed, control_op, control_args,
                                           _options(case.control_options))
            assert control_refused, "the control operation is allowed: over-grant"
    except Disturbed as exc:
        pytest.skip(str(exc))
    RESULTS[case.name] = True


def test_enough_scenarios():
    """At least 30 scenarios, every fs right, both net rights, both scopes,
    refer in both forms, nested layers."""
    assert len(CASES) >= 30
    rights_seen = set()
    for case in CASES:
        for text in case.layers:
            rights_seen.update(re.findall(r'"([a-z_]+)"', text))
    from lldecode.landlock.access import MAX_MODELLED_ABI, rights_of

    for kind in ("fs", "net", "scope"):
        for r in rights_of(kind, MAX_MODELLED_ABI):
            assert r.name in rights_seen, r.name
    operations = {c.operation for c in CASES}
    assert {"rename", "link", "signal", "abstract-connect", "bind", "connect"} <= operations
    assert any(len(c.layers) >= 3 for c in CASES)
