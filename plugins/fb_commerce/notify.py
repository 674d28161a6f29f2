"""The alerts notifier: Airflow's Apprise notifier on the connection ``fb_commerce_alerts``.

Apprise reaches e-mail (``mailtos://``), Slack (``slack://``), Teams, webhooks (``json://``, ``form://``) and many
more from one URL per service, kept in the connection (type ``apprise``, extra ``config``:
``{"path": "<apprise URL>"}`` or a list of them), so the URLs and their secrets stay out of DAG files and logs.
The connection is optional: without it, alerts are log lines only.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.apprise.notifications.apprise import AppriseNotifier

from fb_commerce.defaults import ALERTS_CONN_ID


class NotificationFailed(RuntimeError):
    """No service of the alerts connection accepted the notification."""


class AlertNotifier(AppriseNotifier):
    """Apprise's notifier, except that a notification no service accepted raises :class:`NotificationFailed`
    (Apprise's hook only logs it), so the alert is not recorded as sent and goes again next run."""

    def notify(self, context: Any) -> None:
        import apprise

        services = apprise.Apprise()
        connection = self.hook.get_connection(self.apprise_conn_id)
        if "config" not in connection.extra_dejson:
            raise NotificationFailed(
                f'connection {self.apprise_conn_id} has no extra "config" (e.g. {{"path": "<Apprise URL>"}})'
            )
        self.hook.set_config_from_conn(conn=connection, apprise_obj=services)
        if not len(services):
            raise NotificationFailed(f"connection {self.apprise_conn_id} has no Apprise URL that Apprise accepts")
        delivered = services.notify(
            body=self.body,
            title=self.title or "",
            notify_type=self.notify_type,
            body_format=self.body_format,
            tag=self.tag,
        )
        if not delivered:
            raise NotificationFailed(
                f"no service of connection {self.apprise_conn_id} accepted the notification (see Apprise's "
                "warnings above)"
            )


def alerts_connection_exists(conn_id: str = ALERTS_CONN_ID) -> bool:
    """Whether the alerts connection is configured (environment, secrets backend or metadata database)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def send_alert(title: str, body: str, *, conn_id: str = ALERTS_CONN_ID) -> None:
    """Send one notification through ``conn_id``; raises :class:`NotificationFailed` when nobody got it.

    The text is sent as it is: it is not rendered as a template (it carries order data).
    """
    from apprise import NotifyType

    notifier = AlertNotifier(body=body, title=title, apprise_conn_id=conn_id, notify_type=NotifyType.WARNING)
    notifier.notify({})  # notify(), not __call__: that would render the text as a Jinja template
