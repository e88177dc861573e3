"""Both cores for the texts written in the log's order: ``explain``'s
paragraphs and ``filter``'s lines of a large input, read in parts on several
processes and written in input order.

The input is cut as for the aggregates (:func:`lldecode.analysis.parallel.plan_spans`:
byte ranges of large uncompressed files, at event boundaries).  This
process reads and renders the first part while worker processes read the
others; each worker writes the text of its part to a scratch file, which
this process copies out in turn.  The output is the one a single pass
gives, byte for byte, because each worker starts where the single pass
would be:

- *the domains*: a denial's text may name its domain's creator, whose
  allocated record may be in an earlier part.  A worker first reads the
  Landlock records of the parts before its own (without their process
  records, the cheap reading of ``summarize``) into its domain registry, so
  domains, creators and boots are those of the single pass.
- *folding* (``explain``): identical consecutive operations fold into one
  paragraph, also across a cut.  A worker keeps its first and last
  paragraphs as objects (pickled); this process folds each part's first
  paragraph into the paragraph it holds when they are alike, as
  :func:`lldecode.analysis.explain.paragraphs` does.  ``filter``'s lines
  fold nothing: a worker writes them all.
- diagnostics, what the selection noted and the grouping statistics (for
  the closing notes) are merged in input order, as for the aggregates.

One difference is left for ``explain``: the text of the last paragraph of a
part is the one of the end of the part, where the single pass renders it
when the next operation comes, a few events into the next part; the two
differ only when one of those events holds the allocated record of that
paragraph's domain, which the kernel writes before the domain's first
denial, not after.  (So only the text format, which names the creator and
no domain status, is read in parts.)
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import tempfile
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Tuple,
    TypedDict,
)

from lldecode.analysis import explain
from lldecode.analysis.denials import Denial
from lldecode.analysis.domains import DomainRegistry
from lldecode.analysis.parallel import Span, part_source
from lldecode.analysis.pipeline import Reading
from lldecode.analysis.selection import Selection
from lldecode.analysis.tally import add_stats, plain_notices, stats_counts
from lldecode.audit.events import GroupingStats
from lldecode.audit.records import Diagnostics

# The text of an item (a paragraph, a denial), without the separator that
# goes between two items.
Render = Callable[[Any], str]

# Characters copied at a time from a worker's scratch file.
COPY_PIECE = 1 << 18


class TextOptions(TypedDict):
    """What a worker needs to read its part as this process would."""

    selection: Dict[str, Any]    # the options Selection.from_options takes
    context: bool
    max_line_length: Optional[int]
    fold: bool                   # items are explain's paragraphs (else the denials)


class _TextPart(NamedTuple):
    """A worker's part: its first and last paragraphs (pickled; ``last`` is
    None when the part has one), the file of the text of the paragraphs
    between them, their number, and what the reading noted."""

    first: Optional[bytes]
    middle: str
    last: Optional[bytes]
    paragraphs: int
    messages: List[str]
    counts: Tuple[int, int, int, int, int]
    observed: Tuple[int, FrozenSet[int], bool]
    stats: Dict[str, int]
    notices: List[Tuple[Any, ...]]


# The job of the workers, set before they are forked (the renderer and the
# style it holds are not sent through a pipe): parts, options, renderer,
# separator, scratch prefix.
_job: Optional[Tuple[List[Span], TextOptions, Render, str, str]] = None


def _reading(spans: List[Span], options: TextOptions, diagnostics: Diagnostics,
             registry: DomainRegistry, context: bool) -> Reading:
    return Reading([], diagnostics, context=context, registry=registry,
                   given_sources=[part_source(piece) for span in spans for piece in span],
                   max_line_length=options["max_line_length"], serial_gaps=False)


def _items(reading: Reading, selection: Selection, fold: bool) -> Iterator[Any]:
    """The selected denials, or their paragraphs when ``fold``."""
    denials: Iterator[Denial] = reading.denials()
    if not selection.empty:
        denials = (d for d in denials if selection(d))
    return explain.paragraphs(explain.operations(denials)) if fold else denials


def _read_part(index: int) -> _TextPart:
    """Worker: read part ``index`` (after the Landlock records of the parts
    before it) and render its items (of paragraphs, all but the first and
    the last)."""
    assert _job is not None
    parts, options, render, separator, scratch = _job
    registry = DomainRegistry()
    for _ in _reading(parts[:index], options, Diagnostics(quiet=True), registry,
                      context=False).events():
        pass  # the domains of the earlier parts, as the single pass knows them here
    gc.collect()  # (what that reading left: the memory of the whole tree is bounded)
    messages: List[str] = []
    diagnostics = Diagnostics(sink=messages.append)
    selection = Selection.from_options(**options["selection"])
    reading = _reading([parts[index]], options, diagnostics, registry, options["context"])
    first: Optional[bytes] = None
    held: Optional[explain.Paragraph] = None
    count = 0
    middle = f"{scratch}-{index}.txt"
    with open(middle, "w", encoding="utf-8", errors="backslashreplace", newline="") as out:
        if not options["fold"]:  # every line here
            for item in _items(reading, selection, False):
                count += 1
                out.write(render(item))
        else:  # the paragraphs but the first and the last, kept as objects
            for paragraph in _items(reading, selection, True):
                count += 1
                if first is None:
                    first = pickle.dumps(paragraph, pickle.HIGHEST_PROTOCOL)
                    continue
                if held is not None:
                    out.write(separator + render(held))
                held = paragraph
    registry.close()
    stats = reading.grouper.stats
    return _TextPart(first, middle, None if held is None else
                      pickle.dumps(held, pickle.HIGHEST_PROTOCOL), count, messages,
                      diagnostics.counts(), selection.observed(),
                      stats_counts(stats), plain_notices(stats))


class ParallelText:
    """The rendered items of ``parts`` (explain's paragraphs with
    ``options["fold"]``, else the selected denials), in input order, read on
    ``jobs`` processes: iterate for the text (pieces of it); then
    :attr:`count` is the number of items and :attr:`stats` the grouping
    statistics of the whole input.  ``render`` gives an item's text,
    ``separator`` goes between two paragraphs (none between denials)."""

    def __init__(self, parts: List[Span], options: TextOptions, jobs: int,
                 diagnostics: Diagnostics, selection: Selection, render: Render,
                 separator: str = ""):
        assert options["fold"] or not separator
        self.parts = parts
        self.options = options
        self.jobs = jobs
        self.diagnostics = diagnostics
        self.selection = selection
        self.render = render
        self.separator = separator
        self.count = 0
        self.stats = GroupingStats()
        self._held: Optional[explain.Paragraph] = None

    def _text(self, paragraph: explain.Paragraph) -> str:
        text = (self.separator if self.count else "") + self.render(paragraph)
        self.count += 1
        return text

    def __iter__(self) -> Iterator[str]:
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
                for part in others:
                    yield from self._merge(part)
                if self._held is not None:
                    yield self._text(self._held)
                # (idle workers end when told there is no more work; a
                # terminated one may miss its signal while it starts)
                pool.close()
                pool.join()
            except BaseException:
                pool.terminate()
                raise
            finally:
                _job = None

    def _own_part(self) -> Iterator[str]:
        """The first part, read and rendered here as it comes; its last
        paragraph is held (the next part may fold into it)."""
        reading = _reading(self.parts[:1], self.options, self.diagnostics,
                           DomainRegistry(), self.options["context"])
        if not self.options["fold"]:
            for item in _items(reading, self.selection, False):
                yield self._text(item)
        else:
            for paragraph in _items(reading, self.selection, True):
                if self._held is not None:
                    yield self._text(self._held)
                self._held = paragraph
        reading.registry.close()
        stats = reading.grouper.stats
        add_stats(self.stats, stats_counts(stats), plain_notices(stats))

    def _merge(self, part: _TextPart) -> Iterator[str]:
        """A worker's part after what came before it."""
        diagnostics = self.diagnostics
        for message in part.messages:
            diagnostics.emit(message)
        diagnostics.add_counts(*part.counts)
        self.selection.absorb_observed(part.observed)
        add_stats(self.stats, part.stats, part.notices)
        try:
            if not self.options["fold"]:  # (no separator between lines)
                self.count += part.paragraphs
                yield from self._copy(part.middle)
                return
            if part.first is None:
                return
            first: explain.Paragraph = pickle.loads(part.first)
            held = self._held
            if held is not None and explain.alike(held.denials, first.denials):
                held.count += first.count   # the fold of explain.paragraphs, across the cut
                held.last_time = first.last_time
            else:
                if held is not None:
                    yield self._text(held)
                self._held = held = first
            if part.last is None:
                return
            yield self._text(held)
            self.count += part.paragraphs - 2
            yield from self._copy(part.middle)
            self._held = pickle.loads(part.last)
        finally:
            os.unlink(part.middle)

    @staticmethod
    def _copy(path: str) -> Iterator[str]:
        """The text of a worker's scratch file, in pieces."""
        with open(path, encoding="utf-8", newline="") as text:
            while True:
                piece = text.read(COPY_PIECE)
                if not piece:
                    break
                yield piece
