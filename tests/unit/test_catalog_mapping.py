"""Finding include/ and loading the feed mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from fb_commerce.catalog.mapping import INCLUDE_DIR_ENV, default_mapping_path, include_dir, load_query, strip_query
from fb_commerce.catalog.rejects import FeedError
from fb_commerce.catalog.source import libpq_uri

ROOT = Path(__file__).resolve().parents[2]


def test_include_dir_defaults_to_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INCLUDE_DIR_ENV, raising=False)
    assert include_dir() == ROOT / "include"
    assert default_mapping_path() == ROOT / "include" / "sql" / "catalog" / "feed_mapping.sql"
    assert "FROM products" in load_query()


def test_include_dir_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "sql" / "catalog").mkdir(parents=True)
    (tmp_path / "sql" / "catalog" / "feed_mapping.sql").write_text("SELECT 1 AS id")
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(tmp_path))
    assert include_dir() == tmp_path
    assert load_query(None) == "SELECT 1 AS id"


def test_load_query_from_a_path_a_path_string_or_sql(tmp_path: Path) -> None:
    sql_file = tmp_path / "mine.sql"
    sql_file.write_text("SELECT sku AS id FROM t")
    assert load_query(sql_file) == "SELECT sku AS id FROM t"
    assert load_query(str(sql_file)) == "SELECT sku AS id FROM t"
    assert load_query("SELECT 2 AS id") == "SELECT 2 AS id"


def test_load_query_errors(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="not found"):
        load_query(tmp_path / "absent.sql")
    with pytest.raises(FeedError, match="empty"):
        load_query("  \n")


def test_strip_query_drops_semicolons_and_ends_with_a_newline() -> None:
    assert strip_query("  SELECT 1 ;; \n") == "SELECT 1\n"
    assert strip_query("SELECT 1 -- note") == "SELECT 1 -- note\n"
    assert strip_query("SELECT 1; -- the end\n/* really */ ;\n") == "SELECT 1\n"
    assert strip_query("SELECT ';' AS a, \"x;y\" -- c;\nFROM t /* ; */") == (
        "SELECT ';' AS a, \"x;y\" -- c;\nFROM t /* ; */\n"
    )
    assert strip_query("SELECT 'it''s; fine' AS a;") == "SELECT 'it''s; fine' AS a\n"


def test_strip_query_refuses_two_statements() -> None:
    with pytest.raises(FeedError, match="single SELECT"):
        strip_query("DELETE FROM t; SELECT 1")


def test_libpq_uri_from_a_sqlalchemy_url() -> None:
    uri = libpq_uri("postgresql+psycopg2://me:p%40ss@db.example:5433/shop?options=-csearch_path%3Dx&sslmode=require")
    assert uri == (
        "postgresql://me:p%40ss@db.example:5433/shop?options=-csearch_path%3Dx%20-c%20timezone%3DUTC&sslmode=require"
    )
    assert libpq_uri("postgresql://localhost/db") == "postgresql://localhost/db?options=-c%20timezone%3DUTC"
    # a time zone set by the URL is kept, not doubled
    assert libpq_uri("postgresql://h/db?options=-c%20TimeZone%3DEurope/Paris").lower().count("timezone") == 1
