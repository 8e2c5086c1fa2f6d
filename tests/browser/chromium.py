"""Which Chromium the browser tests launch, and whether this run may go without one.

The browser is the system's `chromium` (Debian's apt package), never one playwright downloads. Without it
the browser tests skip and the run's first lines say so; they fail instead when the run must check them:
`CI` set (as in tests/strategies.py), `SAV_BRIDGE_TEST_CHROMIUM` naming a browser (`.ci/run` sets it, and a
named browser that is missing is a failure, like a named vendor folder), or screenshots asked for.
"""

from __future__ import annotations

import os
import shutil

BROWSER_ENV = "SAV_BRIDGE_TEST_CHROMIUM"
SCREENSHOTS_ENV = "SAV_BRIDGE_TEST_SCREENSHOTS"


def screenshots_wanted() -> bool:
    """`make screenshots` (SAV_BRIDGE_TEST_SCREENSHOTS=1): the browser tests refresh docs/*.png."""
    return os.environ.get(SCREENSHOTS_ENV) == "1"


def why_required() -> str | None:
    """Why a missing browser fails this run, or None when the browser tests may skip."""
    if os.environ.get(BROWSER_ENV):
        return f"{BROWSER_ENV} is set"
    if os.environ.get("CI"):
        return "CI is set"
    if screenshots_wanted():
        return f"{SCREENSHOTS_ENV}=1 asks for screenshots"
    return None


def find_chromium() -> tuple[str | None, str]:
    """The browser's path, or None, and where it comes from (or why there is none)."""
    configured = os.environ.get(BROWSER_ENV)
    if configured:
        if os.path.isfile(configured) and os.access(configured, os.X_OK):
            return configured, f"{BROWSER_ENV}={configured}"
        return None, f"{BROWSER_ENV}={configured} is not an executable file"
    found = shutil.which("chromium")
    if found:
        return found, "chromium on PATH"
    return None, "no chromium on PATH (Debian: apt install chromium)"


def browser_line() -> str:
    """The run's header line about the browser tests."""
    path, why = find_chromium()
    if path is not None:
        return f"browser tests: {path} ({why})"
    required = why_required()
    if required:
        return f"browser tests: failing, {why}; {required}, so they must run"
    return f"browser tests: off, {why}; tests/browser skipped"
