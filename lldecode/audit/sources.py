"""Sources: where lines come from.

A source is a file, standard input (``-``), a compressed file (gzip, bzip2
or xz, recognized by content, not by name), a rotated set (a directory or a
glob, read oldest first: ``audit.log.3 ... audit.log.1 audit.log``) or the
kernel's audit netlink multicast group (``netlink:``, live, root only).

Lines are read as Latin-1 text so that each character is one byte of the
log: nothing is lost or rejected, whatever the bytes.  A line keeps no line
terminator; a last line without one is marked as truncated.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import stat
import sys
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Callable,
    Iterable,
    Iterator,
    List,
    Optional,
    Protocol,
    Tuple,
    Union,
)

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

# The argument that names the audit netlink multicast group.
NETLINK = "netlink:"

# A reader that decompresses a binary stream.
Decompressor = Union[gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile]
# A stream of bytes: a file, stdin, or a decompressor over one.
ByteStream = Union[BinaryIO, Decompressor]

# The magic numbers of compressed streams, and the reader of each.
_MAGIC: Tuple[Tuple[bytes, Callable[[BinaryIO], Decompressor]], ...] = (
    (b"\x1f\x8b", lambda stream: gzip.GzipFile(fileobj=stream)),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)
# Bytes read to recognize a compressed stream: the longest magic number.
_MAGIC_LEN = max(len(magic) for magic, _ in _MAGIC)
# Reads from files are this large (bytes): fewer system calls than the
# default 8 KiB, little memory.
_BUFFER_SIZE = 1 << 16
_GLOB_CHARS = re.compile(r"[*?\[]")


def is_compressed(head: bytes) -> bool:
    """Do these first bytes of a file start a gzip, bzip2 or xz stream?"""
    return any(head.startswith(magic) for magic, _ in _MAGIC)


# audit.log, audit.log.1, audit.log.2.gz, audit.log-20261126, audit.log-20261126.xz
_ROTATED_RE = re.compile(
    r"^(?P<base>.+?)(?:\.(?P<num>\d+)|-(?P<date>\d{8}(?:\d{2,6})?))?(?:\.(?:gz|bz2|xz))?$")


class SourceError(Exception):
    """A source that cannot be read: the message is one line for the user."""


class Watcher(Protocol):
    """What follows the reading of a source (lldecode.output.progress.Progress)."""

    def watch(self, name: str, fileobj: BinaryIO) -> None:
        """Follow ``fileobj``, the binary file of source ``name``, from now on."""


class _Prefixed(io.RawIOBase):
    """A binary stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        n = len(data)
        view[:n] = data
        return n

    def close(self) -> None:
        self._rest.close()
        super().close()


def _decompressing(raw: BinaryIO) -> ByteStream:
    """``raw`` itself, or a decompressing reader when its content says so."""
    stream: BinaryIO = raw
    if raw.seekable():
        head = raw.read(_MAGIC_LEN)
        raw.seek(0)
    else:
        head = raw.peek(_MAGIC_LEN)[:_MAGIC_LEN] if hasattr(raw, "peek") else b""
        if len(head) < _MAGIC_LEN:
            head = raw.read(_MAGIC_LEN)
            stream = io.BufferedReader(_Prefixed(head, raw), _BUFFER_SIZE)
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(stream)
    return stream


class Source:
    """One input, read line by line."""

    def __init__(self, name: str, opener: Callable[[], BinaryIO]):
        self.name = name
        self._opener = opener
        self.truncated_last_line = False
        self.watcher: Optional[Watcher] = None  # shows the progress, when one is shown
        self.first_lineno = 1

    def lines(self) -> Iterator[str]:
        """The lines, without terminators (SourceError if unreadable)."""
        try:
            binary = self._opener()
            if self.watcher is not None:
                self.watcher.watch(self.name, binary)
            stream = _decompressing(binary)
        except OSError as exc:
            raise SourceError(f"{self.name}: {exc.strerror or exc}") from None
        text = io.TextIOWrapper(stream, encoding="latin-1", newline="\n")
        try:
            yield from self._unterminated(text)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise SourceError(f"{self.name}: cannot read: {exc}") from None
        finally:
            if sys.stdin is None or binary is not sys.stdin.buffer:
                text.close()

    def _unterminated(self, lines: Iterable[str]) -> Iterator[str]:
        """The lines without their terminator (a last line without one is
        noted in ``truncated_last_line``)."""
        for line in lines:
            if line.endswith("\n"):
                yield line[:-2] if line.endswith("\r\n") else line[:-1]
            else:
                self.truncated_last_line = True
                yield line


class LinesSource(Source):
    """Lines already in memory (text or bytes), read as a file's lines are:
    text is taken as UTF-8, each item may hold several lines."""

    def __init__(self, lines: Iterable[Union[str, bytes]], name: str = "<lines>"):
        super().__init__(name, io.BytesIO)
        self._items = lines

    def lines(self) -> Iterator[str]:
        """The lines of the items, without terminators."""
        for item in self._items:
            raw = item if isinstance(item, bytes) else item.encode("utf-8", "surrogateescape")
            text = raw.decode("latin-1")
            if text.endswith("\n"):
                text = text[:-1]
            for line in text.split("\n"):
                yield line[:-1] if line.endswith("\r") else line


