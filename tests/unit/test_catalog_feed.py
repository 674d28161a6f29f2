"""Feed file writers: CSV and TSV that parse back exactly, RSS XML, and the atomic replacement of the file."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pytest

from fb_commerce.catalog.feed import GOOGLE_NAMESPACE, FeedFile, XmlValueError, atomic_path, open_writer

ROWS = [
    {"id": "A-1", "title": 'Shirt, "classic"', "description": "line one\nline two\r\nthree\ttabbed"},
    {"id": "A-2", "title": "", "description": None},
    {"id": "A,3", "title": "Ünïcödé ✓ 😀 & <b>", "description": "' quote"},
]
COLUMNS = ["id", "title", "description"]


def batch(rows: list[dict[str, str | None]]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS], COLUMNS)


def write(path: Path, fmt: str, rows: list[dict[str, str | None]] = ROWS) -> FeedFile:
    with FeedFile(path, COLUMNS, fmt) as feed:
        feed.write(batch(rows[:2]))
        feed.write(batch(rows[2:]))
    return feed


def parse_delimited(path: Path, delimiter: str) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


@pytest.mark.parametrize(("fmt", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_delimited_feed_parses_back_exactly(tmp_path: Path, fmt: str, delimiter: str) -> None:
    path = tmp_path / f"feed.{fmt}"
    feed = write(path, fmt)
    assert feed.rows_written == 3
    assert feed.bytes_written == path.stat().st_size
    parsed = parse_delimited(path, delimiter)
    assert parsed[0] == COLUMNS
    assert parsed[1:] == [[row[c] or "" for c in COLUMNS] for row in ROWS]


def test_header_is_written_even_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    write(path, "csv", [])
    assert parse_delimited(path, ",") == [COLUMNS]


def test_xml_feed_is_rss_with_the_google_namespace(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    write(path, "xml")
    root = ET.parse(path).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("./channel/item")
    assert len(items) == 3
    g = f"{{{GOOGLE_NAMESPACE}}}"
    first = {child.tag.removeprefix(g): child.text for child in items[0]}
    # The carriage return reads back as itself (a raw one would be read as a line feed).
    assert first == {"id": "A-1", "title": 'Shirt, "classic"', "description": "line one\nline two\r\nthree\ttabbed"}
    assert items[1].find(f"{g}title") is None  # empty fields are left out
    assert items[2].find(f"{g}title").text == "Ünïcödé ✓ 😀 & <b>"


@pytest.mark.parametrize("value", ["ctl\x01char", "x\x00", "\ufffe"])
def test_xml_writer_refuses_what_xml_cannot_carry(tmp_path: Path, value: str) -> None:
    """Never dropped silently: the validator rejects these first, and the writer refuses them on its own too."""
    path = tmp_path / "feed.xml"
    with pytest.raises(XmlValueError):
        write(path, "xml", [*ROWS, {"id": "A-4", "title": value, "description": "x"}])
    assert not path.exists()


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown feed format"):
        open_writer(io.BytesIO(), COLUMNS, "json")  # type: ignore[arg-type]


def test_the_feed_appears_only_when_complete(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("previous feed\n")
    with pytest.raises(RuntimeError, match="source broke"), FeedFile(path, COLUMNS, "csv") as feed:
        feed.write(batch(ROWS))
        raise RuntimeError("source broke")
    assert path.read_text() == "previous feed\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed.csv"]  # no temporary file left behind
    write(path, "csv")
    assert parse_delimited(path, ",")[1][0] == "A-1"
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_atomic_path_creates_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "catalog.csv"
    with atomic_path(target) as temporary:
        assert temporary.parent == target.parent
        temporary.write_text("x")
        assert not target.exists()
    assert target.read_text() == "x"
