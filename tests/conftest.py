"""Fixtures: the vendor folder, a database per test (SQLite, and PostgreSQL when configured), a gateway."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
import pytest

from sav_bridge.helpdesks import available
from tests.browser.chromium import browser_line

if TYPE_CHECKING:
    from tests.harness import Gateway

VENDOR_ENV = "SAV_BRIDGE_VENDOR_DIR"
PG_ENV = "SAV_BRIDGE_TEST_DATABASE_URL"


#: The helpdesk the core's end-to-end harness (`tests/harness.py`) drives. A checkout without its plugin
#: folder runs every other test; the modules that need it are not collected, and the first line says so.
REFERENCE_PLUGIN = "zendesk"
NEEDS_REFERENCE = re.compile(
    r"tests\.harness|tests\.live|x_auth_helpers|sav_bridge_zendesk|\bgateway: Gateway\b|needs the reference plugin"
)


def _needing_the_reference_plugin() -> list[str]:
    if REFERENCE_PLUGIN in available():
        return []
    here = Path(__file__).parent
    found = (p for p in here.rglob("test_*.py") if NEEDS_REFERENCE.search(p.read_text(encoding="utf-8")))
    return sorted(str(p.relative_to(here)) for p in found)


collect_ignore = _needing_the_reference_plugin()


def _vendor_line() -> str:
    configured = os.environ.get(VENDOR_ENV)
    plugins = "helpdesk plugins tested: " + (", ".join(sorted(available())) or "none")
    if collect_ignore:
        plugins += (f" (no {REFERENCE_PLUGIN} plugin: the {len(collect_ignore)} end-to-end modules that drive "
                    "it are not collected)")  # fmt: skip
    if configured:
        return f"vendor specs: {configured} (contract and vector checks on); {plugins}"
    return f"vendor specs: off ({VENDOR_ENV} is not set; contract and vector checks skipped); {plugins}"


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Two lines at the top of every run: are the vendor-spec checks on, and with which folder; which
    browser the browser tests launch, or why they skip (or fail)."""
    return [_vendor_line(), browser_line()]


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """`pytest -q` (as `make test` runs it) hides the report header; these lines still show."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.option.verbose < 0:
        reporter.write_line(_vendor_line())
        reporter.write_line(browser_line())


@pytest.fixture(scope="session")
def vendor_dir() -> Path | None:
    """The vendors' specs; when the variable is set, the folder must exist."""
    configured = os.environ.get(VENDOR_ENV)
    if not configured:
        return None
    path = Path(configured)
    if not path.is_dir():
        pytest.fail(f"{VENDOR_ENV}={configured} is not a folder")
    return path


@pytest.fixture
def vendor_file(vendor_dir: Path | None):  # type: ignore[no-untyped-def]
    """Path of a vendor file: a failure if the vendor folder is set and the file missing, a skip if unset."""

    def find(relative: str) -> Path:
        if vendor_dir is None:
            pytest.skip(f"{VENDOR_ENV} is not set")
        path = vendor_dir / relative
        if not path.is_file():
            pytest.fail(f"vendor file {relative} is missing from {vendor_dir}")
        return path

    return find


def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards; a skip when unconfigured."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'sav-bridge.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sav-bridge.db'}"


@pytest.fixture
async def gateway(database_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    from tests.harness import start_gateway

    gw = await start_gateway(database_url, vendor_dir)
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == [], "requests broke the vendors' OpenAPI contracts"


@pytest.fixture
async def sqlite_gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    from tests.harness import start_gateway

    gw = await start_gateway(sqlite_url, vendor_dir)
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == [], "requests broke the vendors' OpenAPI contracts"
