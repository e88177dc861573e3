"""Sources: where lines come from.

A source is a file, standard input (``-``), a compressed file (gzip, bzip2
or xz, recognized by content, not by name), a rotated set (a directory or a
glob, read oldest first: ``audit.log.3 ... audit.log.1 audit.log``) or the
kernel's audit netlink multicast group (``netlink:``, live, root only).

Lines are read as Latin-1 text so that each character is one byte of the
log: nothing is lost or rejected, whatever the bytes.  A line keeps no line
terminator; a last line without one is marked as truncated.

A line is at most ``max_line_length`` bytes (DEFAULT_MAX_LINE_LENGTH unless
told): the kernel's records are at most a few KiB, so a longer "line" is no
record (``/dev/zero``, a binary file, a log whose newlines were lost).  In its
place :meth:`Source.lines` yields :data:`TOO_LONG`, an empty string, and
skips the rest of it up to the next newline, in bounded memory; the reader
reports it.  Every error reading a source (I/O, a corrupt or truncated
compressed stream) is a :class:`SourceError` naming it: reading goes on with
the next source.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import select
import stat
import sys
import time
import zlib
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Optional,
    Protocol,
    Tuple,
    Union,
    cast,
)

from lldecode.audit import live, sieve

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

# The longest line read (bytes, without its terminator): a kernel record is
# at most about 8 KiB, and a path the kernel hex-encodes doubles; this leaves
# generous room (and bounds the memory a line without newline can take).
DEFAULT_MAX_LINE_LENGTH = 4 << 20

# The errors of reading a source, whatever it is: I/O errors, and corrupt or
# truncated compressed streams (gzip raises zlib.error, BadGzipFile or
# EOFError; bzip2 OSError or EOFError; xz LZMAError or EOFError).
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError)


class _TooLong(str):
    """The type of TOO_LONG."""


# What Source.lines() yields in place of a line longer than the limit: an
# empty string (so that code that does not look for it skips it as a blank
# line) that is not "" itself.
TOO_LONG: str = _TooLong()


def is_too_long(line: str) -> bool:
    """Does this item of Source.lines() stand for a line over the limit?"""
    return line is TOO_LONG


def split_lines(chunks: Iterable[bytes], max_line_length: int,
                on_unterminated: Optional[Callable[[], None]] = None) -> Iterator[str]:
    """The lines of a stream of byte chunks as Latin-1 text, without
    terminators (``\\n`` or ``\\r\\n``); a line longer than
    ``max_line_length`` as TOO_LONG, its rest skipped.  ``on_unterminated``
    is called when the last line has no terminator.

    Memory stays within one chunk and one line of the limit, whatever the
    input (a "line" of gigabytes without a newline included).
    """
    limit = max_line_length
    carry = ""          # the start of a line whose end is not read yet
    skipping = False    # discarding the rest of a line over the limit
    for data in chunks:
        text = data.decode("latin-1")
        if skipping:
            end = text.find("\n")
            if end < 0:
                continue
            text = text[end + 1:]
            skipping = False
        parts = text.split("\n")
        rest = parts.pop()  # after the last newline: a line not ended yet
        if parts:
            if carry:
                parts[0] = carry + parts[0]
            if "\r" in text or carry.endswith("\r"):
                parts = [p[:-1] if p.endswith("\r") else p for p in parts]
            carry = ""
            if len(parts[0]) > limit or len(text) > limit:
                parts = [TOO_LONG if len(p) > limit else p for p in parts]
            yield from parts
        carry = carry + rest if carry else rest
        if len(carry) > limit:
            yield TOO_LONG
            carry = ""
            skipping = True
    if carry or skipping:
        if on_unterminated is not None:
            on_unterminated()
        if carry:
            yield carry


def _chunks(stream: "ByteStream") -> Iterator[bytes]:
    """The bytes of a stream, as they come (a pipe's are not waited for)."""
    read = getattr(stream, "read1", None) or stream.read
    while True:
        data = read(_BUFFER_SIZE)
        if not data:
            return
        yield data


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
    """One input, read line by line (at most ``max_line_length`` bytes a line)."""

    def __init__(self, name: str, opener: Callable[[], BinaryIO],
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH):
        self.name = name
        self._opener = opener
        self.truncated_last_line = False
        self.watcher: Optional[Watcher] = None  # shows the progress, when one is shown
        self.first_lineno = 1
        self.max_line_length = max_line_length
        # An uncompressed regular file may be scanned in blocks rather than
        # read line by line (lldecode.audit.scan): its path and byte range.
        self.path: Optional[str] = None
        self.start = 0
        self.end: Optional[int] = None

    def lines(self) -> Iterator[str]:
        """The lines, without terminators (TOO_LONG for a line over the
        limit; SourceError if the source cannot be read)."""
        return cast(Iterator[str], self._read(None))  # (no sieve: lines only)

    def sifted(self, wide: Callable[[], bool]) -> Iterator[Union[str, int]]:
        """The lines the sieve keeps (lldecode.audit.sieve; ``wide``: see
        :class:`Sifter`), and the number of each run of lines it skips.  A
        source that reads its lines its own way (its class overrides
        :meth:`lines`, not :meth:`_read`) gives every line."""
        if type(self).lines is not Source.lines:
            return self.lines()
        return self._read(wide)

    def _read(self, wide: Optional[Callable[[], bool]]) -> Iterator[Union[str, int]]:
        chunks = self.chunks()
        try:
            if wide is None:
                yield from split_lines(chunks, self.max_line_length, self._unterminated)
            else:
                yield from sift_lines(chunks, self.max_line_length, wide, self._unterminated)
        finally:
            chunks.close()  # (the file closes now, not when the generator is collected)

    def _unterminated(self) -> None:
        """The last line has no terminator (the log may have been cut)."""
        self.truncated_last_line = True

    def streamable(self) -> bool:
        """Can the bytes of this source be scanned as they are read
        (:meth:`chunks`; lldecode.audit.scan): is it read as a whole, as
        :class:`Source` reads (a compressed file, standard input from a
        file), not its own way?"""
        kind = type(self)
        return kind._read is Source._read and kind.lines is Source.lines

    def chunks(self) -> Generator[bytes, None, None]:
        """The bytes of the source, decompressed, in the pieces the line
        reading reads (SourceError if it cannot be read: after the pieces
        read before the failure, as the line reading gives the lines of
        those)."""
        binary: Optional[BinaryIO] = None
        stream: Optional[ByteStream] = None
        try:
            try:
                binary = self._opener()
                if self.watcher is not None:
                    self.watcher.watch(self.name, binary)
                stream = _decompressing(binary)
            except OSError as exc:
                raise SourceError(f"{self.name}: {exc.strerror or exc}") from None
            try:
                yield from _chunks(stream)
            except _READ_ERRORS as exc:
                raise SourceError(f"{self.name}: cannot read: {_reason(exc)}") from None
        finally:
            _close(stream, binary)


def _reason(exc: BaseException) -> str:
    """An error reading a source, in words."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, EOFError):
        return "the compressed data is truncated" + (f" ({exc})" if str(exc) else "")
    if isinstance(exc, (zlib.error, lzma.LZMAError)):
        return f"corrupt compressed data ({exc})"
    return str(exc) or type(exc).__name__


def _close(stream: Optional["ByteStream"], binary: Optional[BinaryIO]) -> None:
    """Close what a source opened (not standard input); closing errors are
    no news after reading."""
    if binary is None or (sys.stdin is not None and binary is sys.stdin.buffer):
        return
    for item in (stream, binary):
        if item is not None:
            try:
                item.close()
            except _READ_ERRORS:
                pass


class LinesSource(Source):
    """Lines already in memory (text or bytes), read as a file's lines are:
    text is taken as UTF-8, each item may hold several lines."""

    def __init__(self, lines: Iterable[Union[str, bytes]], name: str = "<lines>",
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH):
        super().__init__(name, io.BytesIO, max_line_length)
        self._items = lines

    def lines(self) -> Iterator[str]:
        """The lines of the items, without terminators."""
        limit = self.max_line_length
        for item in self._items:
            raw = item if isinstance(item, bytes) else item.encode("utf-8", "surrogateescape")
            text = raw.decode("latin-1")
            if text.endswith("\n"):
                text = text[:-1]
            for line in text.split("\n"):
                if len(line) > limit:
                    yield TOO_LONG
                else:
                    yield line[:-1] if line.endswith("\r") else line


class RangeSource(Source):
    """The lines that start in bytes [start, end) of an uncompressed file.

    ``start`` is a line start; the line number of the first line is found by
    counting the newlines before it (``count_lines=False``: not counted, the
    lines are numbered from 1, for a reader that shows no line number).
    Used to read one large file on several cores (lldecode.analysis.parallel).
    """

    def __init__(self, path: str, start: int, end: int,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH, count_lines: bool = True):
        super().__init__(path, _open_file(path), max_line_length)
        self.path = path
        self.start = start
        self.end: int = end
        if count_lines:
            try:
                self.first_lineno = 1 + _count_newlines(path, start)
            except OSError:
                pass  # reading the lines will say what is wrong

    def _read(self, wide: Optional[Callable[[], bool]]) -> Iterator[Union[str, int]]:
        """The lines of the byte range (see Source.lines, Source.sifted)."""
        try:
            binary = self._opener()
            binary.seek(self.start)
        except OSError as exc:
            raise SourceError(f"{self.name}: {exc.strerror or exc}") from None
        with binary:
            try:
                if wide is None:
                    yield from split_lines(self._range(binary), self.max_line_length,
                                           self._unterminated)
                else:
                    yield from sift_lines(self._range(binary), self.max_line_length, wide,
                                          self._unterminated)
            except _READ_ERRORS as exc:
                raise SourceError(f"{self.name}: cannot read: {_reason(exc)}") from None

    def _range(self, binary: BinaryIO) -> Iterator[bytes]:
        """The bytes of the lines that start before ``end``: up to ``end``,
        then to the end of the line that holds it."""
        remaining = self.end - self.start
        last = b"\n"
        while remaining > 0:
            data = binary.read(min(_BUFFER_SIZE, remaining))
            if not data:
                return
            remaining -= len(data)
            last = data
            yield data
        if last.endswith(b"\n"):
            return
        while True:
            data = binary.read(_BUFFER_SIZE)
            if not data:
                return
            cut = data.find(b"\n")
            if cut >= 0:
                yield data[:cut + 1]
                return
            yield data


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
    """The live audit multicast group; records spelled like the kernel's printk
    (a live source: lldecode.audit.live)."""

    live = True

    def __init__(self, idle: Optional[float] = None,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
                 event_timeout: Optional[float] = None):
        """``event_timeout``: seconds of quiet that complete the open events
        (default: lldecode.audit.live.settings)."""
        super().__init__("netlink", lambda: sys.stdin.buffer, max_line_length)
        self.idle = idle
        self.event_timeout = event_timeout

    def lines(self) -> Iterator[str]:
        """The records, as they come (SourceError if the group cannot be read)."""
        from lldecode.audit import netlink

        limit = self.max_line_length
        try:
            tick = self.event_timeout
            if tick is None:
                tick = live.settings.event_timeout
            for line in netlink.records_as_lines(idle=self.idle, tick=tick):
                yield TOO_LONG if len(line) > limit else line
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


def order_arguments(arguments: List[str]) -> Tuple[List[str], bool]:
    """The arguments, the files of each rotated set among them put oldest
    first in the places they hold (the shell expands ``audit.log*`` in text
    order: ``.1 .10 .11.gz .2 ...``); and whether the order changed."""
    sets: Dict[Tuple[str, str], List[int]] = {}
    for i, arg in enumerate(arguments):
        if arg in ("-", NETLINK) or not os.path.isfile(arg):
            continue
        where = (os.path.dirname(os.path.abspath(arg)), rotation_key(arg)[0])
        sets.setdefault(where, []).append(i)
    ordered = list(arguments)
    for places in sets.values():
        if len(places) > 1:
            members = sorted((arguments[i] for i in places), key=rotation_key)
            for i, member in zip(places, members):
                ordered[i] = member
    return ordered, ordered != list(arguments)


def _open_file(path: str) -> Callable[[], BinaryIO]:
    """The opener of a file, for a Source."""
    return lambda: open(path, "rb", buffering=_BUFFER_SIZE)


def file_source(path: str, max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> Source:
    """A file, read (and decompressed when its content says so) line by line."""
    source = Source(path, _open_file(path), max_line_length)
    source.path = path
    return source


class _Failed(Source):
    """An argument that names nothing readable: reading it reports why."""

    def __init__(self, name: str, message: str):
        super().__init__(name, lambda: sys.stdin.buffer)
        self.message = message

    def lines(self) -> Iterator[str]:
        raise SourceError(self.message)
        yield  # pragma: no cover - makes this a generator


def expand(arguments: List[str], netlink_idle: Optional[float] = None,
           max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> Iterator[Source]:
    """Sources for command-line arguments, in order (no argument: stdin),
    reading lines of at most ``max_line_length`` bytes.

    An argument that cannot be read gives a source whose reading raises
    SourceError, so that the other inputs are still read.
    """
    limit = max_line_length
    for arg in order_arguments(arguments)[0] or ["-"]:
        if arg == "-":
            yield stdin_source(limit)
        elif arg == NETLINK:
            yield NetlinkSource(idle=netlink_idle, max_line_length=limit)
        elif os.path.isdir(arg):
            yield from _directory(arg, limit)
        elif not os.path.exists(arg) and _GLOB_CHARS.search(arg):
            matches = [p for p in glob.glob(arg) if os.path.isfile(p)]
            if not matches:
                yield _Failed(arg, f"{arg}: no file matches")
            for path in order_rotated(matches):
                yield file_source(path, limit)
        elif os.path.exists(arg) and not (os.path.isfile(arg) or _is_stream(arg)):
            yield _Failed(arg, f"{arg}: not a regular file")
        else:
            yield file_source(arg, limit)


# -- live input: a pipe or terminal read as bytes come (lldecode.audit.live) ----

# Bytes read at a time from a live input.
_LIVE_CHUNK = 1 << 16


class LineSplitter:
    """Bytes in, whole lines out (Latin-1 text, without terminators), as
    :func:`lldecode.audit.sources.split_lines` reads them, but fed a piece
    at a time: :attr:`pending` is the start of a line not ended yet."""

    __slots__ = ("limit", "carry", "skipping")

    def __init__(self, limit: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        self.limit = limit
        self.carry = ""
        self.skipping = False

    @property
    def pending(self) -> int:
        """Bytes of a line not ended yet (held, or skipped as too long)."""
        return len(self.carry) + (1 if self.skipping else 0)

    def feed(self, data: bytes) -> List[str]:
        """The lines that ``data`` ends (TOO_LONG for one over the limit)."""
        text = data.decode("latin-1")
        out: List[str] = []
        if self.skipping:
            end = text.find("\n")
            if end < 0:
                return out
            text = text[end + 1:]
            self.skipping = False
        parts = text.split("\n")
        rest = parts.pop()
        if parts:
            parts[0] = self.carry + parts[0]
            self.carry = ""
            for part in parts:
                if part.endswith("\r"):
                    part = part[:-1]
                out.append(TOO_LONG if len(part) > self.limit else part)
        self.carry += rest
        if len(self.carry) > self.limit:
            out.append(TOO_LONG)
            self.carry = ""
            self.skipping = True
        return out

    def end(self) -> Optional[str]:
        """The last line, not ended (None when there is none)."""
        carry, self.carry, self.skipping = self.carry, "", False
        return carry or None


class Sifter:
    """Bytes in, the lines the sieve keeps out (lldecode.audit.sieve), as
    :func:`split_lines` reads them, and in place of each run of lines it
    skips, their number (an int): a reading of Landlock records only needs
    no other line.  ``wide()`` says whether the lines of records without
    serial are kept too; it is asked again after each line given, so that
    a reader that has just turned it on gets them from the next line on.
    (The first line a piece ends, and every line over the limit, are always
    given.)"""

    __slots__ = ("limit", "wide", "carry", "skipping")

    def __init__(self, limit: int, wide: Callable[[], bool]) -> None:
        self.limit = limit
        self.wide = wide
        self.carry = b""        # the start of a line not ended yet
        self.skipping = False   # discarding the rest of a line over the limit

    @property
    def pending(self) -> int:
        """Bytes of a line not ended yet (held, or skipped as too long)."""
        return len(self.carry) + (1 if self.skipping else 0)

    def _line(self, data: bytes) -> str:
        line = data.decode("latin-1")
        if line.endswith("\r"):
            line = line[:-1]
        return TOO_LONG if len(line) > self.limit else line

    def feed(self, data: bytes) -> Iterator[Union[str, int]]:
        """The lines that ``data`` ends, or their number where skipped."""
        if self.skipping:
            end = data.find(b"\n")
            if end < 0:
                return
            data = data[end + 1:]
            self.skipping = False
        first = data.find(b"\n")
        if first >= 0:
            carry, self.carry = self.carry, data[data.rfind(b"\n") + 1:]
            yield self._line(carry + data[:first] if carry else data[:first])
            yield from self._lines(data, first + 1, len(data) - len(self.carry))
        else:
            self.carry += data
        if len(self.carry) > self.limit:
            self.carry = b""
            self.skipping = True
            yield TOO_LONG

    def _lines(self, data: bytes, lo: int, hi: int) -> Iterator[Union[str, int]]:
        """The kept lines of data[lo:hi] (whole lines with terminators)."""
        wide = self.wide()
        starts = (None if sieve.may_hold_long_line(data, lo, hi, self.limit)
                  else sieve.line_starts(data, lo, hi, wide, (hi - lo) // sieve.DENSE))
        if starts is None:  # every line (most are kept, or one may be too long)
            yield from (self._line(part) for part in data[lo:hi - 1].split(b"\n"))
            return
        previous = lo
        for skipped, start, end in sieve.kept(data, lo, hi, starts, wide, self.wide):
            if skipped:
                yield skipped
            yield self._line(data[start:end])
            previous = end + 1
        skipped = data.count(b"\n", previous, hi)
        if skipped:
            yield skipped

    def end(self) -> Optional[str]:
        """The last line, not ended (None when there is none)."""
        carry, self.carry, self.skipping = self.carry, b"", False
        return carry.decode("latin-1") or None


def sift_lines(chunks: Iterable[bytes], max_line_length: int, wide: Callable[[], bool],
               on_unterminated: Optional[Callable[[], None]] = None
               ) -> Iterator[Union[str, int]]:
    """:func:`split_lines` through a :class:`Sifter`: the lines the sieve
    keeps, and the number of each run of lines it skips."""
    sifter = Sifter(max_line_length, wide)
    for data in chunks:
        yield from sifter.feed(data)
    if sifter.carry or sifter.skipping:
        if on_unterminated is not None:
            on_unterminated()
        if sifter.carry:
            yield sifter.carry.decode("latin-1")


def _readable(fd: int, timeout: Optional[float]) -> bool:
    """Wait until ``fd`` has bytes (or its end), at most ``timeout`` seconds
    (None: for ever); False on timeout or a stop request."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not live.stop:
        wait = live.POLL if deadline is None else min(live.POLL, deadline - time.monotonic())
        if wait < 0:
            return False
        ready, _, _ = select.select([fd], [], [], wait)
        if ready:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
    return False


class PipeSource(Source):
    """A pipe, FIFO or terminal (standard input), read as bytes come, with
    an idle tick when it goes quiet (see the module's doc)."""

    live = True

    def __init__(self, name: str, fd: int, event_timeout: Optional[float] = None,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        super().__init__(name, lambda: os.fdopen(fd, "rb", closefd=False), max_line_length)
        self.fd = fd
        self.event_timeout = (live.settings.event_timeout if event_timeout is None
                              else event_timeout)

    def _read(self, wide: Optional[Callable[[], bool]]) -> Iterator[Union[str, int]]:
        splitter: Union[LineSplitter, Sifter] = (
            LineSplitter(self.max_line_length) if wide is None
            else Sifter(self.max_line_length, wide))
        fd, first, quiet = self.fd, True, True
        heartbeat = live.settings.heartbeat
        try:
            while not live.stop:
                if not _readable(fd, heartbeat if quiet else self.event_timeout):
                    if live.stop:
                        break
                    if not splitter.pending:
                        quiet = True
                        yield live.IDLE
                    continue
                data = os.read(fd, _LIVE_CHUNK)
                if not data:
                    break
                if first:
                    first = False
                    if is_compressed(data):  # read as a whole, decompressed
                        yield from self._decompressed(data, wide)
                        return
                quiet = False
                yield from splitter.feed(data)
        except OSError as exc:
            raise SourceError(f"{self.name}: cannot read: {exc.strerror or exc}") from None
        rest = splitter.end()
        if rest is not None:
            self.truncated_last_line = True
            yield rest


    def _decompressed(self, head: bytes,
                      wide: Optional[Callable[[], bool]]) -> Iterator[Union[str, int]]:
        rest = os.fdopen(self.fd, "rb", buffering=0, closefd=False)
        stream = _decompressing(io.BufferedReader(_Prefixed(head, rest)))
        if wide is None:
            yield from split_lines(_chunks(stream), self.max_line_length, self._unterminated)
        else:
            yield from sift_lines(_chunks(stream), self.max_line_length, wide,
                                  self._unterminated)


def stdin_source(max_line_length: int = DEFAULT_MAX_LINE_LENGTH) -> Source:
    """Standard input: a pipe, FIFO, socket or terminal is a live input, read
    as it comes (:class:`PipeSource`); a file is read as one."""
    try:
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
        return PipeSource("<stdin>", fd, max_line_length=max_line_length)
    return Source("<stdin>", lambda: sys.stdin.buffer, max_line_length)


def _directory(path: str, max_line_length: int) -> Iterator[Source]:
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
        yield file_source(entry, max_line_length)


def _is_stream(path: str) -> bool:
    """FIFOs and character devices (process substitution, /dev/stdin) are fine."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)
