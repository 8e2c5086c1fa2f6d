"""The command line: start-up errors in one line, the demo, provisioning on the sandbox, log redaction."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from sav_bridge import logs
from sav_bridge.check import run_check
from sav_bridge.cli import main, provision
from sav_bridge.config import load_helpdesk_settings, load_settings
from sav_bridge.demo import run_demo
from sav_bridge.errors import ConfigError
from sav_bridge.helpdesks import available
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Fault, Sandbox, helpdesk_fake

#: The helpdesk plugins installed here, as the one-line errors list them.
INSTALLED = ", ".join(sorted(available()))


def test_missing_key_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("SAV_BRIDGE_") and name != "SAV_BRIDGE_VENDOR_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SAV_BRIDGE_X__ACCOUNT_ID", "1")
    monkeypatch.setenv("SAV_BRIDGE_HELPDESK", "zendesk")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "sav-bridge: config: x.consumer_secret: is required"


async def test_invalid_policy_stops_start_up_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.harness import gateway_env

    policy = tmp_path / "policy.yaml"
    policy.write_text('version: "1"\nrules:\n  - id: a\n    detector: {pii: cardd}\n    action: block\n')
    for key, value in gateway_env(
        f"sqlite:///{tmp_path / 'db.sqlite'}", SAV_BRIDGE_POLICY__PATH=str(policy)
    ).items():
        monkeypatch.setenv(key, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"sav-bridge: {policy}:4: rules[0].detector.pii: must be one of card, iban, nir, email, phone"
    )


async def test_demo_plays_the_whole_story(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_demo(vendor_dir, "zendesk") == 0
    out = capsys.readouterr().out
    assert "Zendesk ticket #" in out and "x_dm" in out
    assert "^AJ»" in out and "^JPM»" in out and " 1/2 ^AJ»" in out and " 2/2 ^AJ»" in out
    assert "dropped: {'echo': 1}" in out and "0 violation(s)" in out
    assert "posts on X since: 0" in out and "⛔ Not posted on X." in out and "payment card •••• 7893" in out
    assert "01 23 45 67 89. ^JPM»" in out and "vulgar term «m•••e»" in out


async def test_the_demo_ends_with_the_console_and_tokens_that_open_it_on_the_kept_data(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from sav_bridge.app import create_app
    from sav_bridge.demo import console_settings

    assert await run_demo(vendor_dir, "zendesk", keep=tmp_path / "kept") == 0
    out = capsys.readouterr().out.rstrip().splitlines()
    assert "http://127.0.0.1:8080/console/" in out[-5] and "make console" in out[-5]
    approver = out[-3].split()[-1]
    settings = console_settings(tmp_path / "kept")
    runtime = await Runtime.start(settings, transport=Sandbox(settings, vendor_dir).transport())
    app = create_app(settings, runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        page = await client.get("/console/audit", headers={"authorization": f"Bearer {approver}"})
    await runtime.close()
    assert page.status_code == 200 and "sophie.conformite" in page.text and "card-number" in page.text
    with pytest.raises(ConfigError, match="run `make demo` first"):
        console_settings(tmp_path / "nothing")


def test_provision_dry_run_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from tests.harness import gateway_env

    for key, value in gateway_env(f"sqlite:///{tmp_path / 'db.sqlite'}", SAV_BRIDGE_SANDBOX="true").items():
        monkeypatch.setenv(key, value)
    assert main(["zendesk", "provision", "--public-url", "https://sav.example.com", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"endpoint": "https://sav.example.com/webhooks/zendesk"' in out and "nothing was changed" in out


def test_json_logs_mask_secrets() -> None:
    stream = io.StringIO()
    logs.configure("INFO", ["super-secret-token"], stream)
    try:
        logging.getLogger("sav_bridge.test").warning("calling with token %s", "super-secret-token")
        try:
            raise RuntimeError("boom super-secret-token")
        except RuntimeError:
            logging.getLogger("sav_bridge.test").exception("failed")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "calling with token ***" and lines[0]["level"] == "WARNING"
    assert "super-secret-token" not in stream.getvalue()


# -- start-up failures: one line, no traceback, a documented exit code -----------------------------
def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own: what an admin sees, thread noise at exit included."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAV_BRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "sav_bridge.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _startup_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    from tests.harness import gateway_env

    return gateway_env(f"sqlite:///{tmp_path / 'db.sqlite'}", **extra)


@pytest.mark.parametrize(
    ("extra", "code", "expected"),
    [
        ({"SAV_BRIDGE_SERVER__PORT": "99999"}, 2, "config: server.port: must be between 1 and 65535"),
        ({"SAV_BRIDGE_WORKERS__MAX_ATTEMPTS": "0"}, 2, "config: workers.max_attempts: must be between 1 and 100"),
        ({"SAV_BRIDGE_MAX_BODY_BYTES": "0"}, 2, "config: max_body_bytes: must be between 1024 and 16777216"),
        ({"SAV_BRIDGE_HELPDESK": "kayako"}, 2, f"unknown helpdesk 'kayako'; installed: {INSTALLED}"),
        ({"SAV_BRIDGE_CONFIG": "/nonexistent/sav.yaml"}, 2, "config: --config: cannot read /nonexistent/sav.yaml: No such file or directory"),
        ({"SAV_BRIDGE_POLICY__PATH": "/nonexistent/policy.yaml"}, 2, "/nonexistent/policy.yaml: cannot read: No such file or directory"),
        ({"SAV_BRIDGE_DATABASE_URL": "postgresql://u@127.0.0.1:1/x"}, 3, "database: cannot connect to PostgreSQL at 127.0.0.1:1: Connection refused (gave up after 5 s)"),
        ({"SAV_BRIDGE_DATABASE_URL": "sqlite:///{tmp}/a-file/db.sqlite"}, 3, "database: cannot open the SQLite file {tmp}/a-file/db.sqlite: a parent of it is a file, not a folder"),
    ],
)  # fmt: skip
def test_serve_start_up_failures_are_one_line_with_a_documented_code(
    tmp_path: Path, extra: dict[str, str], code: int, expected: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env = _startup_env(tmp_path, **{k: v.format(tmp=tmp_path) for k, v in extra.items()})
    done = _run(["serve"], env, tmp_path)
    assert (done.returncode, done.stderr) == (code, f"sav-bridge: {expected.format(tmp=tmp_path)}\n")


def test_a_port_already_taken_is_one_line_and_code_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _startup_env(tmp_path, SAV_BRIDGE_SERVER__HOST="127.0.0.1", SAV_BRIDGE_SERVER__PORT=str(port))
        done = _run(["serve"], env, tmp_path)
    assert (done.returncode, done.stderr) == (
        3,
        f"sav-bridge: server: cannot listen on 127.0.0.1:{port}: Address already in use\n",
    )


def test_a_yaml_config_with_a_negative_worker_count_stops_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "sav.yaml"
    config.write_text("workers: {count: -1}\n")
    env = {k: v for k, v in _startup_env(tmp_path).items() if k != "SAV_BRIDGE_WORKERS__COUNT"}
    done = _run(["--config", str(config), "serve"], env, tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "sav-bridge: config: workers.count: must be between 0 and 64\n",
    )


def test_version_is_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"sav-bridge {metadata.version('sav-bridge')}\n"


def test_port_option_out_of_range_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--port", "99999"])
    assert done.value.code == 2
    assert "--port: must be an integer between 1 and 65535" in capsys.readouterr().err


# -- sav-bridge check [--online] ---------------------------------------------------------------------
def _set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith("SAV_BRIDGE_") and name != "SAV_BRIDGE_VENDOR_DIR":
            monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_check_online_on_the_sandbox_passes_and_says_what_it_checked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _set_env(monkeypatch, _startup_env(tmp_path, SAV_BRIDGE_SANDBOX="true"))
    assert main(["check", "--online"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "configuration: ok (environment only)" in out
    assert f"helpdesk plugin: zendesk (installed: {INSTALLED})" in out
    assert "policies/default.yaml: ok (version" in out
    assert "zendesk credentials: ok (api@mabanque.fr (admin))" in out
    assert "x credentials: ok (@MaBanque (id 1500000000000000001))" in out
    assert not (tmp_path / "db.sqlite").exists(), "check opened the store"


def test_check_offline_tries_no_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _set_env(monkeypatch, _startup_env(tmp_path))
    assert main(["check"]) == 0
    assert "credentials: not tried (add --online to try them)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"SAV_BRIDGE_X__ACCOUNT_ID": "brand"}, "sav-bridge: config: x.account_id: must be a numeric id of 1 to 19 digits"),
        ({"SAV_BRIDGE_HELPDESK": "kayako"}, f"sav-bridge: unknown helpdesk 'kayako'; installed: {INSTALLED}"),
        ({"SAV_BRIDGE_POLICY__PATH": "/nonexistent.yaml"}, "sav-bridge: /nonexistent.yaml: cannot read: No such file or directory"),
    ],
)  # fmt: skip
def test_check_stops_at_a_configuration_error_with_code_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra: dict[str, str],
    expected: str,
) -> None:
    _set_env(monkeypatch, _startup_env(tmp_path, **extra))
    assert main(["check", "--online"]) == 2
    assert capsys.readouterr().err == expected + "\n"


def _refuse_connections(host: str, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == host:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await inner.handle_async_request(request)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("fault", "code", "expected"),
    [
        ("x-401", 2, "sav-bridge: x: token refused (HTTP 401); check the configured credentials"),
        ("zendesk-401", 2, "sav-bridge: zendesk: token refused (HTTP 401); check the configured credentials"),
        ("x-503", 3, "sav-bridge: x: the API is not answering normally (HTTP 503 {\"error\": \"injected failure\"})"),
        ("zendesk-down", 3, "sav-bridge: zendesk: cannot reach mabanque.zendesk.com (could not connect: ConnectError)"),
        ("x-other-account", 2, "sav-bridge: x: the token belongs to @MaBanque (id 42), not to x.account_id"),
    ],
)  # fmt: skip
async def test_check_online_says_what_is_wrong(
    vendor_dir: Path | None, tmp_path: Path, fault: str, code: int, expected: str
) -> None:
    env = _startup_env(tmp_path, SAV_BRIDGE_SANDBOX="true")
    settings = load_settings(None, env)
    sandbox = Sandbox(settings, vendor_dir)
    transport: httpx.AsyncBaseTransport = sandbox.transport()
    if fault == "x-401":
        sandbox.x.faults.add(Fault("GET", "/2/users/me", 401, body='{"title": "Unauthorized"}'))
    elif fault == "zendesk-401":
        sandbox.helpdesk.faults.add(
            Fault("GET", "/api/v2/users/me", 401, body='{"error": "Couldn\'t authenticate you"}')
        )
    elif fault == "x-503":
        sandbox.x.faults.add(Fault("GET", "/2/users/me", 503, times=5))
    elif fault == "zendesk-down":
        transport = _refuse_connections("mabanque.zendesk.com", transport)
    else:
        sandbox.x.account_id = "42"
    out, err = io.StringIO(), io.StringIO()
    assert await run_check(None, env, True, out, err, transport) == code
    assert err.getvalue() == expected + "\n"
    assert "credentials: FAILED" in out.getvalue()
    assert sandbox.violations == []


# -- provisioning: the helpdesk's settings only, and a dry run changes nothing ----------------------
def _helpdesk_only_env(**extra: str) -> dict[str, str]:
    from tests.harness import gateway_env

    env = gateway_env("unused", **extra)
    return {k: v for k, v in env.items() if not k.startswith(("SAV_BRIDGE_X__", "SAV_BRIDGE_DATABASE_URL"))}


def test_provision_dry_run_creates_no_file_and_needs_no_x_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, _helpdesk_only_env(SAV_BRIDGE_SANDBOX="true"))
    assert main(["zendesk", "provision", "--public-url", "https://sav.example.com", "--dry-run"]) == 0
    assert "dry run: nothing was changed" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


async def test_provision_sends_only_what_a_dry_run_allows(
    vendor_dir: Path | None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_helpdesk_settings(None, _helpdesk_only_env())
    fake = helpdesk_fake(settings, vendor_dir)
    transport = httpx.MockTransport(fake.handle)
    assert await provision(settings, "zendesk", "https://sav.example.com", True, transport) == 0
    assert [r.method for r in fake.requests if r.method != "GET"] == []
    assert await provision(settings, "zendesk", "https://sav.example.com", False, transport) == 0
    assert [r.method for r in fake.requests if r.method != "GET"] == ["POST", "POST"]
    assert "created webhook" in capsys.readouterr().out and fake.violations == []
