"""Both cores for the outputs written in the log's order: ``explain``'s
paragraphs (every format) and ``filter``'s denials, events and groups (every
format), read in parts on several processes and written in input order.

The input is cut as for the aggregates (:func:`lldecode.analysis.parallel.plan_spans`:
byte ranges of large uncompressed files, at event boundaries).  This
process reads and renders the first part while worker processes read the
others; each worker writes what its part renders to a scratch file (text,
or pickled objects: a table's rows, CI findings), which this process copies
out in turn.  The output is the one a single pass gives, byte for byte,
because each item is rendered where the single pass renders it:

- *the domains*: a denial's rendering names its domain's creator, status,
  boot and mode, which the records before it (maybe in an earlier part)
  set.  A worker first reads the Landlock records of the parts before its
  own (without their process records, the cheap reading of ``summarize``)
  into its domain registry, so domains, creators and boots are those of
  the single pass.  (Not when neither the rendering nor the selection
  reads a domain's state, ``TextOptions["replay"]``: filter's text, CSV,
  TSV, table and raw lines.)
- *denials and events* (``filter``) are rendered as they are read: a worker
  renders its part's, in the state its registry has then.
- *paragraphs* (``explain``, and ``filter``'s CI groups) fold identical
  consecutive operations, and the single pass renders one only when the
  operation after it comes (and the one after that has begun: the
  grouping of an operation's records looks one denial ahead), maybe parts
  later, by when a domain may have been deallocated.  So the reading of a
  part owns the paragraphs that *start* in it, and renders each one at its
  moment: after its own part it reads on into the next parts (Landlock and
  process records, with its registry, as the single pass does) until its
  last paragraph is closed, and renders it there.  Operations of the next
  parts that fold into that paragraph are counted in it; the reading of
  such a part leaves out its own first paragraph (the same operations),
  which the worker said it absorbed.  On a log where every denial is
  selected that is a few events past the cut; with a selection of few
  denials it may be far (up to the end of the input: the output is
  exact, the parallelism less).
- diagnostics, what the selection noted and the grouping statistics (for
  the closing notes) are those of each part's own reading, merged in input
  order, as for the aggregates; the readings past a part's end are quiet.
"""

from __future__ import annotations

import collections
import gc
import multiprocessing
import os
import pickle
import tempfile
from typing import (
    IO,
    Any,
    Callable,
    Deque,
    Dict,
    FrozenSet,
    Generator,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Set,
    Tuple,
    TypedDict,
    cast,
)

from lldecode.analysis import explain
from lldecode.analysis.denials import Denial
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.parallel import Part, Span, part_source
from lldecode.analysis.pipeline import Reading
from lldecode.analysis.selection import Selection
from lldecode.analysis.tally import add_stats, plain_notices, stats_counts
from lldecode.audit import sources
from lldecode.audit.events import GroupingStats
from lldecode.audit.records import Diagnostics

# The rendering of an item (a paragraph, a denial, an (event, denials)
# pair): its text, without the separator that goes between two paragraphs;
# or, with ``objects``, any picklable value.
Render = Callable[[Any], Any]

# Characters copied at a time from a worker's scratch file of text.
COPY_PIECE = 1 << 18

# What the items are: the selected denials, the events that hold one (with
# those denials), or explain's paragraphs of the selected denials.
DENIALS, EVENTS, PARAGRAPHS = "denials", "events", "paragraphs"

# The scratch files of text: every str round-trips, lone surrogates included.
_ENCODING, _ERRORS = "utf-8", "surrogatepass"


class TextOptions(TypedDict):
    """What a worker needs to read its part as this process would."""

    selection: Dict[str, Any]    # the options Selection.from_options takes
    context: bool
    max_line_length: Optional[int]
    kind: str                    # DENIALS, EVENTS or PARAGRAPHS
    objects: bool                # renderings are objects (pickled), not text
    keep_domains: bool           # the registry keeps finished domains (as the reader's)
    replay: bool                 # the rendering or the selection reads the domains' state


