"""The one rule every setting is read by (fb_commerce.settings), and the operators and hooks that use it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fb_commerce.settings import (
    SettingError,
    as_bool,
    as_choice,
    as_decimal,
    as_int,
    as_number,
    as_text,
    is_unset,
)


@pytest.mark.parametrize("value", [True, "true", "True", " TRUE ", "yes", "on", "On", "1", 1])
def test_true_spellings(value):
    assert as_bool(value, "flag") is True


@pytest.mark.parametrize("value", [False, "false", "False", "no", "off", "OFF", "0", 0])
def test_false_spellings(value):
    assert as_bool(value, "flag") is False


@pytest.mark.parametrize("value", ["maybe", "ja", "2", 2, -1, 0.5, "truthy", [], {}])
def test_anything_else_is_not_a_boolean(value):
    with pytest.raises(SettingError, match=r"setting update_only must be true or false") as info:
        as_bool(value, "update_only")
    assert repr(value) in str(info.value) and info.value.name == "update_only"


def test_unset_boolean_takes_its_default_or_is_refused():
    assert as_bool(None, "auto_upgrade", default=True) is True
    assert as_bool("", "auto_upgrade", default=True) is True
    assert as_bool("None", "auto_upgrade", default=False) is False
    with pytest.raises(SettingError, match=r"setting register must be true or false .*, got None"):
        as_bool(None, "register")


@pytest.mark.parametrize(
    ("value", "expected"), [(15, 15.0), ("15", 15.0), (" 15.5 ", 15.5), (0.05, 0.05), ("-2", -2.0), ("1e2", 100.0)]
)
def test_numbers(value, expected):
    assert as_number(value, "overlap_minutes") == expected


@pytest.mark.parametrize("value", ["soon", "nan", "inf", "-inf", True, False, [1], "", None, "None"])
def test_what_is_not_a_number(value):
    with pytest.raises(SettingError, match="setting overlap_minutes must be a number, got"):
        as_number(value, "overlap_minutes")


def test_number_bounds_and_optional():
    assert as_number("0.05", "reject_limit", minimum=0, maximum=1) == 0.05
    assert as_number("None", "reject_limit", minimum=0, maximum=1, optional=True) is None
    assert as_number("", "reject_limit", optional=True) is None
    assert as_number(None, "lookback_days", default=30) == 30
    with pytest.raises(SettingError, match=r"setting reject_limit must be a number between 0 and 1, got '1.5'"):
        as_number("1.5", "reject_limit", minimum=0, maximum=1)
    with pytest.raises(SettingError, match="a number of at least 0, got -1"):
        as_number(-1, "x", minimum=0)


@pytest.mark.parametrize(("value", "expected"), [(100, 100), ("100", 100), ("100.0", 100), (3000.0, 3000)])
def test_whole_numbers(value, expected):
    result = as_int(value, "page_size")
    assert result == expected and isinstance(result, int)


@pytest.mark.parametrize("value", ["15.5", 15.5, "ten", True, None, ""])
def test_what_is_not_a_whole_number(value):
    with pytest.raises(SettingError, match="setting page_size must be a whole number"):
        as_int(value, "page_size")


def test_whole_number_bounds():
    assert as_int("5000", "batch_size", minimum=1, maximum=5000) == 5000
    for bad in ("0", "5001"):
        with pytest.raises(SettingError, match=f"batch_size must be a whole number between 1 and 5000, got '{bad}'"):
            as_int(bad, "batch_size", minimum=1, maximum=5000)
    assert as_int(None, "batch_size", optional=True) is None


def test_choices():
    assert as_choice(" URL ", "upload_mode", ("file", "url")) == "url"
    assert as_choice(None, "error_report", ("auto", "always", "never"), default="auto") == "auto"
    for bad in ("ftp", "", 1, None):
        with pytest.raises(SettingError, match="setting upload_mode must be one of file, url, got"):
            as_choice(bad, "upload_mode", ("file", "url"))


def test_text():
    assert as_text(" https://shop.example/feed.csv ", "feed_url") == "https://shop.example/feed.csv"
    assert as_text(Path("/data/feed.csv"), "feed_path") == "/data/feed.csv"
    assert as_text("", "feed_url", optional=True) is None
    assert as_text("None", "feed_path", optional=True) is None
    with pytest.raises(SettingError, match="setting feed_name must be a text, got None"):
        as_text(None, "feed_name")
    with pytest.raises(SettingError, match="setting feed_name must be a text, got 7"):
        as_text(7, "feed_name")


def test_unset():
    assert all(is_unset(v) for v in (None, "", "  ", "None", "none"))
    assert not any(is_unset(v) for v in (0, False, "0", "null"))


# --- the operators and hooks read their settings by this rule ---------------------------------------------


def test_a_refused_setting_fails_the_task_without_retry_naming_it():
    from airflow.sdk.exceptions import AirflowFailException

    from fb_commerce.operators.orders import ReadBackOrdersOperator

    operator = ReadBackOrdersOperator(task_id="read_back", overlap_minutes="soon")
    with pytest.raises(AirflowFailException, match="setting overlap_minutes must be a number, got 'soon'"):
        operator.window()


def test_the_setup_check_reads_on_as_true_like_every_other_boolean():
    from fb_commerce.operators.setup_check import SetupCheckOperator

    operator = SetupCheckOperator(task_id="run_checks", register_order_management_app="on")
    assert operator.setting("register_order_management_app", as_bool) is True


def test_connection_extras_follow_the_same_rule(monkeypatch, tmp_path):
    import json

    from airflow.sdk import Connection

    from fb_commerce.hooks.graph import settings_from_connection
    from fb_commerce.hooks.warehouse import WarehouseHook

    def graph_conn(**extra):
        return Connection(conn_id="g", conn_type="fb_commerce", password="t", extra=json.dumps(extra))

    assert settings_from_connection(graph_conn(verify="off")).verify is False
    assert settings_from_connection(graph_conn(verify="/etc/ca.pem")).verify == "/etc/ca.pem"
    assert settings_from_connection(graph_conn(max_attempts="7")).max_attempts == 7
    with pytest.raises(SettingError, match=r"setting max_attempts must be a whole number, got '7\.5'"):
        settings_from_connection(graph_conn(max_attempts="7.5"))

    def warehouse(extra):
        monkeypatch.setenv(
            "AIRFLOW_CONN_FB_COMMERCE_WAREHOUSE",
            json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "w.db"), "extra": extra}),
        )
        return WarehouseHook()

    assert warehouse({"auto_upgrade": "off"}).auto_upgrade is False
    assert warehouse({"auto_upgrade": "yes"}).auto_upgrade is True
    with pytest.raises(SettingError, match=r"setting auto_upgrade must be true or false .*, got 'sometimes'"):
        _ = warehouse({"auto_upgrade": "sometimes"}).auto_upgrade


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [("0.05", 6, "0.050000"), (0.05, 6, "0.050000"), ("8", 2, "8.00"), (" 0.40 ", 2, "0.40"), (1, 2, "1.00")],
)
def test_decimals_are_read_exactly(value, places, expected):
    assert str(as_decimal(value, "fee_rate", places=places)) == expected


@pytest.mark.parametrize("value", ["0.001", "abc", "NaN", "-0.01", True, "1e400"])
def test_a_decimal_with_too_many_places_or_out_of_range_is_refused(value):
    with pytest.raises(SettingError, match="tolerance"):
        as_decimal(value, "tolerance", places=2, minimum=0)


def test_an_unset_decimal_is_its_default():
    assert as_decimal(None, "tolerance", places=2, default=Decimal("0.00")) == Decimal("0.00")
