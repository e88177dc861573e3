"""Points in time as users write them on the command line.

``--since``/``--until`` take epoch seconds (``1795734400`` or with
decimals), ISO 8601 (``2026-11-26``, ``2026-11-26T23:06:41``, with ``Z`` or
an offset; without one it is local time), a time of today (``23:06`` or
``23:06:41``), relative times before now (``10m``, ``2h``, ``3d``, ``1w``,
``90s``, also written ``1h ago``, ``2 days ago``), and the words of
ausearch: ``now``, ``recent`` (10 minutes ago), ``today`` and ``yesterday``
(local midnight), ``this-week`` (Monday, local midnight), ``week-ago``,
``this-month`` (the 1st), ``this-year``, and ``boot`` (when this machine
started, from /proc/stat).
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from typing import Optional

_RELATIVE_RE = re.compile(
    r"(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?|w|weeks?)"
    r"(?:\s+ago)?\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# "recent" is ausearch's: ten minutes ago.
RECENT = 600
# Where the kernel says when this machine started (its btime line).
PROC_STAT = "/proc/stat"
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d))?\Z")
# Epoch seconds have 9 digits or more (any time since 1973): a shorter
# number is not read as one (``2026`` is not a time of 1970).
_EPOCH_RE = re.compile(r"\d{9,}(?:\.\d+)?")


class TimeSpecError(ValueError):
    """A time that cannot be read: the message says what is accepted."""


def _midnight(now: float, days_back: int = 0) -> float:
    day = _dt.datetime.fromtimestamp(now).date() - _dt.timedelta(days=days_back)
    return time.mktime(day.timetuple())


def boot_time(proc_stat: str = PROC_STAT) -> float:
    """When this machine started (epoch seconds; TimeSpecError if unknown)."""
    try:
        with open(proc_stat, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    raise TimeSpecError(f"boot: cannot read the boot time from {proc_stat}")


def _named(spec: str, now: float, proc_stat: str) -> Optional[float]:
    """The time a word names (None if it names none)."""
    if spec == "now":
        return now
    if spec == "recent":
        return now - RECENT
    if spec == "today":
        return _midnight(now)
    if spec == "yesterday":
        return _midnight(now, 1)
    if spec in ("this-week", "week"):
        return _midnight(now, _dt.datetime.fromtimestamp(now).weekday())
    if spec == "week-ago":
        return now - 7 * 86400
    if spec == "this-month":
        return _midnight(now, _dt.datetime.fromtimestamp(now).day - 1)
    if spec == "this-year":
        return _midnight(now, _dt.datetime.fromtimestamp(now).timetuple().tm_yday - 1)
    if spec == "boot":
        return boot_time(proc_stat)
    return None


def parse_time(text: str, now: Optional[float] = None, proc_stat: str = PROC_STAT) -> float:
    """Epoch seconds for ``text`` (TimeSpecError with a reason otherwise).
    ``now`` and ``proc_stat`` (for ``boot``) are the clock and file to use."""
    now = time.time() if now is None else now
    spec = " ".join(text.strip().lower().split())
    named = _named(spec, now, proc_stat)
    if named is not None:
        return named
    m = _RELATIVE_RE.match(spec)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)[0]]
    if _EPOCH_RE.fullmatch(spec):
        return float(spec)
    m = _CLOCK_RE.match(spec)
    if m:
        hh, mm, ss = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if hh < 24 and mm < 60 and ss < 60:
            return _midnight(now) + hh * 3600 + mm * 60 + ss
    try:
        moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TimeSpecError(
            f"cannot read {text!r} as a time: use epoch seconds, ISO 8601 "
            "(2026-11-26T23:06), HH:MM[:SS], a relative time (10m, 2h, 3d, 1h ago) or "
            "now, recent, today, yesterday, this-week, week-ago, this-month, this-year, "
            "boot") from None
    if moment.tzinfo is None:
        return time.mktime(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()
