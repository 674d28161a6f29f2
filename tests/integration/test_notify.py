"""The alerts notifier over real HTTP: Apprise posts to a local JSON webhook; nobody reached is an error."""

from __future__ import annotations

import json

import pytest
from support import WebhookReceiver, closed_port, set_alerts_connection

from fb_commerce.notify import NotificationFailed, alerts_connection_exists, send_alert


def test_a_notification_arrives_as_sent_and_is_not_rendered(monkeypatch):
    with WebhookReceiver() as receiver:
        set_alerts_connection(monkeypatch, f"json://127.0.0.1:{receiver.port}/alerts")
        assert alerts_connection_exists()
        send_alert("fb-commerce: 1 new alert", "- order {{ 7 * 6 }} is late")  # order data is never a template
    [message] = receiver.messages
    assert (message["title"], message["message"], message["type"]) == (
        "fb-commerce: 1 new alert",
        "- order {{ 7 * 6 }} is late",
        "warning",
    )


def test_unreachable_or_misconfigured_notifiers_raise(monkeypatch):
    set_alerts_connection(monkeypatch, f"json://user:hook-s3cret@127.0.0.1:{closed_port()}/")
    with pytest.raises(NotificationFailed, match="no service of connection fb_commerce_alerts accepted") as error:
        send_alert("title", "body")
    assert "hook-s3cret" not in str(error.value)
    monkeypatch.setenv("AIRFLOW_CONN_FB_COMMERCE_ALERTS", json.dumps({"conn_type": "apprise", "extra": {}}))
    with pytest.raises(NotificationFailed, match='no extra "config"'):
        send_alert("title", "body")


def test_no_connection_means_no_notifier(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_FB_COMMERCE_ALERTS", raising=False)
    assert not alerts_connection_exists()
