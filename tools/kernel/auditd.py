"""A private, short-lived auditd and syscall audit rules, for captures.

The daemon gets its own configuration directory, log directory and (empty)
plugin directory under a scratch directory; it runs with ``-n`` (no fork,
so its pid is the child's pid) and ``-s nochange`` (it neither enables audit
at start nor disables it at exit).  It is stopped by its pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

from lldecode.audit.netlink import AuditControl

# System calls the scenarios' denials come from (x86_64 names).
SYSCALLS = (
    "open", "openat", "creat", "truncate", "ftruncate", "ioctl", "bind", "connect", "kill",
    "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", "mknod", "mknodat", "symlink",
    "symlinkat", "rename", "renameat", "renameat2", "link", "linkat", "ptrace", "execve",
)
RULE_KEY = "lldecode"


@dataclass(frozen=True)
class AuditdConfig:
    log_format: str = "RAW"
    name_format: str = "NONE"
    max_log_file: int = 8
    max_log_file_action: str = "IGNORE"
    num_logs: int = 0

    def render(self, log_file: Path, plugin_dir: Path) -> str:
        settings = {
            "local_events": "yes",
            "write_logs": "yes",
            "log_file": str(log_file),
            "log_group": "root",
            "log_format": self.log_format,
            "flush": "INCREMENTAL_ASYNC",
            "freq": "50",
            "max_log_file": str(self.max_log_file),
            "num_logs": str(self.num_logs),
            "priority_boost": "0",
            "name_format": self.name_format,
            "max_log_file_action": self.max_log_file_action,
            "space_left": "75",
            "space_left_action": "SYSLOG",
            "admin_space_left": "50",
            "admin_space_left_action": "SYSLOG",
            "disk_full_action": "SYSLOG",
            "disk_error_action": "SYSLOG",
            "use_libwrap": "no",
            "distribute_network": "no",
            "q_depth": "2000",
            "overflow_action": "SYSLOG",
            "max_restarts": "10",
            "plugin_dir": str(plugin_dir),
            "end_of_event_timeout": "2",
        }
        return "".join(f"{key} = {value}\n" for key, value in settings.items())


def audit_pid() -> int:
    """The pid of the process registered as the audit daemon (0: none)."""
    with AuditControl() as ctl:
        return ctl.status()["pid"]


class Auditd:
    """auditd running on its own files under ``root``."""

    def __init__(self, root: Path, config: AuditdConfig) -> None:
        self.config_dir = root / "etc"
        self.log_dir = root / "log"
        self.plugin_dir = root / "plugins.d"
        self.config = config
        self.proc: Optional[subprocess.Popen] = None

    @property
    def log_file(self) -> Path:
        return self.log_dir / "audit.log"

    def _write_config(self) -> None:
        for directory in (self.config_dir, self.log_dir, self.plugin_dir):
            directory.mkdir(mode=0o750, parents=True)
        conf = self.config_dir / "auditd.conf"
        conf.write_text(self.config.render(self.log_file, self.plugin_dir))
        conf.chmod(0o640)

    def start(self, timeout: float = 10.0) -> None:
        self._write_config()
        self.proc = subprocess.Popen(
            ["auditd", "-n", "-s", "nochange", "-c", str(self.config_dir)],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while audit_pid() != self.proc.pid:
            if self.proc.poll() is not None:
                raise RuntimeError(f"auditd exited with status {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("auditd did not register with the kernel")
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def logs(self) -> List[Path]:
        """audit.log, then audit.log.1, audit.log.2 ... (older and older)."""
        rotated = sorted(self.log_dir.glob("audit.log.*"), key=lambda p: int(p.suffix[1:]))
        return [self.log_file] + rotated


@contextmanager
def running_auditd(root: Path, config: AuditdConfig) -> Iterator[Auditd]:
    daemon = Auditd(root, config)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def _auditctl(*args: str) -> None:
    # By absolute path: a PATH search would add failed execve events to the log.
    path = shutil.which("auditctl") or "auditctl"
    subprocess.run([path, *args], check=True, stdout=subprocess.DEVNULL)


@contextmanager
def syscall_rule(ppid: int) -> Iterator[List[str]]:
    """An exit rule on failed SYSCALLS of ``ppid``'s children (the scenario
    children), so that denial events carry SYSCALL, CWD, PATH and PROCTITLE.
    Yields the rule's auditctl arguments; removes the rule afterwards."""
    rule = ["always,exit", "-F", "arch=b64", "-S", ",".join(SYSCALLS), "-F", "success=0",
            "-F", f"ppid={ppid}", "-k", RULE_KEY]
    _auditctl("-a", *rule)
    try:
        yield ["-a", *rule]
    finally:
        _auditctl("-d", *rule)
