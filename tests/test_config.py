"""Configuration: YAML + environment, validated, with one-line errors that never show a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sav_bridge import SCHEMA_DIR
from sav_bridge.config import Secret, load_helpdesk_settings, load_schema, load_settings
from sav_bridge.errors import ConfigError
from tests.harness import gateway_env

MINIMAL = {
    "SAV_BRIDGE_HELPDESK": "zendesk",
    "SAV_BRIDGE_X__CONSUMER_SECRET": "s3cret-consumer",
    "SAV_BRIDGE_X__ACCOUNT_ID": "123",
    "SAV_BRIDGE_X__CONSUMER_KEY": "s3cret-key",
    "SAV_BRIDGE_X__ACCESS_TOKEN": "s3cret-token",
    "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "s3cret-token-secret",
    "SAV_BRIDGE_ZENDESK__URL": "https://acme.zendesk.com",
    "SAV_BRIDGE_ZENDESK__EMAIL": "api@acme.fr",
    "SAV_BRIDGE_ZENDESK__API_TOKEN": "s3cret-zd",
    "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "s3cret-hook",
}


def test_environment_alone_configures_a_one_account_deployment() -> None:
    settings = load_settings(None, MINIMAL)
    assert settings.database_url == "sqlite:///sav-bridge.db"
    assert settings.x.api_url == "https://api.x.com"
    assert settings.helpdesk == "zendesk"
    assert settings.signature.format == " ^{initials}"
    assert settings.x.consumer_secret == Secret("s3cret-consumer")
    assert settings.helpdesk_section()["url"] == "https://acme.zendesk.com"
    assert (settings.workers.count, settings.port, settings.max_body_bytes) == (2, 8080, 1048576)


def test_the_tests_own_variables_are_not_configuration() -> None:
    """CI sets SAV_BRIDGE_TEST_* for the test suite (a database, a browser): the gateway ignores them."""
    test_only = {"SAV_BRIDGE_TEST_CHROMIUM": "/usr/bin/chromium", "SAV_BRIDGE_TEST_DATABASE_URL": "postgresql://x/y",
                 "SAV_BRIDGE_VENDOR_DIR": "/tmp"}  # fmt: skip
    assert load_settings(None, {**MINIMAL, **test_only}) == load_settings(None, MINIMAL)
    with pytest.raises(ConfigError, match="chromium: is not a known key"):
        load_settings(None, {**MINIMAL, "SAV_BRIDGE_CHROMIUM": "/usr/bin/chromium"})


def test_yaml_file_and_environment_merge_with_env_winning(tmp_path: Path) -> None:
    config = tmp_path / "sav.yaml"
    config.write_text(
        "database_url: postgresql://db/sav\nworkers:\n  count: 4\nsignature:\n  overrides:\n    '77': AJ\n"
        "x:\n  screen_name: MaBanque\n",
        encoding="utf-8",
    )
    settings = load_settings(
        config, {**MINIMAL, "SAV_BRIDGE_WORKERS__COUNT": "1", "SAV_BRIDGE_SANDBOX": "true"}
    )
    assert settings.database_url == "postgresql://db/sav"
    assert settings.workers.count == 1
    assert settings.sandbox is True
    assert settings.signature.overrides == {"77": "AJ"}
    assert settings.x.screen_name == "MaBanque"


def test_config_path_can_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "sav.yaml"
    config.write_text("log_level: DEBUG\n", encoding="utf-8")
    assert load_settings(None, {**MINIMAL, "SAV_BRIDGE_CONFIG": str(config)}).log_level == "DEBUG"


#: Values no message may contain: secrets and the bad values themselves.
NEVER_SHOWN = (
    "s3cret",
    "brand",
    "mysql",
    "many",
    "blue",
    "99999",
    "TRACE",
    "maybe",
    "nan",
    "1e400",
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SAV_BRIDGE_X__CONSUMER_SECRET": None}, "x.consumer_secret: is required"),
        ({"SAV_BRIDGE_ZENDESK__API_TOKEN": None}, "zendesk.api_token: is required"),
        ({"SAV_BRIDGE_X__ACCOUNT_ID": "brand"}, "x.account_id: must be a numeric id of 1 to 19 digits"),
        ({"SAV_BRIDGE_X__ACCOUNT_ID": "1" * 20}, "x.account_id: must be a numeric id of 1 to 19 digits"),
        ({"SAV_BRIDGE_WORKERS__COUNT": "many"}, "workers.count: must be an integer"),
        ({"SAV_BRIDGE_WORKERS__COUNT": "2.5"}, "workers.count: must be an integer"),
        ({"SAV_BRIDGE_WORKERS__COUNT": "-1"}, "workers.count: must be between 0 and 64"),
        ({"SAV_BRIDGE_SERVER__PORT": "99999"}, "server.port: must be between 1 and 65535"),
        ({"SAV_BRIDGE_SERVER__PORT": "0"}, "server.port: must be between 1 and 65535"),
        ({"SAV_BRIDGE_WORKERS__MAX_ATTEMPTS": "0"}, "workers.max_attempts: must be between 1 and 100"),
        ({"SAV_BRIDGE_MAX_BODY_BYTES": "0"}, "max_body_bytes: must be between 1024 and 16777216"),
        ({"SAV_BRIDGE_WEBHOOK_TOLERANCE_SECONDS": "99999"}, "webhook_tolerance_seconds: must be between 10 and 3600"),
        ({"SAV_BRIDGE_WORKERS__POLL_SECONDS": "0"}, "workers.poll_seconds: must be greater than 0 and at most 60"),
        ({"SAV_BRIDGE_WORKERS__POLL_SECONDS": "nan"}, "workers.poll_seconds: must be a number"),
        ({"SAV_BRIDGE_WORKERS__POLL_SECONDS": "1e400"}, "workers.poll_seconds: must be a number"),
        ({"SAV_BRIDGE_X__TIMEOUT_SECONDS": "soon"}, "x.timeout_seconds: must be a number"),
        ({"SAV_BRIDGE_ZENDESK__TIMEOUT_SECONDS": "121"}, "zendesk.timeout_seconds: must be greater than 0 and at most 120"),
        ({"SAV_BRIDGE_SANDBOX": "maybe"}, "sandbox: must be true or false"),
        ({"SAV_BRIDGE_LOG_LEVEL": "TRACE"}, "log_level: must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"SAV_BRIDGE_DATABASE_URL": "mysql://x"}, "database_url: must start with sqlite:/// or postgresql://"),
        ({"SAV_BRIDGE_PUBLIC_URL": "sav.example.com"}, "public_url: must start with http:// or https://"),
        ({"SAV_BRIDGE_HELPDESK": "Zendesk!"}, "helpdesk: must be a plugin name in lower case (letters, digits, _)"),
        ({"SAV_BRIDGE_X__SCREEN_NAME": "@" + "b" * 16}, "x.screen_name: must be an X handle: 1 to 15 letters, digits or _, @ optional"),
        ({"SAV_BRIDGE_ZENDESK__EMAIL": "many"}, "zendesk.email: must be an e-mail address"),
        ({"SAV_BRIDGE_SIGNATURE__FORMAT": "no placeholder"}, "signature.format: must contain {initials}"),
        ({"SAV_BRIDGE_SIGNATURE__OVERRIDES": "[1]"}, "signature.overrides: must be a mapping of keys (a JSON object in the environment)"),
        ({"SAV_BRIDGE_SIGNATURE__OVERRIDES": '{"a": "blue!"}'}, "signature.overrides.a: must be 1 to 4 letters or digits"),
        ({"SAV_BRIDGE_SIGNATURE__OVERRIDES": '{"a": 5}'}, "signature.overrides.a: must be a string"),
        ({"SAV_BRIDGE_COLOUR": "blue"}, "colour: is not a known key"),
        ({"SAV_BRIDGE_WORKERS__COLOUR": "blue"}, "workers.colour: is not a known key"),
        ({"SAV_BRIDGE_X__API_URL": "ftp://x"}, "x.api_url: must start with http:// or https://"),
    ],
)  # fmt: skip
def test_every_bad_environment_value_is_one_line_naming_key_and_rule(
    change: dict[str, str | None], message: str
) -> None:
    env = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)
    text = str(caught.value)
    assert text == f"config: {message}"
    assert not any(shown in text for shown in NEVER_SHOWN)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("workers: {count: -1}", "workers.count: must be between 0 and 64"),
        ("workers: {count: 2.0}", "workers.count: must be an integer"),
        ("workers: {count: true}", "workers.count: must be an integer"),
        ("workers: {count: '2'}", "workers.count: must be an integer"),
        ("workers: {poll_seconds: .nan}", "workers.poll_seconds: must be a number"),
        ("workers: {poll_seconds: .inf}", "workers.poll_seconds: must be a number"),
        ("workers: {lease_seconds: 1}", "workers.lease_seconds: must be between 5 and 3600"),
        (
            "workers: {max_backoff_seconds: 99999999}",
            "workers.max_backoff_seconds: must be between 1 and 86400",
        ),
        ("workers: [1, 2]", "workers: must be a mapping of keys (a JSON object in the environment)"),
        ("workers:", "workers: must be a mapping of keys (a JSON object in the environment)"),
        ("server: {port: 99999}", "server.port: must be between 1 and 65535"),
        ("server: {port: '8080'}", "server.port: must be an integer"),
        ("server: {host: 8080}", "server.host: must be a string"),
        ("sandbox: 'maybe'", "sandbox: must be true or false"),
        ("sandbox: 1", "sandbox: must be true or false"),
        ("max_body_bytes: 0", "max_body_bytes: must be between 1024 and 16777216"),
        ("log_level: info", "log_level: must be one of DEBUG, INFO, WARNING, ERROR"),
        ("database_url: 5", "database_url: must be a string"),
        ("x: {screen_name: 5}", "x.screen_name: must be a string"),
        ("x: {colour: blue}", "x.colour: is not a known key"),
        ("x: {timeout_seconds: 0}", "x.timeout_seconds: must be greater than 0 and at most 120"),
        ("zendesk: {timeout_seconds: -1}", "zendesk.timeout_seconds: must be greater than 0 and at most 120"),
        ("policy: {path: 5}", "policy.path: must be a string"),
        ("signature: {overrides: {'1': 'many!'}}", "signature.overrides.1: must be 1 to 4 letters or digits"),
        ("1: blue", "1: is not a known key"),
        ("colour: blue", "colour: is not a known key"),
    ],
)
def test_every_bad_yaml_value_is_one_line_naming_key_and_rule(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    config = tmp_path / "sav.yaml"
    config.write_text(yaml_text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, MINIMAL)
    assert str(caught.value) == f"config: {message}"
    assert not any(shown in str(caught.value) for shown in NEVER_SHOWN)


def test_an_empty_environment_value_counts_as_unset() -> None:
    """docker compose passes `${X_SCREEN_NAME:-}` as "": the gateway starts without a screen name."""
    settings = load_settings(
        None,
        {
            **MINIMAL,
            "SAV_BRIDGE_X__SCREEN_NAME": "",
            "SAV_BRIDGE_WORKERS__COUNT": "",
            "SAV_BRIDGE_CONFIG": "",
        },
    )
    assert settings.x.screen_name is None and settings.workers.count == 2
    with pytest.raises(ConfigError, match=r"^config: x\.access_token: is required with x\.auth: oauth1"):
        load_settings(None, {**MINIMAL, "SAV_BRIDGE_X__ACCESS_TOKEN": ""})


def test_helpdesk_settings_need_no_x_section() -> None:
    """`zendesk provision` runs with the helpdesk's own settings only."""
    helpdesk_only = {k: v for k, v in MINIMAL.items() if not k.startswith("SAV_BRIDGE_X__")}
    with pytest.raises(ConfigError, match=r"^config: x\.consumer_secret: is required$"):
        load_settings(None, helpdesk_only)
    settings = load_helpdesk_settings(None, helpdesk_only)
    assert settings.helpdesk_section()["url"] == "https://acme.zendesk.com"
    assert "s3cret-zd" in settings.secrets() and not hasattr(settings, "x")
    assert load_helpdesk_settings(None, {**helpdesk_only, "SAV_BRIDGE_X__SCREEN_NAME": "MaBanque"})
    with pytest.raises(ConfigError, match=r"^config: x\.account_id: must be a numeric id"):
        load_helpdesk_settings(None, {**helpdesk_only, "SAV_BRIDGE_X__ACCOUNT_ID": "brand"})
    with pytest.raises(ConfigError, match=r"^config: zendesk\.api_token: is required$"):
        load_helpdesk_settings(None, {k: v for k, v in helpdesk_only.items() if "API_TOKEN" not in k})


