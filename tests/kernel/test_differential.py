"""The simulator against the real kernel, scenario by scenario.

Each scenario of :mod:`tools.kernel.differential_scenarios` is simulated
with ``lldecode.landlock.simulate`` and enforced for real: a forked child enforces
the policy's layers through the Landlock syscalls, performs the operation,
and the audit records are read from the netlink multicast group.  Both must
agree on the outcome (allowed or the errno), and on every denial record:
layer, blockers and object.

Telling layers apart: after enforcing each layer, the child tries to ptrace
a helper process that has no domain.  Landlock denies it and charges the
tracer's youngest layer, so the k-th such "marker" record carries the domain
id of layer k (ids increase with each enforcement, which is checked too).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
from typing import Dict, List, Tuple

import pytest

from lldecode.audit.netlink import AuditControl, AuditMulticast
from lldecode.landlock.blame import blame_denial
from lldecode.landlock.policy import Layer, load_policy
from lldecode.landlock.simulate import Options, Outcome, parse_ioctl_cmd, simulate
from tools.kernel.audit_guard import Disturbed, audit_undisturbed
from tools.kernel.differential_scenarios import ROOT, SCENARIOS, Scenario
from tools.kernel.landlock import Ruleset, run_in_child, unavailable_reason

pytestmark = pytest.mark.kernel

AUDIT_LANDLOCK_ACCESS = 1423
AUDIT_LANDLOCK_DOMAIN = 1424
LANDLOCK_ERRNOS = ("EACCES", "EXDEV", "EPERM")
PTRACE_SEIZE = 0x4206
AT_FDCWD = -100
RENAME_EXCHANGE = 1 << 1
ABSTRACT_NAME = "lldecode-differential"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.restype = ctypes.c_long

_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
RESULTS: Dict[str, bool] = {}
DISTURBED: Dict[str, str] = {}  # scenario -> why the audit subsystem was disturbed


# -- fixtures --------------------------------------------------------------------

@pytest.fixture(scope="module")
def audit_feed():
    """The audit multicast feed, with audit enabled (restored afterwards)."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with AuditControl() as control:
        was_enabled = control.status()["enabled"]
        if not was_enabled:
            control.set_enabled(True)
        try:
            with AuditMulticast() as feed:
                yield feed
        finally:
            if not was_enabled:
                control.set_enabled(False)


@pytest.fixture
def scratch():
    root = tempfile.mkdtemp(prefix="lldecode-diff-", dir="/tmp")
    policies = tempfile.mkdtemp(prefix="lldecode-diff-policies-", dir="/tmp")
    yield root, policies
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(policies, ignore_errors=True)


# -- building a scenario ------------------------------------------------------------

def build_tree(root: str, entries: Tuple[str, ...]) -> None:
    for entry in entries:
        relative, _, kind = entry.partition("=")
        path = os.path.join(root, relative)
        os.makedirs(os.path.dirname(path.rstrip("/")), exist_ok=True)
        if relative.endswith("/"):
            os.makedirs(path, exist_ok=True)
        elif kind == "char":
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        elif kind == "exec":
            shutil.copy("/bin/true", path)
            os.chmod(path, 0o755)
        else:
            with open(path, "w") as stream:
                stream.write("data\n")


def write_policies(directory: str, root: str, layers: Tuple[str, ...]) -> List[str]:
    files = []
    for index, text in enumerate(layers, 1):
        suffix = ".json" if text.lstrip().startswith("{") else ".toml"
        path = os.path.join(directory, f"layer{index}{suffix}")
        with open(path, "w") as stream:
            stream.write(text.replace(ROOT, root))
        files.append(path)
    return files


def simulator_options(scenario: Scenario) -> Options:
    values = dict(scenario.options)
    if "ioctl_cmd" in values:
        values["ioctl_cmd"] = parse_ioctl_cmd(str(values["ioctl_cmd"]))
    return Options(**values)


# -- the kernel side ------------------------------------------------------------------

