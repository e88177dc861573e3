"""Enforce a policy for real: the Landlock system calls, with ctypes.

:func:`plan` fits a loaded policy (:func:`lldecode.landlock.policy.load_policy`)
to the running kernel's Landlock ABI, best effort: each right, scope or
logging flag the kernel lacks is left out with a warning naming it, the
layer and the ABI that brought it (so the sandbox is weaker than the policy
asks, never silently).  :func:`build` makes one ruleset per layer
(``landlock_create_ruleset``, ``landlock_add_rule``), in the calling
process, which stays unrestricted; :func:`spawn` forks, and in the child,
between fork and exec, sets no_new_privs and calls
``landlock_restrict_self`` once per layer, oldest first, with the audit
flags, then executes the command.

Nothing here reads the audit log (that is :mod:`lldecode.analysis.live_run`).

    >>> from lldecode.landlock.policy import parse_layer, Policy
    >>> layer = parse_layer('[[ruleset]]\\nhandled_access_fs = ["read_file", "truncate"]',
    ...                     "p.toml")
    >>> fitted = plan(Policy((layer,)), abi=2)
    >>> fitted.layers[0].handled_fs == 4
    True
    >>> print(fitted.warnings[0])
    p.toml (layer 1): the kernel's Landlock ABI 2 lacks fs.truncate (ABI 3): not enforced
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from lldecode.landlock.access import all_mask, mask_to_names, right, rights_of
from lldecode.landlock.policy import Policy

# The Landlock system calls share one number on the architectures of the
# kernel's unified syscall table (x86_64, i386, arm, aarch64, riscv, ppc,
# s390, loongarch): landlock_create_ruleset, landlock_add_rule,
# landlock_restrict_self.
_UNIFIED = (444, 445, 446)
SYSCALL_NUMBERS: Dict[str, Tuple[int, int, int]] = {
    machine: _UNIFIED for machine in (
        "x86_64", "i386", "i686", "aarch64", "arm64", "armv7l", "armv8l", "riscv64",
        "ppc64", "ppc64le", "s390x", "loongarch64")}

# landlock_create_ruleset() flags.
CREATE_RULESET_VERSION = 1 << 0
# landlock_add_rule() rule types.
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
# landlock_restrict_self() flags (Landlock ABI 7).
LOG_SAME_EXEC_OFF = 1 << 0
LOG_NEW_EXEC_ON = 1 << 1
LOG_SUBDOMAINS_OFF = 1 << 2
# The ABI that brought the logging flags, the network rights, the scopes.
AUDIT_ABI = 7
NET_ABI = 4
SCOPE_ABI = 6
REFER_ABI = 2
# prctl(PR_SET_NO_NEW_PRIVS, 1): needed to restrict oneself without CAP_SYS_ADMIN.
PR_SET_NO_NEW_PRIVS = 38
# What the child exits with when it cannot execute the command (as shells do).
EXIT_NOT_FOUND, EXIT_CANNOT_RUN = 127, 126

# The rights a path_beneath rule on something other than a directory may allow.
FILE_RIGHTS = sum(r.mask for r in rights_of("fs") if r.applies_to == "file")


class EnforceError(OSError):
    """Landlock cannot be used here, or a ruleset cannot be built; the
    message says why (and ``errno`` is the system call's)."""


@dataclass(frozen=True)
class FittedLayer:
    """One layer as it is enforced: the policy's, minus what the kernel lacks."""

    source: str
    handled_fs: int
    handled_net: int
    scoped: int
    path_rules: Tuple[Tuple[str, int], ...]
    port_rules: Tuple[Tuple[int, int], ...]


@dataclass(frozen=True)
class Plan:
    """The layers to enforce on the running kernel, the restrict flags, and
    a warning for everything of the policy left out."""

    abi: int
    layers: Tuple[FittedLayer, ...]
    flags: int
    warnings: Tuple[str, ...]

    @property
    def logs_denials(self) -> bool:
        """Will the kernel log the command's denials (after its execve)?"""
        return self.abi >= AUDIT_ABI and bool(self.flags & LOG_NEW_EXEC_ON)


# -- the system calls ------------------------------------------------------------

_libc: Optional[ctypes.CDLL] = None


def _lib() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct landlock_path_beneath_attr is packed
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _numbers() -> Tuple[int, int, int]:
    machine = platform.machine()
    if platform.system() != "Linux":
        raise EnforceError(errno.ENOSYS, "Landlock is a Linux feature")
    numbers = SYSCALL_NUMBERS.get(machine)
    if numbers is None:
        raise EnforceError(errno.ENOSYS, f"no Landlock system call numbers known for {machine}")
    return numbers


def _call(number: int, *args: object) -> int:
    result = int(_lib().syscall(number, *args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def kernel_abi() -> int:
    """The running kernel's Landlock ABI version (EnforceError, saying why,
    when Landlock cannot be used)."""
    create, _, _ = _numbers()
    try:
        return _call(create, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    except OSError as exc:
        why = {errno.ENOSYS: "the kernel has no Landlock support (CONFIG_SECURITY_LANDLOCK)",
               errno.EOPNOTSUPP: "Landlock is built in but not enabled (add landlock to the "
                                 "lsm= boot parameter)"}.get(exc.errno or 0, exc.strerror)
        raise EnforceError(exc.errno or errno.ENOSYS, f"Landlock unavailable: {why}") from None


# -- fitting a policy to the kernel -------------------------------------------------

def restrict_flags(log_new_exec: bool = True, log_same_exec: bool = True,
                   log_subdomains: bool = True) -> int:
    """The landlock_restrict_self() audit flags for these choices."""
    return ((LOG_NEW_EXEC_ON if log_new_exec else 0)
            | (0 if log_same_exec else LOG_SAME_EXEC_OFF)
            | (0 if log_subdomains else LOG_SUBDOMAINS_OFF))


def _lacking(kind: str, mask: int, abi: int) -> List[str]:
    """The rights of ``mask`` the ABI lacks, each with the ABI that brought it."""
    lacking = []
    for name in mask_to_names(kind, mask & ~all_mask(kind, abi)):
        found = right(name)
        lacking.append(f"{name} (ABI {found.abi})" if found is not None else name)
    return lacking


def plan(policy: Policy, abi: int, flags: int = LOG_NEW_EXEC_ON) -> Plan:
    """Fit ``policy`` to Landlock ABI ``abi`` (best effort; see :class:`Plan`).

    A right the ABI lacks is left out of the layer's handled rights and of
    its rules; a layer left handling nothing is skipped (the kernel refuses
    it); the logging flags need ABI 7.  Every omission is a warning.
    """
    warnings: List[str] = []
    fitted: List[FittedLayer] = []
    for index, layer in enumerate(policy.layers):
        name = f"{layer.source} (layer {index + 1})"
        fs_known, net_known = all_mask("fs", abi), all_mask("net", abi)
        scope_known = all_mask("scope", abi)
        for kind, mask in (("fs", layer.handled_fs), ("net", layer.handled_net),
                           ("scope", layer.scoped)):
            for lacking in _lacking(kind, mask, abi):
                warnings.append(f"{name}: the kernel's Landlock ABI {abi} lacks {lacking}: "
                                "not enforced")
        handled_fs = layer.handled_fs & fs_known
        if handled_fs and abi < REFER_ABI:
            warnings.append(f"{name}: the kernel's Landlock ABI {abi} has no fs.refer: it "
                            "denies every rename and link across directories")
        fitted_layer = FittedLayer(
            layer.source, handled_fs, layer.handled_net & net_known, layer.scoped & scope_known,
            tuple((path, allowed & handled_fs) for path, allowed in layer.path_rules.items()
                  if allowed & handled_fs),
            tuple((port, allowed & layer.handled_net & net_known)
                  for port, allowed in layer.port_rules.items()
                  if allowed & layer.handled_net & net_known))
        if not (fitted_layer.handled_fs or fitted_layer.handled_net or fitted_layer.scoped):
            warnings.append(f"{name}: the kernel's Landlock ABI {abi} supports none of the "
                            "rights it handles: layer skipped")
            continue
        fitted.append(fitted_layer)
    if abi < AUDIT_ABI:
        if flags:
            warnings.append(f"the kernel's Landlock ABI {abi} has no audit logging (ABI 7): "
                            "no denial is logged")
        flags = 0
    return Plan(abi, tuple(fitted), flags, tuple(warnings))


# -- rulesets -------------------------------------------------------------------------

class Rulesets:
    """The ruleset file descriptors of a plan, one per layer, oldest first
    (built by :func:`build`; close them when done)."""

    def __init__(self, fds: List[int], warnings: List[str]) -> None:
        self.fds = fds
        self.warnings = warnings

    def close(self) -> None:
        """Close every ruleset descriptor (the parent's copies)."""
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    def __enter__(self) -> "Rulesets":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build(fitted: Plan) -> Rulesets:
    """Create one ruleset per layer of the plan and add its rules, in this
    process (which stays unrestricted).

    A rule path that cannot be opened is left out with a warning (the
    sandbox is stricter for it, not weaker); rights only a directory can be
    granted are left out, with a warning, of a rule on something else (the
    kernel refuses such a rule).  EnforceError when the kernel refuses a
    ruleset or a rule.
    """
    create, add_rule, _ = _numbers()
    fds: List[int] = []
    warnings: List[str] = []
    try:
        for index, layer in enumerate(fitted.layers):
            name = f"{layer.source} (layer {index + 1})"
            attr = _RulesetAttr(layer.handled_fs, layer.handled_net, layer.scoped)
            size = ctypes.sizeof(attr) if fitted.abi >= SCOPE_ABI else 16  # no scoped before 6
            try:
                fd = _call(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
            except OSError as exc:
                raise EnforceError(exc.errno or 0, f"{name}: landlock_create_ruleset: "
                                   f"{exc.strerror}") from None
            fds.append(fd)
            for path, allowed in layer.path_rules:
                _add_path_rule(add_rule, fd, name, path, allowed, warnings)
            for port, allowed in layer.port_rules:
                rule = _NetPortAttr(allowed, port)
                try:
                    _call(add_rule, fd, ctypes.c_int(RULE_NET_PORT), ctypes.byref(rule),
                          ctypes.c_uint32(0))
                except OSError as exc:
                    raise EnforceError(exc.errno or 0, f"{name}: the rule on port {port}: "
                                       f"{exc.strerror}") from None
    except BaseException:
        Rulesets(fds, warnings).close()
        raise
    return Rulesets(fds, warnings)


def _add_path_rule(add_rule: int, ruleset: int, name: str, path: str, allowed: int,
                   warnings: List[str]) -> None:
    try:
        parent = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        warnings.append(f"{name}: rule on {path!r} left out: {exc.strerror} (the sandbox "
                        "denies what it would allow)")
        return
    try:
        if not stat.S_ISDIR(os.fstat(parent).st_mode) and allowed & ~FILE_RIGHTS:
            dropped = ", ".join(mask_to_names("fs", allowed & ~FILE_RIGHTS))
            warnings.append(f"{name}: {path!r} is not a directory: {dropped} left out of its "
                            "rule (only a directory can be granted them)")
            allowed &= FILE_RIGHTS
            if not allowed:
                return
        rule = _PathBeneathAttr(allowed, parent)
        try:
            _call(add_rule, ruleset, ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                  ctypes.c_uint32(0))
        except OSError as exc:
            raise EnforceError(exc.errno or 0, f"{name}: the rule on {path!r}: "
                               f"{exc.strerror}") from None
    finally:
        os.close(parent)


def restrict_self(rulesets: Sequence[int], flags: int) -> None:
    """Set no_new_privs and enforce each ruleset on the calling thread,
    oldest first: irreversible (call it in a child process only)."""
    _, _, restrict = _numbers()
    if int(_lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")
    for fd in rulesets:
        _call(restrict, fd, ctypes.c_uint32(flags))


# -- running a command under a plan ----------------------------------------------------

@dataclass
class Child:
    """A command started by :func:`spawn`: its pid, and why it could not
    start (``failure``, None when it did: see :meth:`wait_started`)."""

    pid: int
    argv: Tuple[str, ...]
    _report: int
    failure: Optional[str] = None
    status: Optional[int] = None

    def wait_started(self) -> Optional[str]:
        """Block until the command is executing or has failed to; the
        failure (None: it runs).  The child reports through a close-on-exec
        pipe: end of file without a word means execve succeeded."""
        if self._report < 0:
            return self.failure
        chunks = []
        while True:
            try:
                chunk = os.read(self._report, 4096)
            except InterruptedError:  # pragma: no cover - retried by Python
                continue
            if not chunk:
                break
            chunks.append(chunk)
        os.close(self._report)
        self._report = -1
        if chunks:
            self.failure = b"".join(chunks).decode("utf-8", "replace")
        return self.failure

    def poll(self) -> Optional[int]:
        """The exit status once the command has ended (None while it runs);
        a signal's death is 128 + its number, as shells say."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = _exit_status(status)
        return self.status

    def wait(self) -> int:
        """Wait for the command to end; its exit status (see :meth:`poll`)."""
        while self.status is None:
            try:
                _, status = os.waitpid(self.pid, 0)
            except ChildProcessError:  # pragma: no cover - reaped elsewhere
                self.status = EXIT_CANNOT_RUN
                break
            self.status = _exit_status(status)
        return self.status


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def spawn(argv: Sequence[str], rulesets: Rulesets, flags: int,
          before_exec: Optional[Callable[[], None]] = None) -> Child:
    """Start ``argv`` sandboxed: fork; in the child, no_new_privs, then each
    ruleset enforced with ``flags``, then execve.  The executable is looked
    up in PATH here, before the sandbox (the lookup itself would be denied
    otherwise); the command keeps this process's standard streams and
    environment.  The parent's ruleset descriptors stay open (close them).
    """
    if not argv:
        raise ValueError("no command to run")
    executable = _which(argv[0])
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:  # the child: nothing but system calls, then exec or _exit
        code = EXIT_CANNOT_RUN
        try:
            os.close(read_end)
            if before_exec is not None:
                before_exec()
            try:
                restrict_self(rulesets.fds, flags)
            except OSError as exc:
                os.write(write_end, f"cannot enforce the policy: {exc.strerror}".encode())
                os._exit(code)
            for fd in rulesets.fds:
                os.close(fd)
            if executable is None:
                code = EXIT_NOT_FOUND
                os.write(write_end, f"{argv[0]}: command not found".encode())
                os._exit(code)
            os.execv(executable, list(argv))
        except OSError as exc:
            code = EXIT_NOT_FOUND if exc.errno == errno.ENOENT else EXIT_CANNOT_RUN
            try:
                os.write(write_end, f"{argv[0]}: {exc.strerror}".encode("utf-8", "replace"))
            finally:
                os._exit(code)
        except BaseException:  # noqa: BLE001 - never return into the parent's code
            os._exit(code)
        os._exit(code)  # pragma: no cover - execv does not return
    os.close(write_end)
    return Child(pid, tuple(argv), read_end)


def _which(command: str) -> Optional[str]:
    """The executable a command names: itself when it holds a slash, else
    the first executable file of that name in PATH (as execvp looks)."""
    if "/" in command:
        return command
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