def test_a_helpdesk_section_comes_from_its_installed_plugin_not_from_the_core_schema() -> None:
    assert "zendesk" not in (SCHEMA_DIR / "config.schema.json").read_text(encoding="utf-8").lower()
    assert "url" in load_schema()["properties"]["zendesk"]["required"]
    missing = {k: v for k, v in MINIMAL.items() if k != "SAV_BRIDGE_ZENDESK__URL"}
    with pytest.raises(ConfigError, match=r"^config: zendesk\.url: is required$"):
        load_settings(None, missing)
    assert load_settings(None, MINIMAL).helpdesk == "zendesk"  # the only plugin installed: no need to name it


def test_bad_yaml_points_at_the_line(tmp_path: Path) -> None:
    config = tmp_path / "sav.yaml"
    config.write_text("x:\n  account_id: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_settings(config, MINIMAL)


def test_secrets_never_show_in_repr() -> None:
    settings = load_settings(None, gateway_env("sqlite:///x.db"))
    shown = repr(settings)
    assert "x-consumer-secret-for-tests" not in shown and "zendesk-api-token-for-tests" not in shown
    assert set(settings.secrets()) >= {"x-consumer-secret-for-tests", "zendesk-webhook-secret-for-tests"}


def test_the_readme_example_configuration_loads(tmp_path: Path) -> None:
    """The example a deployer copies must pass the schema as it stands."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = tmp_path / "sav-bridge.yaml"
    config.write_text(example)
    secrets = {
        "SAV_BRIDGE_X__CONSUMER_SECRET": "c",
        "SAV_BRIDGE_X__CONSUMER_KEY": "k",
        "SAV_BRIDGE_X__ACCESS_TOKEN": "t",
        "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "ts",
        "SAV_BRIDGE_ZENDESK__API_TOKEN": "z",
        "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "w",
    }
    settings = load_settings(config, secrets)
    assert settings.x.account_id == "1234567890"
    assert settings.policy_path == Path("/etc/sav-bridge/policy.yaml")
    assert settings.database_url.startswith("postgresql://")
