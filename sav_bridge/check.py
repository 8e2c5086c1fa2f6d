"""`sav-bridge check [--online]`: what an admin runs before `serve`, and after changing a secret.

Offline it validates the configuration, finds the helpdesk plugin and loads the posting policy; a
failure there is raised (`ConfigError`, `UnknownHelpdesk`, `PolicyError`) for the command line to print
in one line. `--online` then makes one harmless authenticated read on the helpdesk and on X and reports
each outcome, so that a refused token and an unreachable host are told apart (exit codes 2 and 3).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TextIO

import httpx

from sav_bridge.channels.x.auth import unpaused_auth
from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.health import webhook_problem
from sav_bridge.channels.x.tokens import grant_problem
from sav_bridge.channels.x.vault import Vault
from sav_bridge.cli import EXIT_CONFIG, EXIT_UNAVAILABLE, vendor_dir_from_env
from sav_bridge.config import ENV_PREFIX, Settings, load_settings
from sav_bridge.egress import outbound_client
from sav_bridge.errors import DeliveryError
from sav_bridge.helpdesks import available, load_helpdesk
from sav_bridge.http import failure_kind
from sav_bridge.policy import Policy
from sav_bridge.store import Store, open_store

EXIT_OK = 0


async def run_check(
    config: str | Path | None,
    environ: Mapping[str, str],
    online: bool,
    out: TextIO,
    err: TextIO,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Print one line per thing checked; return the exit code. `transport` replaces the network (tests)."""
    settings = load_settings(config, environ)
    source = config or environ.get(ENV_PREFIX + "CONFIG")
    out.write(f"configuration: ok ({f'{source} + environment' if source else 'environment only'})\n")
    plugin = load_helpdesk(settings.helpdesk)
    out.write(f"helpdesk plugin: {settings.helpdesk} (installed: {', '.join(sorted(available()))})\n")
    policy = Policy.from_file(settings.policy_path)
    out.write(f"policy: {settings.policy_path}: ok (version {policy.version})\n")
    problem = webhook_problem(settings)
    if problem is not None:  # serve runs, without the webhook check, and says the same in a warning
        out.write(f"x webhook: WARNING {problem}\n")
    if not online:
        out.write("credentials: not tried (add --online to try them)\n")
        return EXIT_OK
    if transport is None and settings.sandbox:
        from sav_bridge.sandbox import Sandbox

        transport = Sandbox(settings, vendor_dir_from_env(os.environ)).transport()
    # OAuth 2.0 tokens live in the database; OAuth 1.0a keys are all in the configuration.
    store = await open_store(settings.database_url) if settings.x.auth == "oauth2" else None
    async with outbound_client(settings, transport, timeout=settings.x.timeout_seconds) as http:
        helpdesk = plugin.from_settings(settings, http)
        x = XClient(http, settings.x.api_url, unpaused_auth(settings, http, store))
        try:
            codes = [
                await _try(settings.helpdesk, helpdesk.check_credentials, out, err),
                await _try("x", lambda: _x_account(x, settings, store), out, err),
            ]
        finally:
            if store is not None:
                await store.close()
    return max(codes, key=lambda code: (code != EXIT_OK, code == EXIT_CONFIG))


async def _x_account(x: XClient, settings: Settings, store: Store | None) -> str:
    if store is not None and settings.secrets_key is not None:
        # Said as such, not as X refusing a token: no request could carry one.
        problem = await grant_problem(store, Vault(settings.secrets_key))
        if problem is not None:
            raise _Mismatch(problem)
    user_id, username = await x.verify_credentials()
    if user_id != settings.x.account_id:
        raise _Mismatch(f"the token belongs to @{username} (id {user_id}), not to x.account_id")
    return f"@{username} (id {user_id})"


class _Mismatch(Exception):
    """The credentials work but for another account than the configuration names, or there are none
    to try (OAuth 2.0 not connected, or its tokens sealed with another `secrets_key`)."""


async def _try(name: str, probe: Callable[[], Awaitable[str]], out: TextIO, err: TextIO) -> int:
    try:
        who = await probe()
    except _Mismatch as exc:
        code, why = EXIT_CONFIG, str(exc)
    except DeliveryError as exc:
        code, why = explain(exc)
    else:
        out.write(f"{name} credentials: ok ({who})\n")
        return EXIT_OK
    out.write(f"{name} credentials: FAILED\n")
    err.write(f"sav-bridge: {name}: {why}\n")
    return code


def explain(exc: DeliveryError) -> tuple[int, str]:
    """What an admin should read, and the exit code: a refusal is configuration, silence is the network."""
    kind = failure_kind(exc)
    if kind == "credentials":
        return EXIT_CONFIG, f"token refused (HTTP {exc.status}); check the configured credentials"
    if exc.status is None:
        return EXIT_UNAVAILABLE, f"cannot reach {_host(exc) or 'the API'} ({exc.detail})"
    if kind == "unavailable":
        return EXIT_UNAVAILABLE, f"the API is not answering normally ({exc.detail})"
    return EXIT_CONFIG, f"the API refused the request ({exc.detail}); check the configured URL"


def _host(exc: BaseException) -> str | None:
    """The host of the request that failed, from the httpx error `send()` chained."""
    cause = exc.__cause__
    if isinstance(cause, httpx.RequestError):
        try:
            return cause.request.url.host
        except RuntimeError:  # an httpx error raised without its request
            return None
    return None
