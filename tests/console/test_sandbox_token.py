"""Demo tokens: minted by `sav-bridge console token` in sandbox mode only, trusted only by a sandbox gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from sav_bridge.cli import main
from tests.console.test_api import VICTOR
from tests.harness import gateway_env, start_gateway


async def test_a_minted_token_opens_the_sandboxs_api_with_its_role(
    sqlite_url: str,
    vendor_dir: Path | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in gateway_env(sqlite_url, SAV_BRIDGE_SANDBOX="true").items():
        monkeypatch.setenv(name, value)
    assert main(["console", "token", "--role", "editor", "--sub", "sophie"]) == 0
    minted = capsys.readouterr().out.strip()
    gw = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_SANDBOX="true")
    try:
        auth = {"authorization": f"Bearer {minted}"}
        assert (await gw.client.get("/api/v1/policies", headers=auth)).status_code == 200
        refused = await gw.client.post("/api/v1/policies/1/activate", headers=auth)
        assert refused.status_code == 403 and "approver" in refused.json()["error"]
        assert (await gw.client.get("/api/v1/policies", headers=VICTOR)).status_code == 401, "another issuer"
    finally:
        await gw.client.aclose()
        await gw.runtime.close()


async def test_outside_sandbox_mode_there_is_no_key_to_mint_with_nor_to_trust(
    sqlite_url: str,
    vendor_dir: Path | None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in gateway_env(sqlite_url).items():
        monkeypatch.setenv(name, value)
    assert main(["console", "token", "--role", "approver", "--sub", "mallory"]) == 2
    assert "only in sandbox mode" in capsys.readouterr().err
    monkeypatch.setenv("SAV_BRIDGE_SANDBOX", "true")
    assert main(["console", "token", "--role", "approver", "--sub", "mallory"]) == 0
    minted = capsys.readouterr().out.strip()
    gw = await start_gateway(sqlite_url, vendor_dir)  # the same configuration, not in sandbox mode
    try:
        response = await gw.client.get("/api/v1/policies", headers={"authorization": f"Bearer {minted}"})
        assert response.status_code == 404 and "console.jwt" in response.json()["error"]
    finally:
        await gw.client.aclose()
        await gw.runtime.close()
