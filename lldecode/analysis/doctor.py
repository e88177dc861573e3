"""``lldecode doctor``: would this host log Landlock denials, and could
they be read?  Each cause of an empty log is checked, with the fix.

Every probe of the host goes through :class:`Host`, whose parts can be
replaced (a fake root directory for /proc, /sys and /etc, fake netlink
answers, a fake rule list): the checks are tested without the machine, and
on the machine as root by tests/kernel/test_doctor.py.

A check's status is ``ok``, ``warning`` (denials are logged, but some may
be missed or misread), ``problem`` (denials would not be logged, or not be
readable) or ``unknown`` (this user cannot check it: the reason says what
is needed).  :func:`healthy`: no problem.
"""

from __future__ import annotations

import errno
import glob
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

OK, WARNING, PROBLEM, UNKNOWN = "ok", "warning", "problem", "unknown"

# Landlock's audit records came with Linux 6.15 (Landlock ABI 7).
AUDIT_KERNEL = (6, 15)
AUDIT_ABI = 7
LANDLOCK_TYPES = ("1423", "1424", "LANDLOCK_ACCESS", "LANDLOCK_DOMAIN")
# How long a test denial's record is waited for (seconds).
PROBE_WAIT = 1.0
# A backlog limit below this fills in a burst of denials.
SMALL_BACKLOG = 1024


class Check:
    """One cause checked: its name, status, what was found, and the fix."""

    __slots__ = ("name", "title", "status", "detail", "fix")

    def __init__(self, name: str, title: str, status: str, detail: str,
                 fix: Optional[str] = None):
        self.name = name
        self.title = title
        self.status = status
        self.detail = detail
        self.fix = fix

    def to_dict(self) -> Dict[str, Any]:
        return {"check": self.name, "title": self.title, "status": self.status,
                "detail": self.detail, "fix": self.fix}

    def __repr__(self) -> str:
        return f"Check({self.name}, {self.status}, {self.detail!r})"


class Unavailable(Exception):
    """A probe this user or host cannot make: the message says why."""


def _output(argv: Sequence[str]) -> Optional[str]:
    """A command's standard output, whatever its exit status (``systemctl
    is-active`` says "inactive" with status 3); None if it cannot run."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode("utf-8", "replace") or None


def _run(argv: Sequence[str]) -> Optional[str]:
    """A command's standard output (None if it cannot run or fails)."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")


