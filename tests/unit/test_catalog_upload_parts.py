"""Feed upload pieces without a network: the session verdict, error samples, the error report reader, the values
read back from feed files, and the reject spool."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fb_commerce.catalog import upload
from fb_commerce.catalog.feed_readback import parse_price, read_feed_state
from fb_commerce.catalog.rejects import Reject
from fb_commerce.catalog.upload_store import RejectSpool


def session(**counts: object) -> upload.UploadSession:
    return upload.UploadSession("U1", {"id": "U1", "end_time": "2026-01-01T00:00:00+0000", **counts})


def error(severity: str, total: int, *ids: str) -> upload.UploadError:
    return upload.UploadError(severity, f"{severity} thing", "d", total, [{"retailer_id": i} for i in ids])


def test_session_counts_and_share():
    s = session(num_detected_items=200, num_invalid_items=11, error_count="11")
    assert s.finished and s.count("error_count") == 11 and s.count("missing") == 0
    assert s.invalid_share == pytest.approx(0.055)
    assert "200 products read" in s.describe() and "11 refused" in s.describe()
    assert not upload.UploadSession("U2", {"id": "U2"}).finished
    assert session(num_detected_items=0, error_count=1).invalid_share == 1.0  # Meta could not read the file
    assert session(num_detected_items=0).invalid_share == 0.0


def test_the_limit_decides():
    s = session(num_detected_items=200, num_invalid_items=11)
    errors = [error("fatal", 11, "A"), error("warning", 40)]
    with pytest.raises(upload.TooManyFeedErrors) as failed:
        upload.check_invalid_share(s, errors, 0.05)
    text = str(failed.value)
    assert "11 of 200 products (5.50%)" in text and "fatal thing (11 rows)" in text and "warning thing" not in text
    assert "fb_feed_upload_errors" in text and "fatal_error_limit" in text
    upload.check_invalid_share(s, errors, 0.06)
    upload.check_invalid_share(s, errors, None)


def test_refused_ids_and_whether_the_sample_names_them_all():
    complete = [error("fatal", 2, "A", "B"), error("warning", 9, "C")]
    assert upload.refused_ids(complete) == {"A", "B"} and not upload.needs_report(complete)
    partial = [error("fatal", 7, "A", "B")]
    assert upload.needs_report(partial)


def test_report_pending_states():
    assert upload.report_pending("WRITE_IN_PROGRESS") and upload.report_pending("")
    assert not upload.report_pending("WRITE_FINISHED") and not upload.report_pending("WRITE_FAILED")


def test_error_report_reader_maps_columns(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text(
        '\ufeffRow_Number,ID,Severity,Summary,Description\n5,SKU-1,fatal,Missing title,"no, title"\nx,,warning,Odd,\n'
    )
    first, second = upload.read_error_report(path)
    assert (first["row_number"], first["retailer_id"], first["severity"], first["description"]) == (
        5,
        "SKU-1",
        "fatal",
        "no, title",
    )
    assert first["raw"]["summary"] == "Missing title"
    assert second["row_number"] is None and second["retailer_id"] is None


def test_parse_price():
    assert parse_price("19.9 USD") == (Decimal("19.90"), "USD")
    assert parse_price("") == (None, None) and parse_price("9,99 EUR") == (None, None)


CSV = (
    "id,title,description,availability,price,quantity_to_sell_on_facebook,sale_price\n"
    'SKU-1,Shirt,"two\nlines, and a comma",in stock,19.90 USD,3,15.00 USD\n'
    "SKU-2,Cap,plain,out of stock,5.00 EUR,0,\n"
    ",No id,x,in stock,1.00 USD,1,\n"
)


def test_state_is_read_back_from_csv_and_tsv(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text(CSV)
    rows = list(read_feed_state(path, "csv", block_size=100))  # small blocks: rows span two
    assert [r["retailer_id"] for r in rows] == ["SKU-1", "SKU-2"]
    assert (rows[0]["quantity"], rows[0]["price"], rows[0]["sale_price"], rows[0]["currency"]) == (
        3,
        Decimal("19.90"),
        Decimal("15.00"),
        "USD",
    )
    assert (rows[1]["availability"], rows[1]["sale_price"], rows[1]["currency"]) == ("out of stock", None, "EUR")
    tsv = tmp_path / "feed.tsv"
    tsv.write_text("id\tavailability\tprice\tquantity_to_sell_on_facebook\nSKU-3\tin stock\t2.00 USD\t7\n")
    [row] = read_feed_state(tsv, "tsv")
    assert (row["retailer_id"], row["quantity"], row["sale_price"]) == ("SKU-3", 7, None)


def test_state_is_read_back_from_rss_xml(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel><title>t</title>'
        "<item><g:id>SKU-1</g:id><g:availability>in stock</g:availability><g:price>4.50 USD</g:price>"
        "<g:quantity_to_sell_on_facebook>2</g:quantity_to_sell_on_facebook></item>"
        "<item><g:title>no id</g:title></item></channel></rss>"
    )
    [row] = read_feed_state(path, "xml")
    assert (row["retailer_id"], row["price"], row["quantity"]) == ("SKU-1", Decimal("4.50"), 2)


def test_reject_spool_gives_back_what_it_kept():
    rejects = [Reject(1, "A", "price", "missing (required)", None), Reject(2, None, "id", "too long", "x" * 10)]
    with RejectSpool() as spool:
        spool.add(rejects[:1])
        spool.add(rejects[1:])
        assert spool.count == 2 and list(spool) == rejects and list(spool) == rejects
