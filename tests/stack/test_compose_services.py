"""The services of docker-compose.yml, started directly: CeleryExecutor on PostgreSQL + Redis, api-server,
scheduler, dag-processor, triggerer, a Celery worker and the sandbox. A DAG triggered through the REST API runs
to success through the real scheduler and worker.
"""

from __future__ import annotations

import os
import uuid

import pytest

pytestmark = pytest.mark.slow

#: CI sets it (.ci/run), as it sets FB_COMMERCE_REQUIRE_POSTGRES
REQUIRE_REDIS = os.environ.get("FB_COMMERCE_REQUIRE_REDIS", "") not in ("", "0", "false", "False")


@pytest.fixture
def metadata_db(postgres_server):
    """A fresh PostgreSQL database for Airflow's metadata, dropped afterwards."""
    import sqlalchemy as sa

    name = f"fbc_stack_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_url():
    import redis

    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        reason = f"Redis not reachable at {url}: {exc}"
        if REQUIRE_REDIS:  # CI: the stack test must run there, so a missing Redis is a failure, not a skip
            pytest.fail(f"FB_COMMERCE_REQUIRE_REDIS is set but {reason}")
        pytest.skip(reason)
    return url


def test_setup_check_runs_on_the_compose_services(tmp_path, metadata_db, redis_url):
    from fb_commerce.devstack import AirflowStack

    stack = AirflowStack(
        home=tmp_path / "home", executor="CeleryExecutor", database_url=metadata_db, broker_url=redis_url
    )
    with stack:
        stack.wait_for_dag("fb_setup_check")
        stack.unpause("fb_setup_check")
        run_id = stack.trigger("fb_setup_check", {"register_order_management_app": True})
        state = stack.wait_for_run("fb_setup_check", run_id, timeout=240)
        assert state == "success", f"{stack.task_states('fb_setup_check', run_id)}; logs in {stack.home / 'logs'}"
        report = (stack.home / "data" / "reports" / "setup_check.txt").read_text()
        # under the real scheduler the pool is real: the check task only ran because it exists
        assert "All checks passed." in report and "pool fb_graph_api" in report