class Host:
    """The probes of this host.  ``root``: where /proc, /sys, /etc, /boot
    and the libraries are (a fake tree in tests); the other arguments
    replace a probe (each a callable, see the methods)."""

    def __init__(self, root: str = "/", audit_status: Optional[Callable[[], Dict[str, int]]] = None,
                 audit_rules: Optional[Callable[[], Optional[List[str]]]] = None,
                 landlock_abi: Optional[Callable[[], int]] = None,
                 release: Optional[str] = None, euid: Optional[int] = None,
                 probe: Optional[Callable[[bool], Optional[bool]]] = None,
                 readable: Optional[Callable[[str], bool]] = None,
                 run: Optional[Callable[[Sequence[str]], Optional[str]]] = None):
        self.root = root
        # a command's output (None: it cannot run or failed): systemctl here
        self.run = run or _output
        self.readable = readable or (lambda path: os.access(path, os.R_OK))
        self._audit_status = audit_status
        self._audit_rules = audit_rules
        self._landlock_abi = landlock_abi
        self._release = release
        self.euid = os.geteuid() if euid is None else euid
        self._probe = probe
        self._status_cache: Optional[Tuple[Optional[Dict[str, int]], Optional[str]]] = None

    def path(self, name: str) -> str:
        return os.path.join(self.root, name.lstrip("/"))

    def read(self, name: str, limit: int = 1 << 20) -> Optional[str]:
        try:
            with open(self.path(name), "rb") as f:
                return f.read(limit).decode("utf-8", "replace")
        except OSError:
            return None

    def release(self) -> str:
        return self._release if self._release is not None else os.uname().release

    def processes(self) -> Dict[str, int]:
        """comm -> a pid, of the processes running."""
        found: Dict[str, int] = {}
        try:
            entries = os.listdir(self.path("/proc"))
        except OSError:
            return found
        for entry in entries:
            if entry.isdigit():
                comm = self.read(f"/proc/{entry}/comm", 64)
                if comm:
                    found.setdefault(comm.strip(), int(entry))
        return found

    def audit_status(self) -> Tuple[Optional[Dict[str, int]], Optional[str]]:
        """(the kernel's audit status, None) or (None, why it cannot be read)."""
        if self._status_cache is None:
            try:
                if self._audit_status is not None:
                    status = self._audit_status()
                else:
                    from lldecode.audit.netlink import AuditControl

                    with AuditControl() as control:
                        status = {k: int(v) for k, v in control.status().items()}  # type: ignore[call-overload]
                self._status_cache = (status, None)
            except (OSError, Unavailable) as exc:
                code = getattr(exc, "errno", None)
                if code in (errno.EPERM, errno.EACCES):
                    why = "reading the audit status needs root (CAP_AUDIT_CONTROL)"
                elif code == errno.EPROTONOSUPPORT:
                    why = "the kernel has no audit support (CONFIG_AUDIT)"
                else:
                    why = f"the audit status cannot be read: {exc}"
                self._status_cache = (None, why)
        return self._status_cache

    def audit_rules(self) -> Optional[List[str]]:
        """The audit rules (``auditctl -l``), None if they cannot be listed."""
        if self._audit_rules is not None:
            return self._audit_rules()
        if self.euid != 0:
            return None
        out = _run(["auditctl", "-l"])
        return None if out is None else out.splitlines()

    def landlock_abi(self) -> int:
        """The Landlock ABI (OSError when Landlock is missing)."""
        if self._landlock_abi is not None:
            return self._landlock_abi()
        from lldecode.landlock.probe import abi

        return abi()

    def probe(self, after_exec: bool) -> Optional[bool]:
        """Was a test denial made now logged (None: it could not be tried)?"""
        if self._probe is not None:
            return self._probe(after_exec)
        if self.euid != 0:
            return None
        return _probe_denial(after_exec)


def _probe_denial(after_exec: bool, flags: int = 0) -> Optional[bool]:
    """Make a denial in a sandboxed child (restricted with these
    landlock_restrict_self ``flags``) and watch the audit multicast group
    for its record (root only)."""
    from lldecode.audit.netlink import AuditMulticast
    from lldecode.landlock.probe import deny_mkdir

    directory = tempfile.mkdtemp(prefix="lldecode-doctor-")
    target = os.path.join(directory, "after-exec" if after_exec else "same-exec")
    try:
        with AuditMulticast() as group:
            if deny_mkdir(target, after_exec=after_exec, flags=flags) is None:
                return None
            # (make_dir is checked on the directory the new one would be in)
            logged = f'path="{directory}"'
            deadline = time.monotonic() + PROBE_WAIT
            for rtype, payload in group.messages(timeout=PROBE_WAIT):
                if rtype == 1423 and logged in payload:
                    return True
                if time.monotonic() > deadline:
                    break
            return False
    except OSError:
        return None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# -- the checks ---------------------------------------------------------------------

def _version(release: str) -> Optional[Tuple[int, int]]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else None


def check_kernel(host: Host) -> Check:
    release = host.release()
    version = _version(release)
    title = "kernel version"
    if version is None:
        return Check("kernel", title, UNKNOWN, f"cannot read the version of {release!r}")
    if version < AUDIT_KERNEL:
        return Check("kernel", title, PROBLEM,
                     f"Linux {release}: Landlock writes audit records since Linux 6.15",
                     "boot a kernel 6.15 or later")
    return Check("kernel", title, OK, f"Linux {release} (Landlock audit records since 6.15)")


def _kernel_config(host: Host) -> Optional[str]:
    raw = None
    try:
        with open(host.path("/proc/config.gz"), "rb") as f:
            raw = gzip.decompress(f.read(16 << 20)).decode("utf-8", "replace")
    except (OSError, EOFError, ValueError):
        raw = host.read(f"/boot/config-{host.release()}", 16 << 20)
    return raw


