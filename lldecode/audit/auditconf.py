"""The system's audit log: where auditd writes it (``auditd.conf``'s
``log_file``) and its rotated files, oldest first.

Read by the reading commands when they are given no FILE and standard input
is a terminal (as ausearch and aureport read the system log by default), and
by ``lldecode doctor``.
"""

from __future__ import annotations

import os
import re
from typing import List, NamedTuple, Optional

from lldecode.audit.sources import order_rotated

AUDITD_CONF = "/etc/audit/auditd.conf"
# auditd's default when its configuration names no log_file.
DEFAULT_LOG_FILE = "/var/log/audit/audit.log"

_SETTING_RE = re.compile(r"^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$")


def read_conf(path: str = AUDITD_CONF) -> Optional[dict[str, str]]:
    """auditd.conf's settings (keys in lower case), None if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        return None
    settings: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = _SETTING_RE.match(line)
        if m:
            settings[m.group(1).lower()] = m.group(2)
    return settings


class SystemLog(NamedTuple):
    """The system's audit log: its file, the files of its rotated set that
    exist (oldest first, the live file last), and why none can be read."""

    log_file: str
    files: List[str]
    problem: Optional[str]


def system_log(conf: Optional[str] = None) -> SystemLog:
    """Where the system's audit log is, and which of its files exist
    (``conf``: auditd's configuration; default: $LLDECODE_AUDITD_CONF, else
    /etc/audit/auditd.conf)."""
    if conf is None:
        conf = os.environ.get("LLDECODE_AUDITD_CONF") or AUDITD_CONF
    settings = read_conf(conf) or {}
    log_file = settings.get("log_file") or DEFAULT_LOG_FILE
    directory = os.path.dirname(log_file) or "."
    base = os.path.basename(log_file)
    try:
        names = os.listdir(directory)
    except OSError as exc:
        return SystemLog(log_file, [], f"{directory}: {exc.strerror or exc}")
    files = [os.path.join(directory, n) for n in names
             if n == base or n.startswith(base + ".") or n.startswith(base + "-")]
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        return SystemLog(log_file, [], f"{log_file}: No such file or directory")
    return SystemLog(log_file, order_rotated(files), None)