class RangeSource(Source):
    """The lines that start in bytes [start, end) of an uncompressed file.

    ``start`` is a line start; the line number of the first line is found by
    counting the newlines before it.  Used to read one large file on several
    cores (lldecode.analysis.parallel).
    """

    def __init__(self, path: str, start: int, end: int):
        super().__init__(path, _open_file(path))
        self.start = start
        self.end = end
        try:
            self.first_lineno = 1 + _count_newlines(path, start)
        except OSError:
            pass  # reading the lines will say what is wrong

    def lines(self) -> Iterator[str]:
        """The lines of the byte range, without terminators (SourceError if unreadable)."""
        try:
            binary = self._opener()
            binary.seek(self.start)
        except OSError as exc:
            raise SourceError(f"{self.name}: {exc.strerror or exc}") from None
        with binary:
            yield from self._unterminated(self._decoded(binary))

    def _decoded(self, binary: BinaryIO) -> Iterator[str]:
        """The lines (with terminators) that start before ``end``."""
        position = self.start
        for raw in binary:
            if position >= self.end:
                return
            position += len(raw)
            yield raw.decode("latin-1")


# Newlines are counted in blocks of this many bytes: few reads, bounded memory.
_COUNT_BLOCK = 1 << 24


def _count_newlines(path: str, end: int) -> int:
    """The newlines in the first ``end`` bytes of a file."""
    count = 0
    with open(path, "rb") as f:
        while end > 0:
            block = f.read(min(_COUNT_BLOCK, end))
            if not block:
                break
            count += block.count(b"\n")
            end -= len(block)
    return count


class NetlinkSource(Source):
    """The live audit multicast group; records spelled like the kernel's printk."""

    def __init__(self, idle: Optional[float] = None):
        super().__init__("netlink", lambda: sys.stdin.buffer)
        self.idle = idle

    def lines(self) -> Iterator[str]:
        """The records, as they come (SourceError if the group cannot be read)."""
        from lldecode.audit import netlink

        try:
            yield from netlink.records_as_lines(idle=self.idle)
        except OSError as exc:
            raise SourceError(f"netlink: cannot read the audit multicast group: "
                              f"{exc.strerror or exc}") from None


def rotation_key(path: str) -> Tuple[str, int, int, str]:
    """Sort key putting a rotated set oldest first.

    ``audit.log.3 < audit.log.2 < audit.log.1 < audit.log``, and dated files
    (logrotate's dateext) in date order before the live file.
    """
    name = os.path.basename(path)
    m = _ROTATED_RE.match(name)
    if m is None:  # pragma: no cover - the pattern matches any name
        return (name, 0, 0, "")
    if m.group("num") is not None:
        return (m.group("base"), 0, -int(m.group("num")), "")
    if m.group("date") is not None:
        return (m.group("base"), 1, 0, m.group("date"))
    return (m.group("base"), 2, 0, "")


def order_rotated(paths: List[str]) -> List[str]:
    """The files of a rotated set, oldest first (see :func:`rotation_key`)."""
    return sorted(paths, key=rotation_key)


def _open_file(path: str) -> Callable[[], BinaryIO]:
    """The opener of a file, for a Source."""
    return lambda: open(path, "rb", buffering=_BUFFER_SIZE)


def file_source(path: str) -> Source:
    """A file, read (and decompressed when its content says so) line by line."""
    return Source(path, _open_file(path))


class _Failed(Source):
    """An argument that names nothing readable: reading it reports why."""

    def __init__(self, name: str, message: str):
        super().__init__(name, lambda: sys.stdin.buffer)
        self.message = message

    def lines(self) -> Iterator[str]:
        raise SourceError(self.message)
        yield  # pragma: no cover - makes this a generator


def expand(arguments: List[str], netlink_idle: Optional[float] = None) -> Iterator[Source]:
    """Sources for command-line arguments, in order (no argument: stdin).

    An argument that cannot be read gives a source whose reading raises
    SourceError, so that the other inputs are still read.
    """
    for arg in arguments or ["-"]:
        if arg == "-":
            yield Source("<stdin>", lambda: sys.stdin.buffer)
        elif arg == NETLINK:
            yield NetlinkSource(idle=netlink_idle)
        elif os.path.isdir(arg):
            yield from _directory(arg)
        elif not os.path.exists(arg) and _GLOB_CHARS.search(arg):
            matches = [p for p in glob.glob(arg) if os.path.isfile(p)]
            if not matches:
                yield _Failed(arg, f"{arg}: no file matches")
            for path in order_rotated(matches):
                yield file_source(path)
        elif os.path.exists(arg) and not (os.path.isfile(arg) or _is_stream(arg)):
            yield _Failed(arg, f"{arg}: not a regular file")
        else:
            yield file_source(arg)


def _directory(path: str) -> Iterator[Source]:
    try:
        names = os.listdir(path)
    except OSError as exc:
        yield _Failed(path, f"{path}: {exc.strerror}")
        return
    entries = [os.path.join(path, n) for n in names
               if not n.startswith(".") and os.path.isfile(os.path.join(path, n))]
    if not entries:
        yield _Failed(path, f"{path}: directory holds no log files")
    for entry in order_rotated(entries):
        yield file_source(entry)


def _is_stream(path: str) -> bool:
    """FIFOs and character devices (process substitution, /dev/stdin) are fine."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)