def check_config_audit(host: Host) -> Check:
    title = "kernel audit support (CONFIG_AUDIT)"
    config = _kernel_config(host)
    if config is not None:
        if re.search(r"^CONFIG_AUDIT=y", config, re.M):
            return Check("config_audit", title, OK, "CONFIG_AUDIT=y")
        return Check("config_audit", title, PROBLEM, "this kernel is built without CONFIG_AUDIT",
                     "boot a kernel built with CONFIG_AUDIT=y")
    status, _ = host.audit_status()
    if status is not None or os.path.exists(host.path("/proc/self/loginuid")):
        return Check("config_audit", title, OK, "the kernel answers audit requests"
                     if status is not None else "the kernel has audit (/proc/self/loginuid)")
    return Check("config_audit", title, UNKNOWN,
                 "no kernel configuration to read, and no audit answer")


def check_landlock(host: Host) -> Check:
    title = "Landlock and its ABI"
    try:
        abi = host.landlock_abi()
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            return Check("landlock", title, PROBLEM, "Landlock is built in but not enabled",
                         "add landlock to the lsm= boot parameter (see "
                         "/sys/kernel/security/lsm)")
        if exc.errno == errno.ENOSYS:
            return Check("landlock", title, PROBLEM, "the kernel has no Landlock",
                         "boot a kernel built with CONFIG_SECURITY_LANDLOCK=y")
        return Check("landlock", title, UNKNOWN, f"cannot ask the kernel: {exc}")
    if abi < AUDIT_ABI:
        return Check("landlock", title, PROBLEM,
                     f"Landlock ABI {abi}: audit records need ABI {AUDIT_ABI} (Linux 6.15)",
                     "boot a kernel 6.15 or later")
    return Check("landlock", title, OK, f"Landlock ABI {abi} (audit records since ABI 7)")


def check_audit_enabled(host: Host) -> Check:
    title = "audit enabled"
    cmdline = host.read("/proc/cmdline") or ""
    status, why = host.audit_status()
    if status is None:
        if re.search(r"(^|\s)audit=0(\s|$)", cmdline):
            return Check("audit_enabled", title, PROBLEM,
                         "audit is off from boot (audit=0 on the kernel command line)",
                         "remove audit=0 from the kernel command line and reboot")
        return Check("audit_enabled", title, UNKNOWN, why or "", "run lldecode doctor as root")
    enabled = status.get("enabled", 0)
    if enabled == 0:
        return Check("audit_enabled", title, PROBLEM,
                     "the kernel's audit is off (enabled 0): no record is made",
                     "auditctl -e 1 (and -e 1 in /etc/audit/rules.d/ to keep it)")
    return Check("audit_enabled", title, OK,
                 "enabled" + (" and locked (enabled 2)" if enabled == 2 else ""))


def check_collector(host: Host) -> Check:
    title = "who receives the records"
    status, _ = host.audit_status()
    procs = host.processes()
    pid = status.get("pid") if status else None
    if pid:
        return Check("collector", title, OK, f"an audit daemon (pid {pid}) receives them")
    if "auditd" in procs:
        if status is None:
            return Check("collector", title, OK, f"auditd runs (pid {procs['auditd']})")
        return Check("collector", title, PROBLEM,
                     f"auditd runs (pid {procs['auditd']}) but is not registered with the "
                     "kernel: it writes nothing", "systemctl restart auditd")
    if "systemd-journal" in procs:
        state = host.run(["systemctl", "is-active", "systemd-journald-audit.socket"])
        if state is not None and state.strip() == "active":
            return Check("collector", title, OK,
                         "no audit daemon; journald's audit socket receives them (read them "
                         "with journalctl _TRANSPORT=audit -o json | lldecode ...)")
        if state is None:
            return Check("collector", title, WARNING,
                         "no audit daemon: journald gets the records only if its audit socket "
                         "is on (systemctl cannot tell here), else they go to the kernel "
                         "console (dmesg), rate limited",
                         "systemctl enable --now systemd-journald-audit.socket, or install "
                         "and start auditd")
        return Check("collector", title, PROBLEM,
                     "no audit daemon, and journald's audit socket is off: records go only "
                     "to the kernel console (dmesg), rate limited and soon overwritten",
                     "systemctl enable --now systemd-journald-audit.socket, or install and "
                     "start auditd")
    return Check("collector", title, PROBLEM,
                 "no audit daemon and no journald: records go only to the kernel console "
                 "(dmesg), rate limited and soon overwritten",
                 "install and start auditd (apt install auditd, or dnf install audit; "
                 "systemctl enable --now auditd); meanwhile: lldecode explain netlink:")


