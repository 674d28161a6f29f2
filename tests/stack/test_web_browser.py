"""The customer-service page in real headless Chromium, inside a real Airflow API server with the plugin: log in
through Airflow's login page, search, open an order, refund an item, see it sent (the sender ran against the
sandbox) and recorded in fb_cs_actions; anonymous access refused; a hostile buyer name shown as text.

Chromium and its driver are Debian's (installed here when missing; CI runs as root); Selenium is pointed at
/usr/bin/chromedriver, so it never downloads one. Screenshots go to data/test-artifacts/web/.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from fb_commerce.devstack import ADMIN_USER, AirflowStack
from fb_commerce.warehouse import schema
from fb_commerce.web import URL_PREFIX

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "data" / "test-artifacts" / "web"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1366,900",
)
HOSTILE = "<script>alert(1)</script>"
PASSWORD = "browser-test-password"


def _install_chromium() -> None:
    """Debian's chromium and chromium-driver, when this machine lacks them (a fresh CI machine)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    if shutil.which("apt-get") is None:
        pytest.fail(
            "chromium is missing and there is no apt-get to install it: apt-get install chromium chromium-driver"
        )
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium", "chromium-driver"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _install_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    """Airflow with a login (admin / PASSWORD), the sandbox, and the sandbox's orders pulled into the warehouse."""
    home = tmp_path_factory.mktemp("web-airflow")
    with AirflowStack(home=home / "home", data_dir=home / "data", admin_password=PASSWORD) as running:
        for dag_id in ("fb_orders_sync", "fb_order_updates"):
            running.wait_for_dag(dag_id)
        running.unpause("fb_orders_sync")
        run_id = running.trigger("fb_orders_sync")
        assert running.wait_for_run("fb_orders_sync", run_id) == "success", running.task_states(
            "fb_orders_sync", run_id
        )
        running.unpause("fb_order_updates")
        yield running


def _warehouse(stack: AirflowStack) -> sa.Engine:
    from fb_commerce.warehouse.engine import create_warehouse_engine

    return create_warehouse_engine(f"sqlite:///{stack.services_data_dir / 'warehouse.db'}")


def _refundable_order(engine: sa.Engine) -> tuple[str, str]:
    """A shipped order with an item that can still be refunded: (order id, item id), as cs.lookup sees it."""
    from fb_commerce.cs import lookup

    with engine.connect() as conn:
        order_ids = conn.execute(sa.text("select distinct order_id from fb_shipments order by order_id")).scalars()
        candidates = list(order_ids)
    for order_id in candidates:
        view = lookup.order_view(engine, order_id)
        assert view is not None
        for item in view.as_dict()["items"]:
            if int(item["can_refund"] or 0) > 0:
                return order_id, item["item_id"]
    raise AssertionError(f"no refundable item in the shipped orders {candidates}")


def _shot(driver: Any, name: str, *, whole_page: bool = False) -> Path:
    """A screenshot in the artefacts folder: the window, or the whole page as tall as it is."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = driver.get_window_size()
    if whole_page:
        driver.set_window_size(size["width"], driver.execute_script("return document.body.scrollHeight") + 120)
    try:
        driver.save_screenshot(str(path))
    finally:
        driver.set_window_size(size["width"], size["height"])
    return path


def _wait(driver: Any, condition: Any, timeout: float = 60) -> Any:
    """Until ``condition`` holds; else a screenshot of what the browser shows, and the page's text."""
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    try:  # a page that reloads itself can drop an element between finding and reading it: look again
        return WebDriverWait(driver, timeout, poll_frequency=0.25, ignored_exceptions=(WebDriverException,)).until(
            condition
        )
    except TimeoutException:
        shot = _shot(driver, "timed-out")
        text = driver.find_element("tag name", "body").text[:3000]
        raise AssertionError(f"not seen in {timeout:.0f} s at {driver.current_url} (see {shot}):\n{text}") from None


def test_anonymous_access_is_refused(stack: AirflowStack, browser: Any) -> None:
    from selenium.webdriver.support import expected_conditions as ec

    page = f"{stack.api_url}{URL_PREFIX}/"
    assert requests.get(page, timeout=30).status_code == 401
    assert requests.post(f"{page}orders/1/refund", data={"reason_code": "WRONG_ITEM"}, timeout=30).status_code == 401
    browser.delete_all_cookies()
    browser.get(page)
    _wait(browser, ec.url_contains("/auth/login"))  # Airflow's login page, not ours
    _wait(browser, ec.presence_of_element_located(("css selector", "input[type=password]")))
    assert "Customer service" not in browser.page_source
    _shot(browser, "anonymous-sent-to-login")