class _TextPart(NamedTuple):
    """A worker's part: the rendering of its first paragraph (pickled
    objects: bytes; None for no paragraph, and for items that are no
    paragraphs), the scratch file of the others, their weight (items, or
    denials counted for events), the parts whose first paragraph its last one
    absorbed, and what the reading noted."""

    first: Any
    middle: str
    weight: int
    absorbed: FrozenSet[int]
    messages: List[str]
    counts: Tuple[int, int, int, int, int]
    observed: Tuple[int, FrozenSet[int], bool]
    stats: Dict[str, int]
    notices: List[Tuple[Any, ...]]


# The job of the workers, set before they are forked (the renderer and the
# style and policy it holds are not sent through a pipe): parts, options,
# renderer, separator, scratch prefix.
_job: Optional[Tuple[List[Span], TextOptions, Render, str, str]] = None


def _source(piece: Part, onward: bool) -> sources.Source:
    """A piece's source; ``onward``: a byte range read on past the end of
    the part before it (see :class:`_Owned`), whose first line's number is
    not counted (that reads every byte before it, in blocks of 16 MiB: the
    memory of this process would grow by one), since nothing rendered from
    there names a line."""
    path, start, end = piece
    if onward and start is not None and end is not None:
        return sources.RangeSource(path, start, end, count_lines=False)
    return part_source(piece)


def _reading(spans: List[Span], options: TextOptions, diagnostics: Diagnostics,
             registry: DomainRegistry, context: bool, onward: bool = False) -> Reading:
    return Reading([], diagnostics, context=context, registry=registry,
                   given_sources=[_source(piece, onward) for span in spans for piece in span],
                   max_line_length=options["max_line_length"], serial_gaps=False)


def _selected(reading: Reading, selection: Selection) -> Iterator[Denial]:
    denials: Iterator[Denial] = reading.denials()
    if selection.empty:
        return denials
    return (d for d in denials if selection(d))


def _selected_events(reading: Reading, selection: Selection
                     ) -> Iterator[Tuple[Any, List[Denial]]]:
    """(event, its selected denials) for the events with one (as
    :meth:`lldecode.analysis.reader.LogReader.events`)."""
    empty = selection.empty
    for event, denials in reading.events():
        chosen = denials if empty else [d for d in denials if selection(d)]
        if chosen:
            yield event, chosen


class _Owned:
    """The paragraphs that start in part ``index``, each given where the
    single pass renders it: after the part, the next parts are read on (the
    same registry, quiet diagnostics) until the last one is closed.
    :attr:`absorbed`, at the end: the later parts whose first paragraph
    folded into the last one here."""

    def __init__(self, own: Iterator[Denial], parts: List[Span], index: int,
                 options: TextOptions, registry: DomainRegistry):
        self.own, self.parts, self.index = own, parts, index
        self.options, self.registry = options, registry
        self.starts: Deque[Tuple[Denial, int]] = collections.deque()
        self.last_part = index     # the part of the latest operation taken
        self.beyond: Set[int] = set()
        self.done = False
        self.absorbed: FrozenSet[int] = frozenset()

    def _denials(self) -> Iterator[Denial]:
        taken = False
        for denial in self.own:
            taken = True
            yield denial
        if not taken:
            return  # no paragraph starts here: nothing to read on for
        for k in range(self.index + 1, len(self.parts)):
            reading = _reading([self.parts[k]], self.options, Diagnostics(quiet=True),
                               self.registry, self.options["context"], onward=True)
            first = True
            for denial in _selected(reading, Selection.from_options(
                    **self.options["selection"])):
                if first:  # (an event, and so an operation, is in one part)
                    self.starts.append((denial, k))
                    first = False
                yield denial

    def _operations(self) -> Iterator[List[Denial]]:
        for operation in explain.operations(self._denials()):
            assert operation is not None
            part = self.last_part
            if self.starts and operation[0] is self.starts[0][0]:
                part = self.starts.popleft()[1]
            if self.last_part != self.index:
                self.beyond.add(self.last_part)
            self.last_part = part
            yield operation
        if self.last_part != self.index:
            self.beyond.add(self.last_part)
        self.done = True

    def __iter__(self) -> Iterator[explain.Paragraph]:
        paragraphs = cast(Generator[explain.Paragraph, None, None],
                          explain.paragraphs(self._operations()))
        try:
            for paragraph in paragraphs:
                yield paragraph   # (rendered there: the registry is as the single pass's)
                if not self.done and self.last_part != self.index:
                    break  # the next paragraph starts in a later part: its reading's
        finally:
            paragraphs.close()  # (the readings past the part's end)
        self.absorbed = frozenset(self.beyond)


