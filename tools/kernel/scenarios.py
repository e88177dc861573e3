"""Named Landlock scenarios that make the kernel log denials.

Each scenario prepares files (or a target process, a socket) in its own
directory, then forks a child (:func:`tools.kernel.landlock.run_in_child`)
that enforces one or more Landlock layers and performs operations those
layers deny.  The child reports its pid and the outcome (errno name or "ok")
of every operation, so a capture can tell which records it caused.

``Scenario.blockers`` lists the ``blockers=`` of each LANDLOCK_ACCESS record
the scenario is expected to produce, in order.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import termios
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Sequence, Tuple, Union

from tools.kernel.landlock import LOG_NEW_EXEC_ON, Ruleset, run_in_child

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
FS_ALL = (1 << 16) - 1

NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1

SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

PTRACE_ATTACH = 16

PathLike = Union[str, bytes, Path]


@dataclass(frozen=True)
class Layer:
    """One Landlock ruleset, enforced on top of the caller's domain."""

    fs: int = 0
    net: int = 0
    scoped: int = 0
    paths: Tuple[Tuple[PathLike, int], ...] = ()
    ports: Tuple[Tuple[int, int], ...] = ()
    flags: int = 0

    def enforce(self) -> None:
        ruleset = Ruleset(self.fs, self.net, self.scoped)
        for path, allowed in self.paths:
            ruleset.allow_path(path, allowed)
        for port, allowed in self.ports:
            ruleset.allow_port(port, allowed)
        ruleset.enforce(self.flags)


@dataclass(frozen=True)
class Op:
    """An operation for the sandboxed child, and its expected outcome."""

    label: str
    call: Callable[[], object]
    expect: str = "EACCES"


Step = Union[Layer, Op]


def attempt(op: Op) -> str:
    try:
        op.call()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return "ok"


def run_steps(steps: Sequence[Step], pace: float = 0.0) -> dict:
    """Enforce the layers and perform the operations, in order, in a child.

    ``pace`` seconds are waited between operations (the kernel's console
    rate limit lets only 10 audit lines through every 5 seconds).
    """

    def child() -> dict:
        outcomes = []
        for step in steps:
            if isinstance(step, Layer):
                step.enforce()
                continue
            if outcomes and pace:
                time.sleep(pace)
            outcomes.append({"op": step.label, "expect": step.expect,
                             "outcome": attempt(step)})
        return {"pid": os.getpid(), "outcomes": outcomes}

    operations = sum(1 for step in steps if isinstance(step, Op))
    return run_in_child(child, timeout=20.0 + pace * operations)


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    blockers: Tuple[str, ...]
    run: Callable[[Path, float], dict]


# --- operations -------------------------------------------------------------

def _open(path: PathLike, flags: int) -> Callable[[], object]:
    return lambda: os.close(os.open(path, flags, 0o600))