def _log_in(stack: AirflowStack, browser: Any) -> None:
    """Through Airflow's own login page, which brings the browser back to the page it asked for."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    browser.delete_all_cookies()
    browser.get(f"{stack.api_url}{URL_PREFIX}/returns")
    user = _wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "input[name=username]")))
    user.send_keys(ADMIN_USER)
    browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(browser, ec.url_contains(f"{URL_PREFIX}/returns"))
    _wait(browser, ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".user"), ADMIN_USER))


def _assert_shown_as_text(browser: Any, where: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    assert HOSTILE in browser.find_element(By.CSS_SELECTOR, where).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in browser.page_source
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - reading it is the check: no script of the buyer's ran


def test_log_in_and_a_hostile_buyer_name_shows_as_text(stack: AirflowStack, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    engine = _warehouse(stack)
    with engine.begin() as conn:  # a return awaiting an answer, from a buyer with a hostile name
        order_id = conn.execute(sa.text("select order_id from fb_orders order by order_id limit 1")).scalar_one()
        conn.execute(
            sa.text("update fb_orders set buyer_name = :name where order_id = :id"), {"name": HOSTILE, "id": order_id}
        )
        conn.execute(
            sa.insert(schema.fb_returns).values(
                return_id="web-test-return",
                order_id=order_id,
                return_status="REQUESTED",
                created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            )
        )
    engine.dispose()
    _log_in(stack, browser)
    _wait(browser, ec.presence_of_element_located((By.XPATH, "//td[text()='web-test-return']")))
    _assert_shown_as_text(browser, "main table")
    _shot(browser, "returns-awaiting")


def test_search_open_an_order_refund_and_see_it_sent(stack: AirflowStack, browser: Any) -> None:
    pytest.importorskip("fb_commerce.cs.actions", reason="the cs package (lookup and actions) has not landed yet")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    engine = _warehouse(stack)
    order_id, item_id = _refundable_order(engine)
    with engine.begin() as conn:
        email = conn.execute(
            sa.text("select buyer_email from fb_orders where order_id = :id"), {"id": order_id}
        ).scalar_one()
        conn.execute(
            sa.text("update fb_orders set buyer_name = :name where order_id = :id"), {"name": HOSTILE, "id": order_id}
        )
    refunds_before = _sandbox_refunds(stack, order_id)
    _log_in(stack, browser)

    # search by the buyer's e-mail: the results show the hostile name as text
    browser.get(f"{stack.api_url}{URL_PREFIX}/")
    box = _wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "form.search textarea")))
    box.send_keys(email)
    browser.find_element(By.CSS_SELECTOR, "form.search button").click()
    _wait(browser, ec.presence_of_element_located((By.LINK_TEXT, order_id)))
    _assert_shown_as_text(browser, "table.hits")
    _shot(browser, "results")

    # the order's page
    browser.find_element(By.LINK_TEXT, order_id).click()
    _wait(browser, ec.presence_of_element_located((By.ID, "refund-form")))
    _assert_shown_as_text(browser, "section.summary")
    _shot(browser, "order", whole_page=True)

    # refund one of a shipped item
    form = browser.find_element(By.ID, "refund-form")
    form.find_element(By.NAME, f"quantity.{item_id}").send_keys("1")
    Select(form.find_element(By.NAME, "reason_code")).select_by_value("DAMAGED_GOODS")
    form.find_element(By.NAME, "reason_text").send_keys("Sorry it arrived damaged")
    submitted = browser.execute_script("return Array.from(new FormData(arguments[0]).entries())", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    # the action's page reloads itself until Meta's answer is recorded
    _wait(browser, ec.url_contains(f"{URL_PREFIX}/actions/"))
    _wait(browser, ec.text_to_be_present_in_element_attribute((By.ID, "outcome"), "data-outcome", "sent"), timeout=300)
    _shot(browser, "refund-sent")
    action_id = browser.current_url.split("/actions/")[1].split("?")[0]

    with engine.connect() as conn:  # the action's steps in the audit log: queued by the user on the page, then sent
        recorded = conn.execute(
            sa.text(
                "select status, action_type, order_id, requested_by, source from fb_cs_actions"
                " where action_id = :id order by created_at"
            ),
            {"id": action_id},
        ).all()
    engine.dispose()
    assert [tuple(step) for step in recorded] == [
        ("queued", "refund", order_id, ADMIN_USER, "web"),
        ("sent", "refund", order_id, ADMIN_USER, "web"),
    ]
    refunds_after = _sandbox_refunds(stack, order_id)
    assert len(refunds_after) == len(refunds_before) + 1, refunds_after

    # the same page's form submitted again (a double click, a resent request): nothing more reaches Meta
    cookies = {cookie["name"]: cookie["value"] for cookie in browser.get_cookies()}
    again = requests.post(
        f"{stack.api_url}{URL_PREFIX}/orders/{order_id}/refund",
        data=[tuple(pair) for pair in submitted],
        cookies=cookies,
        allow_redirects=False,
        timeout=60,
    )
    assert again.status_code == 303 and f"{URL_PREFIX}/actions/" in again.headers["location"], again.text
    browser.get(f"{stack.api_url}{again.headers['location']}")
    _wait(browser, ec.text_to_be_present_in_element_attribute((By.ID, "outcome"), "data-outcome", "sent"), timeout=300)
    assert len(_sandbox_refunds(stack, order_id)) == len(refunds_after)
    # the sender ran as the user who submitted the form
    runs = [run for run in stack.runs("fb_order_updates") if run.get("triggering_user_name") == ADMIN_USER]
    assert runs and runs[-1]["run_type"] == "manual"


def _sandbox_refunds(stack: AirflowStack, order_id: str) -> list[Any]:
    state = requests.get(f"{stack.sandbox_url}/_sandbox/state", params={"include": "orders"}, timeout=30).json()
    order = next(o for o in state["orders"] if o["id"] == order_id)
    refunds = order.get("refunds") or []
    return refunds.get("data", []) if isinstance(refunds, dict) else refunds
