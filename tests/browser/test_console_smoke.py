"""The compliance page in a real browser: what a viewer sees, what an unsigned visitor is told, no script.

The gateway is the reference plugin's sandbox, so this module needs the reference plugin (tests/conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

#: Runs only if the page lets an inline script run: it marks the document.
INLINE_SCRIPT = """() => {
    const script = document.createElement("script");
    script.textContent = "document.documentElement.dataset.inlineScriptRan = 'yes'";
    document.head.append(script);
    return document.documentElement.dataset.inlineScriptRan || "no";
}"""


def test_a_viewer_sees_the_policy_in_force_and_who_is_signed_in(
    page_as: Callable[..., Page], screenshot: Callable[[Page, str], None]
) -> None:
    page = page_as("victor@mabanque.fr", "viewer")
    response = page.goto("/console/")
    assert response is not None and response.status == 200
    expect(page.locator("body")).to_contain_text("Policy in force")
    expect(page.locator("body")).to_contain_text("victor@mabanque.fr")
    screenshot(page, "console-overview")


def test_an_unsigned_visitor_is_told_to_sign_in(page_as: Callable[..., Page]) -> None:
    page = page_as(None)
    response = page.goto("/console/")
    assert response is not None and response.status == 401
    expect(page.locator("body")).to_contain_text(re.compile(r"sign in", re.IGNORECASE))


def test_the_page_runs_no_inline_script(page_as: Callable[..., Page]) -> None:
    page = page_as("victor", "viewer")
    page.goto("about:blank")
    assert page.evaluate(INLINE_SCRIPT) == "yes", "the check itself must see a script that runs"
    page.goto("/console/")
    assert page.evaluate(INLINE_SCRIPT) == "no", "the Content-Security-Policy lets inline script run"