def _bind_unix(path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


def _tcp(family: int, method: str, address: tuple) -> Callable[[], object]:
    def call() -> None:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            getattr(sock, method)(address)
    return call


def _connect_abstract(name: bytes) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(name)


def _ioctl_fionread(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, termios.FIONREAD, bytearray(4))
    finally:
        os.close(fd)


def _ptrace_attach(pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    if libc.ptrace(ctypes.c_long(PTRACE_ATTACH), ctypes.c_long(pid), None, None) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _python_child(code: str) -> Callable[[], object]:
    """Run a new python3 process; its exit status is an errno (0: ok)."""

    def call() -> None:
        status = subprocess.run([sys.executable, "-I", "-B", "-c", code]).returncode
        if status:
            raise OSError(status, os.strerror(status))
    return call


# --- parent-side resources -------------------------------------------------

def _file(path: Path, data: bytes = b"lldecode\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _target_process() -> Iterator[int]:
    """A process outside the sandbox (``sleep``) to signal or trace."""
    # By absolute path: a PATH search would add failed execve events to the log.
    proc = subprocess.Popen([shutil.which("sleep") or "/bin/sleep", "60"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def _abstract_listener() -> Iterator[bytes]:
    name = b"\0lldecode-capture-%d" % os.getpid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(name)
        sock.listen(1)
        yield name


# --- scenario builders -----------------------------------------------------

def _steps(build: Callable[[Path], Sequence[Step]]) -> Callable[[Path, float], dict]:
    """A scenario runner from a function preparing ``dir`` and giving steps."""
    return lambda directory, pace: run_steps(build(directory), pace)


def _fs_right(name: str, right: int, blockers: str, summary: str,
              build: Callable[[Path], Op]) -> Scenario:
    """Handle one fs right, allow nothing, perform one denied operation."""
    return Scenario(name, summary, (blockers,),
                    _steps(lambda d: [Layer(fs=right), build(d)]))


def _fs_scenarios() -> List[Scenario]:
    def rmdir(d: Path) -> Op:
        (d / "victim").mkdir()
        return Op("rmdir(victim)", lambda: os.rmdir(d / "victim"))

    def unlink(d: Path) -> Op:
        victim = _file(d / "victim")
        return Op("unlink(victim)", lambda: os.unlink(victim))

    def mknod(kind: int, device: Tuple[int, int]) -> Callable[[Path], Op]:
        def build(d: Path) -> Op:
            mode = kind | 0o600
            return Op(f"mknod(node, {stat.filemode(mode)[0]})",
                      lambda: os.mknod(d / "node", mode, os.makedev(*device)))
        return build

    return [
        _fs_right("fs_read_file", FS_READ_FILE, "fs.read_file", "open(O_RDONLY) a file",
                  lambda d: Op("open(file, O_RDONLY)", _open(_file(d / "file"), os.O_RDONLY))),
        _fs_right("fs_write_file", FS_WRITE_FILE, "fs.write_file", "open(O_WRONLY) a file",
                  lambda d: Op("open(file, O_WRONLY)", _open(_file(d / "file"), os.O_WRONLY))),
        _fs_right("fs_read_dir", FS_READ_DIR, "fs.read_dir", "list a directory",
                  lambda d: Op("listdir(d)", lambda: os.listdir(d))),
        _fs_right("fs_execute", FS_EXECUTE, "fs.execute", "execve /usr/bin/true",
                  lambda d: Op("execv(/usr/bin/true)",
                               lambda: os.execv("/usr/bin/true", ["true"]))),
        _fs_right("fs_execute_all_handled", FS_ALL, "fs.execute,fs.read_file",
                  "execve /usr/bin/true with every fs right handled",
                  lambda d: Op("execv(/usr/bin/true)",
                               lambda: os.execv("/usr/bin/true", ["true"]))),
        _fs_right("fs_remove_dir", FS_REMOVE_DIR, "fs.remove_dir", "rmdir (names the parent)",
                  rmdir),
        _fs_right("fs_remove_file", FS_REMOVE_FILE, "fs.remove_file",
                  "unlink (names the parent)", unlink),
        _fs_right("fs_make_char", FS_MAKE_CHAR, "fs.make_char", "mknod a character device",
                  mknod(stat.S_IFCHR, (1, 3))),
        _fs_right("fs_make_dir", FS_MAKE_DIR, "fs.make_dir", "mkdir",
                  lambda d: Op("mkdir(new)", lambda: os.mkdir(d / "new"))),
        _fs_right("fs_make_reg", FS_MAKE_REG, "fs.make_reg", "open(O_CREAT) a new file",
                  lambda d: Op("open(new, O_CREAT)",
                               _open(d / "new", os.O_WRONLY | os.O_CREAT))),
        _fs_right("fs_make_sock", FS_MAKE_SOCK, "fs.make_sock",
                  "bind a unix socket to a path",
                  lambda d: Op("bind(AF_UNIX, sock)", lambda: _bind_unix(d / "sock"))),
        _fs_right("fs_make_fifo", FS_MAKE_FIFO, "fs.make_fifo", "mkfifo",
                  lambda d: Op("mkfifo(fifo)", lambda: os.mkfifo(d / "fifo"))),
        _fs_right("fs_make_block", FS_MAKE_BLOCK, "fs.make_block", "mknod a block device",
                  mknod(stat.S_IFBLK, (7, 0))),
        _fs_right("fs_make_sym", FS_MAKE_SYM, "fs.make_sym", "symlink",
                  lambda d: Op("symlink(target, link)",
                               lambda: os.symlink("target", d / "link"))),
    ]


def _refer_link(d: Path) -> List[Step]:
    source = _file(d / "src" / "file")
    (d / "dst").mkdir()
    return [Layer(fs=FS_REFER),
            Op("link(src/file, dst/file)", lambda: os.link(source, d / "dst" / "file"),
               expect="EXDEV")]


def _refer_rename(d: Path) -> List[Step]:
    source = _file(d / "src" / "file")
    (d / "dst").mkdir()
    return [Layer(fs=FS_REFER | FS_REMOVE_FILE | FS_MAKE_REG),
            Op("rename(src/file, dst/file)", lambda: os.rename(source, d / "dst" / "file"))]


def _refer_rename_replace(d: Path) -> List[Step]:
    source = _file(d / "src" / "file")
    _file(d / "dst" / "file")
    return [Layer(fs=FS_REFER | FS_REMOVE_FILE | FS_MAKE_REG),
            Op("rename(src/file, dst/file) over an existing file",
               lambda: os.rename(source, d / "dst" / "file"))]


def _truncate_path(d: Path) -> List[Step]:
    target = _file(d / "file")
    return [Layer(fs=FS_TRUNCATE), Op("truncate(file, 0)", lambda: os.truncate(target, 0))]


def _truncate_open(d: Path) -> List[Step]:
    target = _file(d / "file")
    return [Layer(fs=FS_TRUNCATE),
            Op("open(file, O_WRONLY|O_TRUNC)", _open(target, os.O_WRONLY | os.O_TRUNC))]


def _mark(d: Path, number: int) -> Op:
    """A mkdir denied by the layer just enforced (it handles fs.make_dir):
    its record shows that layer's domain ID."""
    marker = d / f"layer{number}"
    return Op(f"mkdir(layer{number}): marks layer {number}", lambda: os.mkdir(marker))


def _truncate_fd(d: Path) -> List[Step]:
    """The file is opened under layer 1, truncated under layers 1+2: the
    denial is charged to layer 1's domain, the opener's."""
    target = _file(d / "file")
    fds: Dict[str, int] = {}

    def open_file() -> None:
        fds["file"] = os.open(target, os.O_WRONLY)

    return [Layer(fs=FS_TRUNCATE | FS_MAKE_DIR), _mark(d, 1),
            Op("open(file, O_WRONLY)", open_file, expect="ok"),
            Layer(fs=FS_TRUNCATE | FS_MAKE_DIR, paths=((d, FS_TRUNCATE),)), _mark(d, 2),
            Op("ftruncate(fd, 0)", lambda: os.ftruncate(fds["file"], 0))]


def _ioctl_dev(d: Path) -> List[Step]:
    return [Layer(fs=FS_IOCTL_DEV),
            Op("ioctl(/dev/null, FIONREAD)", lambda: _ioctl_fionread("/dev/null"))]


def _net(family: int, method: str, host: str) -> Callable[[Path, float], dict]:
    def run(d: Path, pace: float) -> dict:
        port = _free_port()
        op = Op(f"{method}({host}:{port})", _tcp(family, method, (host, port)))
        return run_steps([Layer(net=NET_BIND_TCP | NET_CONNECT_TCP), op], pace)
    return run


def _scope_signal(d: Path, pace: float) -> dict:
    with _target_process() as pid:
        return run_steps([Layer(scoped=SCOPE_SIGNAL),
                          Op(f"kill({pid}, SIGTERM)", lambda: os.kill(pid, signal.SIGTERM),
                             expect="EPERM")], pace)


def _scope_abstract_unix_socket(d: Path, pace: float) -> dict:
    with _abstract_listener() as name:
        return run_steps([Layer(scoped=SCOPE_ABSTRACT_UNIX_SOCKET),
                          Op("connect(@lldecode-capture-PID)",
                             lambda: _connect_abstract(name), expect="EPERM")], pace)


def _ptrace(d: Path, pace: float) -> dict:
    with _target_process() as pid:
        return run_steps([Layer(fs=FS_READ_FILE),
                          Op(f"ptrace(PTRACE_ATTACH, {pid})", lambda: _ptrace_attach(pid),
                             expect="EPERM")], pace)


def _nested(deniers: Sequence[bool]) -> Callable[[Path], List[Step]]:
    """Layers handling fs.read_file, oldest first; True: that layer denies.
    Each layer is marked (see _mark) before the next one is enforced."""

    def build(d: Path) -> List[Step]:
        target = _file(d / "file")
        steps: List[Step] = []
        for number, denies in enumerate(deniers, 1):
            allowed = () if denies else ((d, FS_READ_FILE),)
            steps += [Layer(fs=FS_READ_FILE | FS_MAKE_DIR, paths=allowed), _mark(d, number)]
        return steps + [Op("open(file, O_RDONLY)", _open(target, os.O_RDONLY))]
    return build


def _nested_both(d: Path) -> List[Step]:
    """Layer 1 denies writing, layer 2 reading: O_RDWR is charged to layer 2."""
    target = _file(d / "file")
    handled = FS_READ_FILE | FS_WRITE_FILE | FS_MAKE_DIR
    return [Layer(fs=handled, paths=((d, FS_READ_FILE),)), _mark(d, 1),
            Layer(fs=handled, paths=((d, FS_WRITE_FILE),)), _mark(d, 2),
            Op("open(file, O_RDWR)", _open(target, os.O_RDWR))]


HEX_NAMES = (b"with space", b"\x1b[31mred", b"new\nline", b"bad\xff\xfeutf8", b'say "hi"')


def _hex_paths(d: Path) -> List[Step]:
    steps: List[Step] = [Layer(fs=FS_READ_FILE)]
    for name in HEX_NAMES:
        os.mkdir(os.path.join(os.fsencode(d), name))
        target = os.path.join(os.fsencode(d), name, b"file")
        with open(target, "wb") as file:
            file.write(b"lldecode\n")
        steps.append(Op(f"open({name!r}/file, O_RDONLY)", _open(target, os.O_RDONLY)))
    return steps


def _repeated(count: int) -> Callable[[Path], List[Step]]:
    def build(d: Path) -> List[Step]:
        target = _file(d / "file")
        return [Layer(fs=FS_READ_FILE)] + [
            Op("open(file, O_RDONLY)", _open(target, os.O_RDONLY)) for _ in range(count)]
    return build


def _exec_log_new_exec_on(d: Path) -> List[Step]:
    target = _file(d / "file")
    code = (f"import os, sys\ntry:\n    os.open({str(target)!r}, os.O_WRONLY)\n"
            "except OSError as exc:\n    sys.exit(exc.errno)\n")
    return [Layer(fs=FS_WRITE_FILE, flags=LOG_NEW_EXEC_ON),
            Op("python3 -c open(file, O_WRONLY)", _python_child(code))]


SCENARIOS: List[Scenario] = _fs_scenarios() + [
    Scenario("fs_refer_link", "link across directories (EXDEV): source and destination",
             ("fs.refer", "fs.refer"), _steps(_refer_link)),
    Scenario("fs_refer_rename", "rename across directories: source and destination",
             ("fs.remove_file,fs.refer", "fs.make_reg,fs.refer"), _steps(_refer_rename)),
    Scenario("fs_refer_rename_replace", "rename across directories over an existing file",
             ("fs.remove_file,fs.refer", "fs.remove_file,fs.make_reg,fs.refer"),
             _steps(_refer_rename_replace)),
    Scenario("fs_truncate", "truncate() a path", ("fs.truncate",), _steps(_truncate_path)),
    Scenario("fs_truncate_open", "open(O_TRUNC)", ("fs.truncate",), _steps(_truncate_open)),
    Scenario("fs_truncate_fd", "ftruncate a file opened before a second layer",
             ("fs.make_dir", "fs.make_dir", "fs.truncate"), _steps(_truncate_fd)),
    Scenario("fs_ioctl_dev", "ioctl(FIONREAD) on /dev/null", ("fs.ioctl_dev",),
             _steps(_ioctl_dev)),
    Scenario("net_bind_tcp", "bind 127.0.0.1", ("net.bind_tcp",),
             _net(socket.AF_INET, "bind", "127.0.0.1")),
    Scenario("net_bind_tcp_any", "bind 0.0.0.0 (no saddr=)", ("net.bind_tcp",),
             _net(socket.AF_INET, "bind", "0.0.0.0")),
    Scenario("net_connect_tcp", "connect 127.0.0.1", ("net.connect_tcp",),
             _net(socket.AF_INET, "connect", "127.0.0.1")),
    Scenario("net_connect_tcp6", "connect [::1]", ("net.connect_tcp",),
             _net(socket.AF_INET6, "connect", "::1")),
    Scenario("scope_signal", "kill a process outside the domain", ("scope.signal",),
             _scope_signal),
    Scenario("scope_abstract_unix_socket", "connect to an abstract socket outside the domain",
             ("scope.abstract_unix_socket",), _scope_abstract_unix_socket),
    Scenario("ptrace", "PTRACE_ATTACH to a process outside the domain", ("ptrace",), _ptrace),
    Scenario("nested_youngest", "2 marked layers, the youngest denies",
             ("fs.make_dir",) * 2 + ("fs.read_file",), _steps(_nested([False, True]))),
    Scenario("nested_middle", "3 marked layers, the middle one denies",
             ("fs.make_dir",) * 3 + ("fs.read_file",), _steps(_nested([False, True, False]))),
    Scenario("nested_oldest", "3 marked layers, the oldest denies",
             ("fs.make_dir",) * 3 + ("fs.read_file",), _steps(_nested([True, False, False]))),
    Scenario("nested_both", "2 marked layers deny different rights, O_RDWR",
             ("fs.make_dir",) * 2 + ("fs.read_file",), _steps(_nested_both)),
    Scenario("hex_paths", "paths with a space, ESC, newline, bytes ff fe, a double quote",
             ("fs.read_file",) * len(HEX_NAMES), _steps(_hex_paths)),
    Scenario("repeated", "the same denial three times", ("fs.read_file",) * 3,
             _steps(_repeated(3))),
    Scenario("exec_log_new_exec_on", "an execve'd python3 child, LOG_NEW_EXEC_ON",
             ("fs.write_file",), _steps(_exec_log_new_exec_on)),
]

BY_NAME: Dict[str, Scenario] = {scenario.name: scenario for scenario in SCENARIOS}


def burst(count: int) -> Scenario:
    """``count`` identical denials as fast as possible (rate limits, rotation)."""
    return Scenario(f"burst_{count}", f"{count} identical read denials",
                    ("fs.read_file",) * count, _steps(_repeated(count)))


def run_scenario(scenario: Scenario, root: Path, pace: float = 0.0) -> dict:
    """Run ``scenario`` in a fresh directory under ``root``; return the
    child's report with the scenario's name and any unexpected outcome."""
    directory = root / scenario.name
    directory.mkdir()
    result = scenario.run(directory, pace)
    report = {"scenario": scenario.name, **result}
    outcomes = result.get("value", {}).get("outcomes", [])
    report["unexpected"] = [o for o in outcomes if o["outcome"] != o["expect"]]
    if not result.get("ok"):
        report["unexpected"].append({"error": result.get("error")})
    return report