def check_exclude_rules(host: Host) -> Check:
    title = "audit exclude rules"
    rules = host.audit_rules()
    if rules is None:
        return Check("exclude_rules", title, UNKNOWN,
                     "listing the audit rules needs root and auditctl",
                     "run lldecode doctor as root")
    excluding = [r for r in rules if "exclude" in r and (
        any(t in r for t in LANDLOCK_TYPES) or "msgtype" not in r)]
    if excluding:
        fixes = "; ".join("auditctl " + re.sub(r"^-a\b", "-d", r.strip()) for r in excluding)
        return Check("exclude_rules", title, PROBLEM,
                     "a rule drops Landlock's records: " + "; ".join(excluding), fixes)
    return Check("exclude_rules", title, OK, "no rule excludes types 1423 and 1424")


def check_rate_limit(host: Host) -> Check:
    title = "audit rate limit"
    status, why = host.audit_status()
    if status is None:
        return Check("rate_limit", title, UNKNOWN, why or "", "run lldecode doctor as root")
    limit = status.get("rate_limit", 0)
    if limit:
        return Check("rate_limit", title, WARNING,
                     f"at most {limit} records a second: more are dropped",
                     "auditctl -r 0")
    return Check("rate_limit", title, OK, "no rate limit")


def check_backlog(host: Host) -> Check:
    title = "audit backlog and lost records"
    status, why = host.audit_status()
    if status is None:
        return Check("backlog", title, UNKNOWN, why or "", "run lldecode doctor as root")
    lost, limit = status.get("lost", 0), status.get("backlog_limit", 0)
    if lost:
        return Check("backlog", title, WARNING,
                     f"the kernel lost {lost} records since boot (its backlog of {limit} "
                     "was full)", f"auditctl -b {max(8192, 4 * limit)}")
    if limit and limit < SMALL_BACKLOG:
        return Check("backlog", title, WARNING,
                     f"a backlog of {limit} records fills in a burst of denials",
                     "auditctl -b 8192")
    return Check("backlog", title, OK, f"no record lost (backlog limit {limit})")


def check_printk(host: Host, collector: Check) -> Check:
    title = "kernel console rate limit"
    if collector.status == OK:
        return Check("printk_ratelimit", title, OK,
                     "not in the way: the audit daemon gets the records")
    text = host.read("/proc/sys/kernel/printk_ratelimit")
    burst = host.read("/proc/sys/kernel/printk_ratelimit_burst")
    if text is None:
        return Check("printk_ratelimit", title, UNKNOWN, "cannot read "
                     "/proc/sys/kernel/printk_ratelimit")
    if text.strip() != "0":
        return Check("printk_ratelimit", title, WARNING,
                     f"without an audit daemon, records go to the console, which prints at "
                     f"most {(burst or '?').strip()} messages every {text.strip()} s "
                     "(\"kauditd_printk_skb: N callbacks suppressed\")",
                     "sysctl -w kernel.printk_ratelimit=0, or start auditd")
    return Check("printk_ratelimit", title, OK, "the console is not rate limited")


def _libaudit(host: Host) -> List[str]:
    patterns = ["/usr/lib*/libaudit.so*", "/usr/lib/*/libaudit.so*", "/lib*/libaudit.so*",
                "/lib/*/libaudit.so*"]
    found: List[str] = []
    for pattern in patterns:
        for path in glob.glob(host.path(pattern)):
            if os.path.realpath(path) not in [os.path.realpath(p) for p in found]:
                found.append(path)
    return found