class _Output:
    """Where a worker writes the renderings of its part but the first
    paragraph: text (after the separator), or pickled objects."""

    def __init__(self, path: str, objects: bool, separator: str):
        self.objects, self.separator = objects, separator
        self.file: IO[Any] = (open(path, "wb") if objects else
                              open(path, "w", encoding=_ENCODING, errors=_ERRORS, newline=""))

    def write(self, rendered: Any, separated: bool) -> None:
        if self.objects:
            pickle.dump(rendered, self.file, pickle.HIGHEST_PROTOCOL)
        else:
            self.file.write(self.separator + rendered if separated else rendered)

    def close(self) -> None:
        self.file.close()


def _read_part(index: int) -> _TextPart:
    """Worker: read part ``index`` (after the Landlock records of the parts
    before it) and render its items."""
    assert _job is not None
    parts, options, render, separator, scratch = _job
    registry = DomainRegistry(keep_finished=options["keep_domains"])
    messages: List[str] = []
    diagnostics = Diagnostics(sink=messages.append)
    selection = Selection.from_options(**options["selection"])
    # (made first: its source counts the newlines before the part, in large
    # blocks, while this process is small)
    reading = _reading([parts[index]], options, diagnostics, registry, options["context"])
    if options["replay"]:
        for _ in _reading(parts[:index], options, Diagnostics(quiet=True), registry,
                          context=False, onward=True).events():
            pass  # the domains of the earlier parts, as the single pass knows them here
        gc.collect()  # (what that reading left: the memory of the whole tree is bounded)
    kind, objects = options["kind"], options["objects"]
    first: Any = None
    items = weight = 0
    absorbed: FrozenSet[int] = frozenset()
    middle = f"{scratch}-{index}"
    out = _Output(middle, objects, separator)
    try:
        if kind == PARAGRAPHS:
            owned = _Owned(_selected(reading, selection), parts, index, options, registry)
            for paragraph in owned:
                rendered = render(paragraph)
                if items:
                    out.write(rendered, True)
                else:  # kept apart: a paragraph of an earlier part may hold it
                    first = pickle.dumps(rendered, pickle.HIGHEST_PROTOCOL) if objects \
                        else rendered
                items += 1
            weight = items
            absorbed = owned.absorbed
        elif kind == EVENTS:
            for event, denials in _selected_events(reading, selection):
                out.write(render((event, denials)), False)
                items += 1
                weight += len(denials)
        else:
            for denial in _selected(reading, selection):
                out.write(render(denial), False)
                items += 1
            weight = items
    finally:
        out.close()
    registry.close()
    stats = reading.grouper.stats
    return _TextPart(first, middle, weight, absorbed, messages, diagnostics.counts(),
                     selection.observed(), stats_counts(stats), plain_notices(stats))


