"""`sav-bridge x provision`: the webhook registered (X's CRC answered by the gateway itself) and the brand
subscribed, idempotently, against the X fake; X's refusals as one line with an exit code."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from sav_bridge.channels.x.provision import run_provision
from sav_bridge.cli import main
from sav_bridge.errors import ConfigError, Unavailable
from sav_bridge.sandbox import Fault
from sav_bridge.sandbox.x.webhooks import Webhook
from tests.harness import ACCOUNT_ID, Gateway, gateway_env, start_gateway

PUBLIC_URL = "https://sav.example.com"
HOOK_URL = PUBLIC_URL + "/webhooks/x"


@pytest.fixture
async def aaa_gateway(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_X__EVENTS="account_activity")
    yield gw
    await gw.client.aclose()
    await gw.runtime.close()
    assert gw.sandbox.violations == []


async def provision(gw: Gateway, dry_run: bool = False) -> str:
    out = io.StringIO()
    assert await run_provision(gw.settings, PUBLIC_URL, dry_run, out, gw.sandbox.transport()) == 0
    return out.getvalue()


def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, drop: str = "SAV_BRIDGE_ZENDESK__") -> None:
    """The gateway's environment without `drop` (by default the helpdesk's section: X's settings only)."""
    for name in list(os.environ):
        if name.startswith("SAV_BRIDGE_") and name != "SAV_BRIDGE_VENDOR_DIR":
            monkeypatch.delenv(name)
    for name, value in gateway_env(f"sqlite:///{tmp_path / 'sav-bridge.db'}").items():
        if not name.startswith(drop):
            monkeypatch.setenv(name, value)


def writes(gw: Gateway) -> list[str]:
    return [f"{r.method} {r.url.path}" for r in gw.x.requests if r.method != "GET"]


async def test_fresh_provisioning_registers_the_webhook_and_subscribes_mentions_and_dms(
    sqlite_gateway: Gateway,
) -> None:
    gw = sqlite_gateway
    out = await provision(gw)
    [hook] = gw.x.webhooks.values()
    assert (hook.url, hook.valid) == (HOOK_URL, True)
    assert gw.x.crc_checks == [(hook.id, True)]  # X's CRC reached the gateway and its answer was right
    assert sorted(
        (s["event_type"], s["filter"]["user_id"], s["webhook_id"]) for s in gw.x.activity.values()
    ) == [
        ("dm.received", ACCOUNT_ID, hook.id),
        ("post.mention.create", ACCOUNT_ID, hook.id),
    ]
    assert out.splitlines() == [
        f"webhook {hook.id} created -> {HOOK_URL} (X's CRC check passed)",
        f"subscription post.mention.create of user {ACCOUNT_ID} created",
        f"subscription dm.received of user {ACCOUNT_ID} created",
    ]


