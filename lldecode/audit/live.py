"""Live inputs: what the reading of a stream that has no end shares.

A live input (``netlink:``, a pipe or terminal on standard input, a file
followed with ``--follow``) has no end of input to complete its last event:
its source yields :data:`IDLE` (an empty string that is not ``""``) when no
byte came for ``event_timeout`` seconds after some did; the reader turns it
into an idle notice, on which the event grouper completes every open event
(lldecode.audit.events) and the commands show and flush what they hold.

:data:`stop` is how an interrupted command (SIGINT, SIGTERM) ends its
reading without losing what it read: the command line's signal handler sets
it, and every source looks at it between two pieces of input (and at least
every :data:`POLL` seconds while it waits), ending its input as if it had
reached its end.  The rest of the pipeline completes as at the end of any
input: the last events are flushed, the tables printed.
"""

from __future__ import annotations

from typing import Optional


class _Idle(str):
    """The type of IDLE."""


# What a live source yields when its input went quiet (see the module's doc).
IDLE: str = _Idle()

# Seconds without input after which a live input's open events are complete:
# the kernel writes the records of one event together, well within this.
EVENT_TIMEOUT = 0.1
# The longest wait (seconds) without looking at the stop flag.
POLL = 0.2


class Settings:
    """The live reading's settings for this process (the command line's
    ``--event-timeout``)."""

    __slots__ = ("event_timeout", "heartbeat")

    def __init__(self) -> None:
        self.event_timeout = EVENT_TIMEOUT
        # Seconds between two idle ticks while a live input stays quiet (None:
        # one tick per quiet spell): for tables reprinted every --interval.
        self.heartbeat: Optional[float] = None

    def reset(self) -> None:
        """Back to the defaults (a command ended)."""
        self.event_timeout = EVENT_TIMEOUT
        self.heartbeat = None


settings = Settings()


def is_idle(line: str) -> bool:
    """Is this item of a source's lines the idle tick?"""
    return line is IDLE


class Stop:
    """The request to stop reading: the number of the signal that asked (0: none)."""

    __slots__ = ("signum",)

    def __init__(self) -> None:
        self.signum = 0

    def __bool__(self) -> bool:
        return self.signum != 0

    def request(self, signum: int) -> None:
        """Ask every source to end its input (from a signal handler)."""
        self.signum = signum

    def clear(self) -> None:
        """Forget a request (a new run in the same process)."""
        self.signum = 0


# The one stop request of this process (see the module's doc).
stop = Stop()


def timeout_or_poll(timeout: Optional[float]) -> float:
    """The wait before the next look at the stop flag."""
    return POLL if timeout is None else max(0.0, min(timeout, POLL))