def check_type_names(host: Host) -> Check:
    title = "audit userspace names type 1423"
    libraries = _libaudit(host)
    if not libraries:
        return Check("type_names", title, OK, "no audit userspace (libaudit) installed")
    for library in libraries:
        try:
            with open(library, "rb") as f:
                if b"LANDLOCK_ACCESS" in f.read(8 << 20):
                    return Check("type_names", title, OK,
                                 f"{os.path.basename(library)} names LANDLOCK_ACCESS")
        except OSError:
            continue
    return Check("type_names", title, WARNING,
                 "this audit userspace (libaudit) does not know Landlock's types: auditd "
                 "and ausearch show UNKNOWN[1423] and UNKNOWN[1424] (lldecode reads them; "
                 "ausearch -m LANDLOCK_ACCESS does not: use ausearch -m 1423)",
                 "upgrade the audit package (4.2.2 or later names LANDLOCK_ACCESS)")


def check_log_file(host: Host, collector: Check) -> Check:
    from lldecode.audit.auditconf import system_log

    title = "audit log readable"
    conf = os.environ.get("LLDECODE_AUDITD_CONF") if host.root == "/" else None
    found = system_log(conf or host.path("/etc/audit/auditd.conf"))
    if found.problem is not None or not found.files:
        if collector.status != OK:
            return Check("log_file", title, WARNING,
                         f"no audit log ({found.problem}): read the records from dmesg, "
                         "journalctl or netlink:", "start auditd")
        return Check("log_file", title, PROBLEM, f"no audit log: {found.problem}",
                     "check log_file in /etc/audit/auditd.conf")
    unreadable = [f for f in found.files if not host.readable(f)]
    if unreadable:
        return Check("log_file", title, PROBLEM,
                     f"{unreadable[-1]} cannot be read by this user",
                     "run as root, or set log_group in /etc/audit/auditd.conf to a group "
                     "you are in (then service auditd restart)")
    return Check("log_file", title, OK, f"{found.files[-1]} is readable "
                 f"({len(found.files)} files)")


def check_probe(host: Host) -> Check:
    title = "a test denial is logged"
    logged = host.probe(False)
    if logged is None:
        return Check("test_denial", title, UNKNOWN,
                     "making a test denial and reading its record needs root "
                     "(CAP_AUDIT_READ) and Landlock", "run lldecode doctor as root")
    if logged:
        return Check("test_denial", title, OK, "a denial made now was logged")
    return Check("test_denial", title, PROBLEM, "a denial made now was not logged "
                 "(see the problems above)")


def check_exec_logging(host: Host, same_exec: Optional[Check] = None) -> Check:
    title = "denials after execve"
    # (meaningful only when a denial before execve is logged)
    logged = host.probe(True) if same_exec is not None and same_exec.status == OK else None
    note = ("Landlock logs no denial of a sandboxed program after it executes another "
            "unless the sandbox asked for it (LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON); "
            "LOG_SAME_EXEC_OFF and LOG_SUBDOMAINS_OFF silence more (the kernel still counts "
            "them in the domain's deallocation record)")
    fix = ("call landlock_restrict_self() with LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON "
           "(lldecode run does)")
    if logged is None:
        return Check("exec_logging", title, WARNING, note, fix)
    if logged:
        return Check("exec_logging", title, OK, "a denial after execve was logged")
    return Check("exec_logging", title, WARNING,
                 "a test denial after execve was not logged (Landlock's default): " + note, fix)


def diagnose(host: Optional[Host] = None, probe: bool = True) -> List[Check]:
    """Every check, in the order of the path a record takes."""
    host = host if host is not None else Host()
    checks = [check_kernel(host), check_config_audit(host), check_landlock(host),
              check_audit_enabled(host), check_exclude_rules(host), check_rate_limit(host),
              check_backlog(host)]
    collector = check_collector(host)
    checks += [collector, check_printk(host, collector), check_type_names(host),
               check_log_file(host, collector)]
    if probe:
        same_exec = check_probe(host)
        checks += [same_exec, check_exec_logging(host, same_exec)]
    else:
        checks.append(check_exec_logging(host))
    return checks


def healthy(checks: Sequence[Check]) -> bool:
    """Would denials be logged and readable (no problem found)?"""
    return not any(c.status == PROBLEM for c in checks)