class ParallelText:
    """The renderings of the items of ``parts`` (``options["kind"]``: the
    selected denials, the events holding one, or explain's paragraphs), in
    input order, read on ``jobs`` processes: iterate for the text (pieces of
    it), or with ``options["objects"]`` for the rendered objects; then
    :attr:`count` is the number of items (of denials, for events) and
    :attr:`stats` the grouping statistics of the whole input.  ``render``
    gives an item's rendering, ``separator`` goes between two paragraphs
    (none between other items)."""

    def __init__(self, parts: List[Span], options: TextOptions, jobs: int,
                 diagnostics: Diagnostics, selection: Selection, render: Render,
                 separator: str = ""):
        assert not separator or (options["kind"] == PARAGRAPHS and not options["objects"])
        self.parts = parts
        self.options = options
        self.jobs = jobs
        self.diagnostics = diagnostics
        self.selection = selection
        self.render = render
        self.separator = separator
        self.count = 0
        self.stats = GroupingStats()
        self._absorbed: Set[int] = set()

    def __iter__(self) -> Iterator[Any]:
        global _job
        parts, options = self.parts, self.options
        scratch = tempfile.TemporaryDirectory(prefix="lldecode-")
        _job = (parts, options, self.render, self.separator,
                os.path.join(scratch.name, "part"))
        context = multiprocessing.get_context("fork")
        with scratch:
            pool = context.Pool(processes=max(1, min(self.jobs - 1, len(parts) - 1)))
            try:
                others = pool.imap(_read_part, range(1, len(parts)))
                yield from self._own_part()
                for index, part in enumerate(others, 1):
                    yield from self._merge(index, part)
                # (idle workers end when told there is no more work; a
                # terminated one may miss its signal while it starts)
                pool.close()
                pool.join()
            except BaseException:
                pool.terminate()
                raise
            finally:
                _job = None

    def _separated(self, rendered: Any) -> Any:
        if self.separator and self.count:
            return self.separator + rendered
        return rendered

    def _own_part(self) -> Iterator[Any]:
        """The first part, read and rendered here as it comes."""
        options, render = self.options, self.render
        registry = DomainRegistry(keep_finished=options["keep_domains"])
        reading = _reading(self.parts[:1], options, self.diagnostics, registry,
                           options["context"])
        kind = options["kind"]
        if kind == PARAGRAPHS:
            owned = _Owned(_selected(reading, self.selection), self.parts, 0, options,
                           registry)
            for paragraph in owned:
                rendered = self._separated(render(paragraph))
                self.count += 1
                yield rendered
            self._absorbed |= owned.absorbed
        elif kind == EVENTS:
            for event, denials in _selected_events(reading, self.selection):
                self.count += len(denials)
                yield render((event, denials))
        else:
            for denial in _selected(reading, self.selection):
                self.count += 1
                yield render(denial)
        registry.close()
        stats = reading.grouper.stats
        add_stats(self.stats, stats_counts(stats), plain_notices(stats))

    def _merge(self, index: int, part: _TextPart) -> Iterator[Any]:
        """A worker's part after what came before it."""
        diagnostics = self.diagnostics
        for message in part.messages:
            diagnostics.emit(message)
        diagnostics.add_counts(*part.counts)
        self.selection.absorb_observed(part.observed)
        add_stats(self.stats, part.stats, part.notices)
        try:
            if part.first is not None and index not in self._absorbed:
                first = (pickle.loads(part.first) if self.options["objects"]
                         else self._separated(part.first))
                self.count += 1
                yield first
            # (the paragraphs after the first: their separator is written)
            self.count += part.weight - (part.first is not None)
            self._absorbed |= part.absorbed
            yield from (self._load(part.middle) if self.options["objects"]
                        else self._copy(part.middle))
        finally:
            os.unlink(part.middle)

    @staticmethod
    def _copy(path: str) -> Iterator[str]:
        """The text of a worker's scratch file, in pieces."""
        with open(path, encoding=_ENCODING, errors=_ERRORS, newline="") as text:
            while True:
                piece = text.read(COPY_PIECE)
                if not piece:
                    break
                yield piece

    @staticmethod
    def _load(path: str) -> Iterator[Any]:
        """The objects of a worker's scratch file, one at a time."""
        with open(path, "rb") as objects:
            while True:
                try:
                    yield pickle.load(objects)
                except EOFError:
                    break
