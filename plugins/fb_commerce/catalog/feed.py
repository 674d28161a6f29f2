"""Streaming feed file writers: CSV (default), TSV, and RSS 2.0 XML with the Google ``g:`` namespace.

Writers take record batches of text columns as they come and hold nothing but the current batch, so memory is
bounded whatever the catalog size. CSV and TSV go through pyarrow's CSV writer: a header row of Meta's field names,
every text value quoted with inner quotes doubled (RFC 4180, which Meta's feed parser reads; commas, tabs, quotes
and line breaks inside values are safe), empty values unquoted. TSV is the same with a tab delimiter: values that
contain a tab or a line break stay quoted rather than being mangled.

:func:`atomic_path` gives writers a temporary file next to the target that replaces it only when everything went
well, so a half-written or rejected feed never takes the place of the last good one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Literal, Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fb_commerce.catalog.text import string_buffers

FeedFormat = Literal["csv", "tsv", "xml"]
Sink: TypeAlias = pa.NativeFile | BinaryIO
FORMATS: tuple[str, ...] = ("csv", "tsv", "xml")
SUFFIXES: dict[str, str] = {"csv": ".csv", "tsv": ".tsv", "xml": ".xml"}
GOOGLE_NAMESPACE = "http://base.google.com/ns/1.0"
# Characters XML 1.0 cannot carry at all. Validation rejects them first; the writer refuses them too rather than
# drop them, since a value written other than it was read is a value the merchant did not mean.
_NOT_XML = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x{FFFE}\x{FFFF}]"
# A parser turns a raw carriage return (alone or before a line feed) into a line feed (XML 1.0 §2.11); the
# character reference reads back as the carriage return itself.
_XML_ENTITIES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))


class XmlValueError(ValueError):
    """A value holds a character XML 1.0 cannot carry (the validator rejects these before any writer sees them)."""


class FeedWriter(Protocol):
    """Something batches of feed rows are written to, then closed."""

    rows_written: int

    def write(self, batch: pa.RecordBatch) -> None:
        """Append the rows of ``batch`` (columns in the writer's order)."""

    def close(self) -> None:
        """Finish the file (footer, flush)."""


class DelimitedFeedWriter:
    """CSV or TSV rows through pyarrow's C++ CSV writer."""

    def __init__(self, sink: Sink, columns: Sequence[str], *, delimiter: str = ",") -> None:
        self.schema = pa.schema([(name, pa.string()) for name in columns])
        options = pacsv.WriteOptions(include_header=True, delimiter=delimiter, quoting_style="needed")
        self._writer = pacsv.CSVWriter(sink, self.schema, write_options=options)
        self.rows_written = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Append ``batch`` (same column order as the header)."""
        if batch.num_rows:
            self._writer.write_batch(batch.cast(self.schema) if batch.schema != self.schema else batch)
            self.rows_written += batch.num_rows

    def close(self) -> None:
        """Flush the writer (the sink stays open)."""
        self._writer.close()


def _escape_xml(values: pa.Array) -> pa.Array:
    if pc.any(pc.match_substring_regex(values, _NOT_XML)).as_py():
        raise XmlValueError("a feed value holds a character XML cannot carry (a control character or U+FFFE/U+FFFF)")
    escaped = values
    for raw, entity in _XML_ENTITIES:
        escaped = pc.replace_substring(escaped, raw, entity)
    return escaped


class XmlFeedWriter:
    """RSS 2.0 with one ``<item>`` per product and each field as a ``<g:field>`` element.

    Items are built column-wise with pyarrow (escape, wrap in tags, join per row): no Python loop over rows. Empty
    fields are left out. ``additional_image_link`` stays one element with its comma-separated list, as in CSV.
    """

    def __init__(
        self,
        sink: Sink,
        columns: Sequence[str],
        *,
        title: str = "Product feed",
        link: str = "https://www.facebook.com/commerce_manager",
    ) -> None:
        self._sink = sink
        self._columns = list(columns)
        self.rows_written = 0
        escape = _escape_xml(pa.array([title, link], pa.string())).to_pylist()
        sink.write(
            (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<rss version="2.0" xmlns:g="{GOOGLE_NAMESPACE}">\n<channel>\n'
                f"<title>{escape[0]}</title>\n<link>{escape[1]}</link>\n"
                f"<description>{escape[0]}</description>\n"
            ).encode()
        )

    def write(self, batch: pa.RecordBatch) -> None:
        """Append one ``<item>`` per row of ``batch``."""
        if not batch.num_rows:
            return
        elements = []
        for name, values in zip(self._columns, batch.columns, strict=True):
            text = _escape_xml(values)
            element = pc.binary_join_element_wise(f"<g:{name}>", text, f"</g:{name}>\n", "")
            empty = pc.fill_null(pc.equal(pc.binary_length(values), 0), True)
            elements.append(pc.if_else(empty, "", element))
        items = pc.binary_join_element_wise("<item>\n", *elements, "</item>\n", "")
        # No item is null, so the array's data buffer is exactly the items one after the other: write it as is.
        offsets, _ = string_buffers(items)
        self._sink.write(items.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])))
        self.rows_written += batch.num_rows

    def close(self) -> None:
        """Write the closing tags."""
        self._sink.write(b"</channel>\n</rss>\n")


def open_writer(sink: Sink, columns: Sequence[str], fmt: FeedFormat = "csv") -> FeedWriter:
    """A writer of format ``fmt`` ("csv", "tsv" or "xml") on an open binary ``sink``."""
    if fmt == "csv":
        return DelimitedFeedWriter(sink, columns)
    if fmt == "tsv":
        return DelimitedFeedWriter(sink, columns, delimiter="\t")
    if fmt == "xml":
        return XmlFeedWriter(sink, columns)
    raise ValueError(f"unknown feed format {fmt!r}; use one of {', '.join(FORMATS)}")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path in ``target``'s folder that replaces ``target`` (atomic rename) if the block succeeds and
    is deleted if it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; the feed is read by whatever serves or uploads it
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class FeedFile:
    """A feed being written to ``path`` through a temporary file: ``with FeedFile(path, columns, fmt) as feed:``
    then ``feed.write(batch)``; the file appears at ``path`` only when the block ends without an exception."""

    def __init__(self, path: Path, columns: Sequence[str], fmt: FeedFormat = "csv") -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.fmt = fmt
        self._stack = contextlib.ExitStack()
        self._writer: FeedWriter | None = None
        self.bytes_written = 0

    @property
    def rows_written(self) -> int:
        """Rows written so far."""
        return self._writer.rows_written if self._writer else 0

    def __enter__(self) -> FeedFile:
        with contextlib.ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self.path))
            # A native Arrow file: the CSV writer's output goes to disk without passing through Python.
            self._sink = stack.enter_context(pa.OSFile(str(temporary), "wb"))
            self._temporary = temporary
            self._writer = open_writer(self._sink, self.columns, self.fmt)
            self._stack = stack.pop_all()
        return self

    def write(self, batch: pa.RecordBatch) -> None:
        """Append the rows of ``batch``."""
        assert self._writer is not None, "use FeedFile as a context manager"
        self._writer.write(batch)

    def write_all(self, batches: Iterable[pa.RecordBatch]) -> None:
        """Append each of ``batches`` in turn (holding one at a time)."""
        for batch in batches:
            self.write(batch)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool | None:
        if kind is None and self._writer is not None:
            try:
                self._writer.close()
                self.bytes_written = self._sink.tell()
            except BaseException as failure:  # a file that failed to finish must not replace the feed
                self._stack.__exit__(type(failure), failure, failure.__traceback__)
                raise
        return self._stack.__exit__(kind, error, trace)
