"""Points in time as users write them on the command line.

``--since``/``--until`` take epoch seconds (``1795734400`` or with
decimals), ISO 8601 (``2026-11-26``, ``2026-11-26T23:06:41``, with ``Z`` or
an offset; without one it is local time), a time of today (``23:06``),
relative times before now (``10m``, ``2h``, ``3d``, ``1w``, ``90s``), or
``now``, ``today`` and ``yesterday`` (local midnight).
"""

from __future__ import annotations

import datetime as _dt
import re
import time
from typing import Optional

_RELATIVE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\Z")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d))?\Z")
# Epoch seconds have 9 digits or more (any time since 1973): a shorter
# number is not read as one (``2026`` is not a time of 1970).
_EPOCH_RE = re.compile(r"\d{9,}(?:\.\d+)?")


class TimeSpecError(ValueError):
    """A time that cannot be read: the message says what is accepted."""


def _midnight(now: float, days_back: int = 0) -> float:
    day = _dt.datetime.fromtimestamp(now).date() - _dt.timedelta(days=days_back)
    return time.mktime(day.timetuple())


def parse_time(text: str, now: Optional[float] = None) -> float:
    """Epoch seconds for ``text`` (TimeSpecError with a reason otherwise)."""
    now = time.time() if now is None else now
    spec = text.strip().lower()
    if spec == "now":
        return now
    if spec == "today":
        return _midnight(now)
    if spec == "yesterday":
        return _midnight(now, 1)
    m = _RELATIVE_RE.match(spec)
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
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
            "(2026-11-26T23:06), HH:MM, a relative time (10m, 2h, 3d) or "
            "now/today/yesterday") from None
    if moment.tzinfo is None:
        return time.mktime(moment.timetuple()) + moment.microsecond / 1e6
    return moment.timestamp()
