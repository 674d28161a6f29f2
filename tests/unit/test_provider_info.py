"""The installed package registers the `fb_commerce` connection type and its form with Airflow."""

from __future__ import annotations


def test_airflow_discovers_the_connection_type_and_its_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "fb-commerce-pipelines" in manager.providers
    hook = manager.hooks["fb_commerce"]
    assert hook is not None and hook.hook_class_name == "fb_commerce.hooks.graph.FbCommerceHook"
    widgets = manager.connection_form_widgets
    assert widgets["extra__fb_commerce__app_secret"].is_sensitive
    for name in ("api_version", "cms_id", "catalog_id", "feed_id", "page_id"):
        assert not widgets[f"extra__fb_commerce__{name}"].is_sensitive
    behaviour = manager.field_behaviours["fb_commerce"]
    assert "login" in behaviour["hidden_fields"] and behaviour["relabeling"]["password"] == "Access token"


def test_the_hook_reads_the_ui_form_of_extras(monkeypatch):
    import json

    from fb_commerce.hooks.graph import FbCommerceHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_FB_COMMERCE_DEFAULT",
        json.dumps(
            {
                "conn_type": "fb_commerce",
                "password": "t",
                "extra": {"extra__fb_commerce__cms_id": "42", "extra__fb_commerce__app_secret": "s"},
            }
        ),
    )
    hook = FbCommerceHook()
    assert hook.cms_id == "42"
    assert hook.client.settings.base_url == "https://graph.facebook.com"
    assert hook.feed_id is None


def test_extras_never_become_http_headers(monkeypatch):
    """HttpHook sends unknown extras as headers; ours must not, or the app secret would go over the wire."""
    import json

    from fb_commerce.hooks.graph import FbCommerceHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_FB_COMMERCE_DEFAULT",
        json.dumps(
            {"conn_type": "fb_commerce", "password": "t", "extra": {"app_secret": "very-secret", "cms_id": "1"}}
        ),
    )
    session = FbCommerceHook().get_conn()
    assert all("very-secret" not in str(v) for v in session.headers.values())
    assert "app_secret" not in {k.lower() for k in session.headers}
