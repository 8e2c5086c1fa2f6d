"""Fixtures for browser tests: Debian's Chromium driven by playwright, and a real gateway to point it at.

The browser is the system's `chromium`, launched through `executable_path`: playwright never downloads
one. Without it these tests skip, or fail where they must run (tests/browser/chromium.py says when).

    def test_the_overview(page_as, gateway):
        page = page_as("victor", "viewer")   # every request carries `Authorization: Bearer <sandbox token>`
        page.goto("/console/")                 # relative to the gateway's base URL
        waiting = gateway.run(gateway.store.approvals.pending_since(0))  # on the server's event loop

One browser serves the whole package; each `page_as` call opens a context of its own (fresh cookies,
storage and headers), closed after the test. Each test has its own gateway, on a SQLite file of its own.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.browser.chromium import find_chromium, screenshots_wanted, why_required

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize
    from starlette.applications import Starlette

    from sav_bridge.config import Settings
    from sav_bridge.runtime import Runtime
    from sav_bridge.sandbox import Sandbox
    from sav_bridge.store import Store

T = TypeVar("T")

#: Where `make screenshots` writes the pictures the README shows.
DOCS = Path(__file__).resolve().parents[2] / "docs"
#: Known good as root on a closed network: no sandbox (root), no GPU, nothing phoning home. playwright
#: gives each browser context a fresh profile of its own.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: One size for every page, so that screenshots compare from one run to the next.
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
#: How long the gateway's thread may take to start or stop, and a test to wait for its event loop.
SERVER_TIMEOUT = 30.0


@pytest.fixture(scope="package")
def chromium_path() -> str:
    """The system Chromium's path: a skip where it may be missing, a failure where it must run."""
    path, why = find_chromium()
    if path is None:
        required = why_required()
        if required:
            pytest.fail(f"browser tests cannot run: {why}; {required}", pytrace=False)
        pytest.skip(f"browser tests: {why}")
    return path


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Browser]:
    """One headless Chromium for every browser test.

    Package-scoped, not session-scoped: playwright's sync API marks its own event loop as running in the
    main thread for as long as it lives, which would stop pytest-asyncio from running the async tests
    collected after this package.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass(frozen=True)
class ServedGateway:
    """A sav-bridge served by uvicorn on 127.0.0.1 from a thread of its own, in sandbox mode."""

    url: str
    settings: Settings
    app: Starlette
    sandbox: Sandbox
    loop: asyncio.AbstractEventLoop

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def store(self) -> Store:
        return self.runtime.store

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Await `work` on the server's event loop, where the store's connections live."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(SERVER_TIMEOUT)

    def token(self, subject: str, role: str) -> str:
        """A sandbox token, as `sav-bridge console token` mints it."""
        from sav_bridge.console.sandbox import mint

        return mint(self.settings, subject, role)


@pytest.fixture
def gateway(tmp_path: Path, vendor_dir: Path | None) -> Iterator[ServedGateway]:
    """A real gateway (`sav-bridge serve` with `sandbox: true`) on a free port and a fresh SQLite file."""
    import httpx
    import uvicorn

    from sav_bridge.app import create_app
    from sav_bridge.cli import listen
    from sav_bridge.config import load_settings
    from sav_bridge.policy import Policy
    from sav_bridge.sandbox import Sandbox
    from tests.harness import gateway_env

    env = gateway_env(
        f"sqlite:///{tmp_path / 'sav-bridge.db'}",
        SAV_BRIDGE_SANDBOX="true",
        SAV_BRIDGE_WORKERS__COUNT="2",
        SAV_BRIDGE_WORKERS__POLL_SECONDS="0.1",
    )
    settings = load_settings(None, env)
    sandbox = Sandbox(settings, vendor_dir)
    app = create_app(settings, transport=sandbox.transport(), policy=Policy.from_file(settings.policy_path))
    sandbox.reach_gateway(httpx.ASGITransport(app=app))  # the fake X's CRC check calls this app
    listening = listen("127.0.0.1", 0)
    host, port = listening.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    loop = asyncio.new_event_loop()
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            loop.run_until_complete(server.serve(sockets=[listening]))
        except BaseException as exc:
            failures.append(exc)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())

    thread = threading.Thread(target=serve, name="sav-bridge-gateway", daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started or not thread.is_alive(), "the gateway to start")
        if not server.started:
            raise RuntimeError(f"the gateway did not start: {failures or 'see its log above'}")
        yield ServedGateway(f"http://{host}:{port}", settings, app, sandbox, loop)
    finally:
        server.should_exit = True
        thread.join(SERVER_TIMEOUT)
        listening.close()
        if not thread.is_alive():
            loop.close()
    assert not thread.is_alive(), "the gateway did not stop"
    assert not failures, f"the gateway failed: {failures}"
    assert sandbox.violations == [], "requests broke the vendors' OpenAPI contracts"


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    done = threading.Event()
    for _ in range(int(SERVER_TIMEOUT / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
def page_as(browser: Browser, gateway: ServedGateway) -> Iterator[Callable[..., Page]]:
    """`page_as(subject, role="viewer", locale="en-GB")`: a page in a new browser context whose every
    request carries `Authorization: Bearer <sandbox token>`, as the sign-in proxy adds it; `subject=None`
    for a visitor the proxy let through unsigned. Relative URLs go to the gateway."""
    from playwright.sync_api import BrowserContext

    contexts: list[BrowserContext] = []

    def open_page(subject: str | None, role: str = "viewer", locale: str = "en-GB") -> Page:
        headers = {} if subject is None else {"Authorization": f"Bearer {gateway.token(subject, role)}"}
        context = browser.new_context(
            base_url=gateway.url, extra_http_headers=headers, locale=locale, viewport=VIEWPORT
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """`screenshot(page, "console-overview")` writes docs/console-overview.png under `make screenshots`
    (SAV_BRIDGE_TEST_SCREENSHOTS=1) and does nothing otherwise: a test run leaves committed files alone."""
    enabled = screenshots_wanted()

    def take(page: Page, name: str) -> None:
        if enabled:
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=DOCS / f"{name}.png", full_page=True)

    return take
