"""The local mail page in a real browser (Debian's Chromium, driven by Playwright): what a
developer sees at http://127.0.0.1:8080/_local/mail after placing an order."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import KEYS
from tests.e2e.orders import key
from tests.e2e.test_allocation import order_for, settled
from tests.e2e.test_capture_api import post_order
from tests.e2e.test_inventory_api import put_stock, sku
from tests.e2e.test_notices import outbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")


def test_mail_page_renders_the_confirmation_email(stack: str, http: httpx.Client, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    item = sku()
    put_stock(http, item, "DC-BERLIN", 5, KEYS["dc"])
    order = post_order(http, order_for([{"sku": item, "quantity": 1, "unit_price": "5.00"}]), key()).json()
    settled(http, order["order_id"])
    outbox(http, order["order_id"], emails=1)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{stack}/_local/mail?order_id={order['order_id']}")
        assert page.title() == "OMS local mail"
        heading = page.locator("article h2").first
        assert "confirmed" in heading.inner_text()
        # the email's own HTML renders inside its frame, with the customer's order lines
        body = page.frame_locator("article iframe").first.locator("body")
        assert item in body.inner_text() and "Hello Ada Lovelace" in body.inner_text()
        page.screenshot(path=str(tmp_path / "mail.png"), full_page=True)
        browser.close()
    assert (tmp_path / "mail.png").stat().st_size > 0