async def test_a_second_run_changes_nothing_and_says_so(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    await provision(gw)
    before = writes(gw)
    out = await provision(gw)
    assert writes(gw) == before
    hook = next(iter(gw.x.webhooks))
    assert out.splitlines() == [
        f"webhook {hook} already registered and valid -> {HOOK_URL}",
        f"subscription post.mention.create of user {ACCOUNT_ID} already active",
        f"subscription dm.received of user {ACCOUNT_ID} already active",
    ]


async def test_an_invalid_webhook_is_revalidated_not_registered_again(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    await provision(gw)
    hook = next(iter(gw.x.webhooks))
    gw.x.invalidate(hook)
    out = await provision(gw)
    assert out.splitlines()[0] == f"webhook {hook} re-validated -> {HOOK_URL} (X's CRC check passed)"
    assert list(gw.x.webhooks) == [hook] and gw.x.webhooks[hook].valid
    assert writes(gw).count(f"PUT /2/webhooks/{hook}") == 1


async def test_account_activity_subscribes_the_brand_once(aaa_gateway: Gateway) -> None:
    gw = aaa_gateway
    first = await provision(gw)
    hook = next(iter(gw.x.webhooks))
    assert gw.x.aaa == {hook: [ACCOUNT_ID]} and gw.x.activity == {}
    assert first.splitlines()[1] == f"subscription account activity of user {ACCOUNT_ID} created"
    second = await provision(gw)
    assert second.splitlines()[1] == f"subscription account activity of user {ACCOUNT_ID} already active"
    assert writes(gw).count(f"POST /2/account_activity/webhooks/{hook}/subscriptions/all") == 1


async def test_a_dry_run_sends_nothing(sqlite_gateway: Gateway) -> None:
    out = await provision(sqlite_gateway, dry_run=True)
    assert sqlite_gateway.x.requests == []
    assert out.splitlines()[0] == "dry run: these are the requests provisioning makes; none is sent"
    assert (
        f'POST https://api.x.com/2/webhooks  (app bearer token, unless listed)\n  {{"url": "{HOOK_URL}"}}'
        in out
    )
    assert "post.mention.create" in out and "dm.received" in out


def test_a_dry_run_from_the_command_line_creates_no_file(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    cli_env(monkeypatch, tmp_path)
    assert main(["x", "provision", "--public-url", PUBLIC_URL, "--dry-run"]) == 0
    assert "none is sent" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


async def test_a_gateway_with_another_consumer_secret_fails_the_crc_in_one_line(
    sqlite_gateway: Gateway,
) -> None:
    gw = sqlite_gateway
    gw.x.consumer_secret = "the-app-secret-the-gateway-does-not-have"
    with pytest.raises(ConfigError) as caught:
        await provision(gw)
    assert str(caught.value) == (
        f"config: x.consumer_secret: X's CRC check of {HOOK_URL} failed: the gateway must be running there, "
        "reachable from the internet, with this app's consumer secret (CrcValidationFailed)"
    )
    assert gw.x.webhooks == {} and gw.x.crc_checks[0][1] is False


async def test_the_webhook_limit_names_the_webhook_in_the_way(sqlite_gateway: Gateway) -> None:
    gw = sqlite_gateway
    gw.x.webhooks["77"] = Webhook("77", "https://old.example.com/x", True, "2026-01-01T00:00:00.000Z")
    with pytest.raises(ConfigError) as caught:
        await provision(gw)
    assert caught.value.key == "--public-url"
    assert "(https://old.example.com/x)" in caught.value.problem
    assert caught.value.problem.endswith("(WebhookLimitExceeded)")


@pytest.mark.parametrize(
    ("fault", "error", "text"),
    [
        (Fault("GET", "/2/webhooks", 401, times=3), ConfigError, "config: x.bearer_token: X refused the app's bearer token (HTTP 401)"),
        (Fault("GET", "/2/webhooks", 503, times=3), Unavailable, "X: not answering normally (HTTP 503"),
    ],
)  # fmt: skip
async def test_a_refused_token_is_configuration_and_silence_is_unavailability(
    sqlite_gateway: Gateway, fault: Fault, error: type[Exception], text: str
) -> None:
    sqlite_gateway.x.faults.add(fault)
    with pytest.raises(error) as caught:
        await provision(sqlite_gateway)
    assert str(caught.value).startswith(text)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--public-url", "http://sav.example.com"], 2, "sav-bridge: config: --public-url: must be an https URL without a port, as X requires"),
        (["--public-url", "https://sav.example.com:8443"], 2, "sav-bridge: config: --public-url: must be an https URL without a port, as X requires"),
        (["--public-url", "https://sav.example.com/a?b=c"], 2, "sav-bridge: config: --public-url: must be the gateway's base URL, without ?query or #fragment"),
        (["--public-url", "https://sav.example.com/#x"], 2, "sav-bridge: config: --public-url: must be the gateway's base URL, without ?query or #fragment"),
        (["--public-url", "https://sav.example.com/" + "a" * 200], 2, "sav-bridge: config: --public-url: makes a webhook URL over X's 200 characters"),
    ],
)  # fmt: skip
def test_x_refuses_what_it_documents_and_we_say_it_first(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    code: int,
    message: str,
) -> None:
    cli_env(monkeypatch, tmp_path)
    assert main(["x", "provision", *argv]) == code
    assert capsys.readouterr().err == message + "\n"


def test_provisioning_without_the_bearer_token_says_which_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli_env(monkeypatch, tmp_path, drop="SAV_BRIDGE_X__BEARER_TOKEN")
    assert main(["x", "provision", "--public-url", PUBLIC_URL, "--dry-run"]) == 2
    assert capsys.readouterr().err.startswith("sav-bridge: config: x.bearer_token: is required")


async def test_provisioning_with_oauth1_opens_no_database(sqlite_gateway: Gateway, tmp_path: Path) -> None:
    unopened = tmp_path / "never-opened.db"
    settings = replace(sqlite_gateway.settings, database_url=f"sqlite:///{unopened}")
    out = io.StringIO()
    assert await run_provision(settings, PUBLIC_URL, False, out, sqlite_gateway.sandbox.transport()) == 0
    assert f"subscription dm.received of user {ACCOUNT_ID} created" in out.getvalue()  # as the brand
    assert not unopened.exists()
