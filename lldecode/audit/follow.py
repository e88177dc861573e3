"""Files followed like ``tail -F`` (a pipe or terminal read as it comes is
:class:`lldecode.audit.sources.PipeSource`).

Both yield :data:`lldecode.audit.live.IDLE` when their input has been quiet
for ``event_timeout`` seconds after some lines came, so that the event
grouper completes the last event at once (:func:`lldecode.audit.records.read_live`
turns it into an
idle notice), and both end their input when :data:`lldecode.audit.live.stop`
is set (an interrupted command).

:class:`FileSource` reads one uncompressed file from a byte offset and
knows, at any time, the offset just after the last whole line it gave
(:attr:`FileSource.position`, for checkpoints).  Following (``follow=True``)
it waits for the file to grow, and survives rotation:

* by rename (``audit.log`` -> ``audit.log.1``, a new ``audit.log``): the
  renamed file is read to its end, then the new file from its start;
* by copy and truncate (logrotate's ``copytruncate``): a file that shrank,
  or whose bytes before the offset changed, was truncated; the bytes the
  writer added before the copy are read from the copy (the rotated sibling
  whose bytes before the offset are the ones read), then the file from its
  start.  Nothing is lost, nothing read twice.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Iterator, List, Optional

from lldecode.audit import live
from lldecode.audit.sources import (
    DEFAULT_MAX_LINE_LENGTH,
    LineSplitter,
    Source,
    SourceError,
    is_compressed,
    rotation_key,
)

# Bytes read at a time.
_CHUNK = 1 << 16
# Seconds between two looks at a followed file that does not grow.
FOLLOW_POLL = 0.05
# Bytes before the offset remembered, to recognize the file (or its copy)
# at the next look: a file rewritten from its start differs there.
FINGERPRINT = 64


def _fingerprint(fd: int, offset: int) -> bytes:
    """The bytes just before ``offset`` in an open file."""
    start = max(0, offset - FINGERPRINT)
    return os.pread(fd, offset - start, start)


def rotated_siblings(path: str) -> List[str]:
    """The files beside ``path`` whose names are its rotated names
    (``audit.log.1``, ``audit.log-20261126``...), newest first."""
    directory = os.path.dirname(path) or "."
    base = os.path.basename(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = [os.path.join(directory, n) for n in names
             if n != base and (n.startswith(base + ".") or n.startswith(base + "-"))]
    return sorted(found, key=rotation_key, reverse=True)


def find_by_inode(path: str, dev: int, ino: int) -> Optional[str]:
    """``path`` or the rotated sibling that is the file (device, inode)."""
    for candidate in [path] + rotated_siblings(path):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if st.st_dev == dev and st.st_ino == ino:
            return candidate
    return None


def find_by_content(path: str, offset: int, fingerprint: bytes,
                    exclude: Optional[str] = None) -> Optional[str]:
    """The rotated sibling of ``path`` (or ``path``) holding ``fingerprint``
    just before ``offset``: the copy of a file rotated by copy and truncate."""
    for candidate in [path] + rotated_siblings(path):
        if candidate == exclude:
            continue
        try:
            with open(candidate, "rb") as f:
                head = f.read(6)
                if is_compressed(head):
                    continue
                start = max(0, offset - len(fingerprint))
                f.seek(start)
                if f.read(offset - start) == fingerprint and (fingerprint or offset == 0):
                    return candidate
        except OSError:
            continue
    return None


class FileSource(Source):
    """An uncompressed file read from ``offset``; followed (``follow``) like
    ``tail -F`` (see the module's doc).  Its name is :attr:`filename`
    (:attr:`path` stays None: it is read line by line, not scanned whole).
    :attr:`position` is the offset just
    after the last whole line given, in the file :attr:`identity` names."""

    def __init__(self, path: str, offset: int = 0, follow: bool = False,
                 event_timeout: Optional[float] = None,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
                 poll: float = FOLLOW_POLL) -> None:
        super().__init__(path, lambda: open(path, "rb"), max_line_length)
        self.filename = path
        self.offset = offset
        self.follow = follow
        self.live = follow
        self.event_timeout = (live.settings.event_timeout if event_timeout is None
                              else event_timeout)
        self.poll = poll
        self.position = offset
        # (device, inode) of the file being read.
        self.identity: Optional[tuple[int, int]] = None
        self.fingerprint = b""
        # How the reading went: rotations met (for the notes and tests).
        self.rotations: List[str] = []

    def _open(self) -> Optional[int]:
        try:
            fd = os.open(self.filename, os.O_RDONLY)
        except FileNotFoundError:
            if self.follow:
                return None
            raise SourceError(f"{self.filename}: No such file or directory") from None
        except OSError as exc:
            raise SourceError(f"{self.filename}: {exc.strerror or exc}") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise SourceError(f"{self.filename}: not a regular file")
        self.identity = (st.st_dev, st.st_ino)
        return fd

    def lines(self) -> Iterator[str]:
        splitter = LineSplitter(self.max_line_length)
        fd: Optional[int] = None
        try:
            fd = self._open()
            while fd is None:  # following a file that does not exist yet
                if not self._sleep(self.poll):
                    return
                fd = self._open()
            read_at = self.position
            # (not quiet: a tick soon completes what earlier inputs left open)
            quiet, last_data = False, time.monotonic()
            heartbeat = live.settings.heartbeat
            waited = False  # the end was reached: look for a rotation before reading on
            while True:
                if live.stop:
                    break
                switched = self._rotated(fd, read_at) if waited else None
                if switched is None:
                    data = os.pread(fd, _CHUNK, read_at)
                    if data:
                        waited = False
                        read_at += len(data)
                        lines = splitter.feed(data)
                        self.position = read_at - splitter.pending
                        quiet, last_data = False, time.monotonic()
                        if lines:
                            self.fingerprint = _fingerprint(fd, self.position)
                        yield from lines
                        continue
                    if not self.follow:
                        break
                    waited = True
                if switched is not None:
                    kind, extra = switched
                    self.rotations.append(kind)
                    for piece in extra:
                        yield from splitter.feed(piece)
                    rest = splitter.end()
                    if rest is not None:
                        yield rest
                    os.close(fd)
                    fd = None
                    while fd is None:
                        fd = self._open()
                        if fd is None and not self._sleep(self.poll):
                            return
                    read_at = self.position = 0
                    self.fingerprint = b""
                    continue
                now = time.monotonic()
                if not splitter.pending and (
                        (not quiet and now - last_data >= self.event_timeout)
                        or (heartbeat is not None and now - last_data >= heartbeat)):
                    quiet, last_data = True, now
                    yield live.IDLE
                    continue
                if not self._sleep(self.poll):
                    break
        except OSError as exc:
            raise SourceError(f"{self.filename}: cannot read: {exc.strerror or exc}") from None
        finally:
            if fd is not None:
                os.close(fd)
        rest = splitter.end()
        if rest is not None:
            self.truncated_last_line = True
            yield rest

    def _rotated(self, fd: int, read_at: int) -> Optional[tuple[str, List[bytes]]]:
        """At the end of the open file: (how it was rotated, the bytes still
        to read from the old file or its copy), or None if it was not."""
        try:
            st = os.stat(self.filename)
        except FileNotFoundError:
            return None  # renamed away, its successor not made yet: keep waiting
        if self.identity != (st.st_dev, st.st_ino):
            # renamed: what the writer added before the rename is in the old file
            return "rename", list(_rest_of(fd, read_at))
        size = os.fstat(fd).st_size
        if size >= read_at and (not self.fingerprint
                                or _fingerprint(fd, self.position) == self.fingerprint):
            return None
        # truncated (and maybe written again): the missing bytes are in the copy
        copy = find_by_content(self.filename, self.position, self.fingerprint,
                               exclude=self.filename)
        extra: List[bytes] = []
        if copy is not None:
            with open(copy, "rb") as f:
                copy_fd = f.fileno()
                extra = list(_rest_of(copy_fd, read_at))
        return "copytruncate", extra

    def _sleep(self, seconds: float) -> bool:
        """Wait (False if a stop was asked meanwhile)."""
        end = time.monotonic() + seconds
        while not live.stop:
            left = end - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, live.POLL))
        return False


def _rest_of(fd: int, offset: int) -> Iterator[bytes]:
    """The bytes of an open file from ``offset`` to its end."""
    while True:
        data = os.pread(fd, _CHUNK, offset)
        if not data:
            return
        offset += len(data)
        yield data