def enforce(layer: Layer) -> None:
    ruleset = Ruleset(layer.handled_fs, layer.handled_net, layer.scoped)
    for path, allowed in layer.path_rules.items():
        ruleset.allow_path(path, allowed)
    for port, allowed in layer.port_rules.items():
        ruleset.allow_port(port, allowed)
    ruleset.enforce(0)


def spawn_sleeper() -> int:
    """A helper process that waits to be killed (by the test, not the child:
    a sandboxed child may be scoped from signalling it)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.closerange(3, 1 << 16)  # let run_in_child see the end of its pipe
            while True:
                signal.pause()
        finally:
            os._exit(0)
    return pid


def ptrace_seize(pid: int) -> int:
    """0, or the errno of PTRACE_SEIZE."""
    if _libc.ptrace(ctypes.c_long(PTRACE_SEIZE), ctypes.c_long(pid), None, None) == 0:
        return 0
    return ctypes.get_errno()


def check(result: int) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def perform(operation: str, args: List[str], options: Options, state: dict) -> None:
    """Do the operation; raise OSError if the kernel refuses."""
    first = args[0] if args else ""
    if operation in ("read", "write", "readdir", "open-trunc", "create"):
        flags = {"read": os.O_RDONLY, "write": os.O_WRONLY,
                 "readdir": os.O_RDONLY | os.O_DIRECTORY,
                 "open-trunc": os.O_WRONLY | os.O_TRUNC,
                 "create": os.O_WRONLY | os.O_CREAT | os.O_EXCL}[operation]
        os.close(os.open(first, flags, 0o644))
    elif operation == "exec":
        pid = os.fork()
        if pid == 0:
            try:
                os.execv(first, [first])
            except OSError as exc:
                os._exit(exc.errno or 1)
            os._exit(255)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code:
            raise OSError(code, os.strerror(code))
    elif operation in ("mkdir", "mknod-char", "mknod-block", "mkfifo", "mksock"):
        if operation == "mkdir":
            os.mkdir(first)
        elif operation == "mkfifo":
            os.mkfifo(first)
        else:
            mode = {"mknod-char": stat.S_IFCHR, "mknod-block": stat.S_IFBLK,
                    "mksock": stat.S_IFSOCK}[operation]
            os.mknod(first, mode | 0o600, os.makedev(1, 3) if operation != "mksock" else 0)
    elif operation == "symlink":
        os.symlink("target", first)
    elif operation == "unlink":
        os.unlink(first)
    elif operation == "rmdir":
        os.rmdir(first)
    elif operation == "rename" and options.exchange:
        check(_libc.renameat2(AT_FDCWD, first.encode(), AT_FDCWD, args[1].encode(),
                              ctypes.c_uint(RENAME_EXCHANGE)))
    elif operation == "rename":
        os.rename(first, args[1])
    elif operation == "link":
        os.link(first, args[1])
    elif operation == "truncate":
        os.truncate(first, 0)
    elif operation == "ftruncate":
        os.ftruncate(state["fd"], 0)
    elif operation == "ioctl":
        fcntl.ioctl(state["fd"], options.ioctl_cmd, bytearray(8))
    elif operation in ("bind", "connect"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if operation == "bind":
                sock.bind(("127.0.0.1", int(first)))
            else:
                sock.connect(("127.0.0.1", int(first)))
    elif operation == "signal":
        os.kill(state["target"], 0)
    elif operation == "abstract-connect":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect("\0" + ABSTRACT_NAME + str(os.getpid()))
    elif operation == "ptrace":
        err = ptrace_seize(state["target"])
        if err:
            raise OSError(err, os.strerror(err))
    else:
        raise AssertionError(f"no kernel implementation of {operation}")


def prepare(operation: str, args: List[str], options: Options, enforced: int,
            num_layers: int, state: dict) -> None:
    """What happens between enforcements: open the file, start the target."""
    opened_under = num_layers if options.opened_under is None else options.opened_under
    if operation in ("ftruncate", "ioctl") and enforced == opened_under:
        state["fd"] = os.open(args[0], os.O_WRONLY if operation == "ftruncate" else os.O_RDONLY)
    if operation in ("signal", "ptrace") and enforced == options.target_shares:
        state["target"] = spawn_sleeper()
    if operation == "abstract-connect" and enforced == options.target_shares:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("\0" + ABSTRACT_NAME + str(os.getpid()))
        listener.listen(4)
        state["listener"] = listener


def run_kernel(layers: Tuple[Layer, ...], operation: str, args: List[str],
               options: Options) -> dict:
    """Run the scenario in a child; the helpers it starts are killed here."""
    helpers_read, helpers_write = os.pipe()

    def started(pid: int) -> int:
        os.write(helpers_write, f"{pid}\n".encode())
        return pid

    def child() -> dict:
        marker = started(spawn_sleeper())
        state: dict = {}
        for enforced in range(len(layers) + 1):
            prepare(operation, args, options, enforced, len(layers), state)
            if "target" in state and enforced == options.target_shares:
                started(state["target"])
            if enforced == len(layers):
                break
            enforce(layers[enforced])
            if ptrace_seize(marker) != errno.EPERM:
                raise AssertionError("the marker ptrace was not denied")
        try:
            perform(operation, args, options, state)
            outcome = None
        except OSError as exc:
            outcome = errno.errorcode.get(exc.errno, str(exc.errno))
        return {"errno": outcome, "pid": os.getpid(), "marker": marker,
                "target": state.get("target")}

    try:
        result = run_in_child(child)
    finally:
        os.close(helpers_write)
        with os.fdopen(helpers_read) as stream:
            for pid in {int(line) for line in stream.read().split()}:
                os.kill(pid, signal.SIGKILL)
    if not result.get("ok"):
        raise AssertionError(f"the scenario's child failed: {result}")
    return result["value"]


def parse_fields(payload: str) -> Dict[str, str]:
    body = payload.split("): ", 1)[-1]
    fields = {}
    for key, value in _FIELD.findall(body):
        if value.startswith('"'):
            value = value[1:-1]
        elif key == "path" and re.fullmatch(r"(?:[0-9A-F]{2})+", value):
            value = bytes.fromhex(value).decode("latin-1")
        fields[key] = value
    return fields


def read_records(feed: AuditMulticast, marker: int, num_layers: int, child: int,
                 ) -> Tuple[List[int], List[Dict[str, str]]]:
    """(domain id of each layer, the scenario's own access records).

    From Python 3.12, os.fork() reads /proc/self/stat (to warn when other
    threads run): in the sandboxed child that read is the harness's own
    denial, not the scenario's, and is left out.
    """
    access: List[Dict[str, str]] = []
    for _ in range(10):
        for rtype, payload in feed.messages(timeout=2.0, idle=0.3):
            if rtype == AUDIT_LANDLOCK_ACCESS:
                access.append(parse_fields(payload))
        markers = [r for r in access if r.get("blockers") == "ptrace"
                   and r.get("opid") == str(marker)]
        if len(markers) >= num_layers:
            break
    domain_ids = [int(r["domain"], 16) for r in markers]
    assert len(domain_ids) == num_layers, f"saw {len(domain_ids)} marker records, not {num_layers}"
    assert domain_ids == sorted(set(domain_ids)), "domain ids do not increase with each layer"
    own = [r for r in access if int(r.get("domain", "0"), 16) in domain_ids
           and not (r.get("blockers") == "ptrace" and r.get("opid") == str(marker))
           and not (r.get("blockers") == "fs.read_file"
                    and r.get("path") == f"/proc/{child}/stat")]
    return domain_ids, own


def kernel_denials(domain_ids: List[int], records: List[Dict[str, str]],
                   kernel: dict) -> List[dict]:
    denials = []
    for record in records:
        blockers = record["blockers"].split(",")
        first = blockers[0]
        if first.startswith("fs."):
            obj: Dict[str, object] = {"path": record.get("path")}
            if "ioctlcmd" in record:
                obj["ioctlcmd"] = record["ioctlcmd"]
        elif first == "net.bind_tcp":
            obj = {"src": int(record["src"])}
        elif first == "net.connect_tcp":
            obj = {"dest": int(record["dest"])}
        elif first == "scope.abstract_unix_socket":
            assert record.get("path") == "\0" + ABSTRACT_NAME + str(kernel["pid"])
            obj = {}
        else:
            assert record.get("opid") == str(kernel["target"]), record
            obj = {}
        denials.append({"layer": domain_ids.index(int(record["domain"], 16)) + 1,
                        "blockers": blockers, "object": obj})
    return denials


def simulated_denials(outcome: Outcome) -> List[dict]:
    return [{"layer": d.layer, "blockers": list(d.blockers), "object": dict(d.object)}
            for d in outcome.denials]


# -- the tests -------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_simulator_agrees_with_kernel(scenario: Scenario, audit_feed, scratch):
    root, policy_dir = scratch
    build_tree(root, scenario.setup)
    policy = load_policy(write_policies(policy_dir, root, scenario.layers))
    args = [a.replace(ROOT, root) for a in scenario.args]
    options = simulator_options(scenario)
    predicted = simulate(policy, scenario.operation, args, options)

    # Another process may disturb the kernel's one audit subsystem meanwhile
    # (lost records, an audit daemon, audit switched off): then the scenario
    # is skipped, not failed.  A failure with the status unchanged stays one.
    try:
        with audit_undisturbed(f"scenario {scenario.name}"):
            kernel = run_kernel(policy.layers, scenario.operation, args, options)
            domain_ids, records = read_records(audit_feed, kernel["marker"],
                                               len(policy.layers), kernel["pid"])
    except Disturbed as exc:
        DISTURBED[scenario.name] = exc.reason
        pytest.skip(str(exc))
    kernel_errno = kernel["errno"] if kernel["errno"] in LANDLOCK_ERRNOS else None
    observed = {"allowed": kernel_errno is None, "errno": kernel_errno,
                "denials": kernel_denials(domain_ids, records, kernel)}
    expected = {"allowed": predicted.allowed, "errno": predicted.errno,
                "denials": simulated_denials(predicted)}
    RESULTS[scenario.name] = observed == expected
    assert observed == expected, f"kernel errno {kernel['errno']}"
    check_explanations(policy, scenario.operation, records, observed["denials"])


def check_explanations(policy, operation: str, records: List[Dict[str, str]],
                       denials: List[dict]) -> None:
    """blame_denial must accept every real record and blame its logged layer."""
    syscall = {"rename": "renameat2", "link": "linkat"}.get(operation)
    groups: List[List[int]] = [[0, 1]] if syscall and len(records) == 2 else [
        [i] for i in range(len(records))]
    for group in groups:
        first = records[group[0]]
        destination = None
        if len(group) == 2:
            second = records[group[1]]
            destination = (second["blockers"].split(","), second)
        result = blame_denial(policy, first["blockers"].split(","), first, syscall=syscall,
                                destination=destination,
                                logged_layer=denials[group[0]]["layer"])
        assert result.consistent, result.reason
        assert result.layer == denials[group[0]]["layer"]


def test_enough_scenarios_agree():
    """The closing count: every scenario ran and agreed (skipped when some
    could not run undisturbed, once those that ran all agree)."""
    if not RESULTS:
        pytest.skip("no kernel scenario ran" + (
            f" undisturbed ({len(DISTURBED)} disturbed)" if DISTURBED else ""))
    agreeing = sum(RESULTS.values())
    assert len(SCENARIOS) >= 40
    assert agreeing == len(RESULTS), (
        f"{agreeing} of {len(RESULTS)} kernel scenarios agree with the simulator "
        f"({len(SCENARIOS)} defined)")
    if DISTURBED:
        pytest.skip(f"{len(DISTURBED)} scenario(s) skipped, the audit subsystem disturbed: "
                    + ", ".join(sorted(DISTURBED)))
    assert len(RESULTS) == len(SCENARIOS), (
        f"{len(RESULTS)} of {len(SCENARIOS)} kernel scenarios ran")
