"""The API docs pages in a real browser, with every request outside Kvitt refused (offline):
Swagger UI takes the API key through *Authorize* and calls the API with it; ReDoc renders the
reference. Neither page may break its Content-Security-Policy (a violation is a console error)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from tests.conftest import Api


def _offline_page(browser: Browser, base_url: str) -> tuple[Page, list[str], list[str]]:
    page = browser.new_page()
    outside: list[str] = []
    errors: list[str] = []

    def only_kvitt(route: Route) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.route("**/*", only_kvitt)
    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, outside, errors


def test_swagger_ui_works_offline_and_uses_the_api_key(browser: Browser, base_url: str, api: Api) -> None:
    customer = api.post("/customers", {"customer_no": "K-77", "name": "Karin Berg", "email": "k@example.se"})
    assert customer.status_code == 201
    page, outside, errors = _offline_page(browser, base_url)
    page.goto(f"{base_url}/api/docs")
    expect(page.locator(".information-container .title")).to_contain_text("Kvitt API", timeout=20_000)

    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    dialog.locator("#auth-bearer-value").fill(api.key)
    dialog.locator("button.authorize").click()
    dialog.locator("button.btn-done").click()

    operation = page.locator("#operations-customers-list_customers_api_v1_customers_get")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response .response-col_status").first
    expect(response).to_have_text("200", timeout=20_000)
    expect(operation.locator(".live-responses-table .highlight-code")).to_contain_text("Karin Berg")

    assert outside == []
    assert errors == []
    page.close()


# ReDoc's sidebar shows Redocly's logo from their CDN (hard-coded in the bundle, no option turns it
# off); the page's CSP refuses it before any request is made, and ReDoc hides the broken image.
REDOC_LOGO_REFUSED = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"


def test_redoc_renders_offline(browser: Browser, base_url: str, app: Any) -> None:
    page, outside, errors = _offline_page(browser, base_url)
    page.goto(f"{base_url}/api/redoc")
    expect(page.locator("h1").first).to_contain_text("Kvitt API", timeout=30_000)
    expect(page.get_by_text("Idempotency-Key").first).to_be_attached()
    assert outside == []
    assert [e for e in errors if not e.startswith(REDOC_LOGO_REFUSED)] == []
    page.close()
