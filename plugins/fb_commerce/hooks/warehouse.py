"""Airflow hook for the fb-commerce warehouse: a SQLAlchemy engine from ``fb_commerce_warehouse``.

The connection can be:

- any type with ``{"sqlalchemy_url": "..."}`` in its extra (wins over everything else);
- ``sqlite``: host is the database file path;
- ``postgres`` / ``postgresql``: host, port, login, password, schema (= database), and libpq parameters from
  the extra (``options`` such as ``-csearch_path=warehouse``, ``sslmode``, ...).

Extra ``auto_upgrade`` (default true) says whether DAGs may migrate the schema themselves; set it to false
where a DBA runs ``fb-commerce db upgrade``, and the tasks refuse to run on an old schema with a message
saying so.

When the connection does not exist, the embedded SQLite file ``$FB_COMMERCE_DATA_DIR/warehouse.db`` is used,
so a fresh clone works with no setup.

Only this module knows about Airflow; everything it calls lives in :mod:`fb_commerce.warehouse`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from fb_commerce.defaults import WAREHOUSE_CONN_ID
from fb_commerce.settings import as_bool

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

# libpq connection parameters a postgres connection's extra may carry through to the URL.
LIBPQ_PARAMETERS = (
    "options",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "connect_timeout",
    "application_name",
    "target_session_attrs",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
)
SQLITE_TYPES = ("sqlite",)
POSTGRES_TYPES = ("postgres", "postgresql")


def url_from_connection(conn: Any) -> URL:
    """The SQLAlchemy URL an Airflow connection describes (the accepted forms: see the module docstring)."""
    import sqlalchemy as sa

    from fb_commerce.warehouse.paths import default_warehouse_path

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return sa.make_url(str(extra["sqlalchemy_url"]))
    conn_type = (conn.conn_type or "").lower()
    if conn_type in SQLITE_TYPES:
        path = conn.host or str(default_warehouse_path())
        return sa.URL.create("sqlite", database=path)
    if conn_type in POSTGRES_TYPES:
        query = {key: str(extra[key]) for key in LIBPQ_PARAMETERS if extra.get(key) not in (None, "")}
        return sa.URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=int(conn.port) if conn.port else None,
            database=conn.schema or None,
            query=query,
        )
    raise ValueError(
        f"Connection {conn.conn_id!r} has type {conn.conn_type!r}: the warehouse needs type sqlite "
        '(host = file path) or postgres, or an extra {"sqlalchemy_url": "..."}'
    )


class WarehouseHook(BaseHook):
    """SQLAlchemy access to the warehouse, plus its schema migrations.

    :param warehouse_conn_id: the Airflow connection; when it does not exist, the default SQLite file is used.
    :param engine_kwargs: extra arguments for :func:`sqlalchemy.create_engine` (pool size...).
    """

    conn_name_attr = "warehouse_conn_id"
    default_conn_name = WAREHOUSE_CONN_ID
    # Not a connection type of its own: a sqlite or postgres connection, or any with a URL in its extra.
    conn_type = "generic"
    hook_name = "fb-commerce warehouse (SQLAlchemy)"

    def __init__(
        self,
        warehouse_conn_id: str = default_conn_name,
        *,
        engine_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.engine_kwargs = dict(engine_kwargs or {})
        self._url: URL | None = None
        self._auto_upgrade = True
        self._engine: Engine | None = None

    # --- connection -----------------------------------------------------------------------------------------

    def get_url(self) -> URL:
        """The warehouse's SQLAlchemy URL (with its password: never log it; see :meth:`describe`)."""
        if self._url is None:
            self._url = self._resolve_url()
        return self._url

    def _resolve_url(self) -> URL:
        from airflow.sdk.exceptions import AirflowNotFoundException

        from fb_commerce.warehouse.paths import default_warehouse_url

        try:
            conn = self.get_connection(self.warehouse_conn_id)
        except AirflowNotFoundException:
            default_url = default_warehouse_url()
            self.log.info(
                "Connection %s is not defined: using the default SQLite warehouse %s",
                self.warehouse_conn_id,
                default_url,
            )
            import sqlalchemy as sa

            return sa.make_url(default_url)
        url = url_from_connection(conn)
        if url.password:
            from airflow.sdk.log import mask_secret

            mask_secret(str(url.password))
        self._auto_upgrade = as_bool(conn.extra_dejson.get("auto_upgrade"), "auto_upgrade", default=True)
        return url

    def get_engine(self) -> Engine:
        """The warehouse engine, created once per hook (with the project's SQLite / PostgreSQL settings)."""
        if self._engine is None:
            from fb_commerce.warehouse.engine import create_warehouse_engine

            self._engine = create_warehouse_engine(self.get_url(), **self.engine_kwargs)
            self.log.debug("Warehouse: %s", self.describe())
        return self._engine

    def get_conn(self) -> Engine:
        """The engine (Airflow's generic entry point; same as :meth:`get_engine`)."""
        return self.get_engine()

    def describe(self) -> str:
        """``<dialect> <url with the password masked>``, for logs and messages."""
        from fb_commerce.warehouse.engine import mask_url

        url = self.get_url()
        return f"{url.get_backend_name()} {mask_url(url)}"

    def dispose(self) -> None:
        """Close the engine's pooled connections (end of a task that used many)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- schema ---------------------------------------------------------------------------------------------

    @property
    def auto_upgrade(self) -> bool:
        """Whether the connection allows DAGs to migrate the schema (extra ``auto_upgrade``, default true)."""
        self.get_url()
        return self._auto_upgrade

    def upgrade(self, revision: str = "head") -> str:
        """Migrate the warehouse to ``revision`` (default: the newest); return the revision it is now at."""
        from fb_commerce.warehouse import migrate

        before = migrate.current_revision(self.get_engine())
        after = migrate.upgrade(self.get_engine(), revision)
        if before == after:
            self.log.info("Warehouse schema already at revision %s", after)
        else:
            self.log.info("Warehouse schema upgraded from %s to %s", before or "none", after)
        return after

    def require_latest(self) -> None:
        """Raise :class:`~fb_commerce.warehouse.migrate.SchemaOutOfDate` unless the schema is the newest."""
        from fb_commerce.warehouse import migrate

        migrate.require_latest(self.get_engine())

    def ensure_schema(self, auto_upgrade: bool | None = None) -> str:
        """Make sure the schema is the newest before a task writes: upgrade it, or raise SchemaOutOfDate.

        :param auto_upgrade: whether to upgrade; None follows the connection's ``auto_upgrade`` extra (default
            true).
        :return: the schema revision.
        """
        from fb_commerce.warehouse import migrate

        allowed = self.auto_upgrade if auto_upgrade is None else auto_upgrade
        before = migrate.current_revision(self.get_engine())
        revision = migrate.ensure_latest(self.get_engine(), auto_upgrade=allowed)
        if before != revision:
            self.log.info("Warehouse schema upgraded from %s to %s", before or "none", revision)
        return revision

    def test_connection(self) -> tuple[bool, str]:
        """Connect and read the schema revision: ``(True, what was found)`` or ``(False, why not)``."""
        try:
            import sqlalchemy as sa

            from fb_commerce.warehouse import migrate

            engine = self.get_engine()
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            current, head = migrate.current_revision(engine), migrate.head_revision()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer, as Airflow's test_connection expects
            return False, self._scrub(f"Cannot reach the warehouse {self._safe_describe()}: {exc}")
        if current == head:
            schema = f"schema at the latest revision {head}"
        else:
            schema = f"schema at revision {current or 'none'}, latest is {head}: run `{migrate.UPGRADE_COMMAND}`"
        return True, f"Connected to {self.describe()}; {schema}"

    def _safe_describe(self) -> str:
        try:
            return self.describe()
        except Exception:  # noqa: BLE001 - only for an error message: never hide the original error
            return repr(self.warehouse_conn_id)

    def _scrub(self, text: str) -> str:
        """Remove the password from an error text (drivers sometimes echo the DSN)."""
        password = self._url.password if self._url is not None else None
        return text.replace(str(password), "***") if password else text
