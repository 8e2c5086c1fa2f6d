"""Configuration: YAML + environment, validated, with one-line errors that never show a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from sav_bridge.config import Secret, load_settings
from sav_bridge.errors import ConfigError
from tests.harness import gateway_env

MINIMAL = {
    "SAV_BRIDGE_X__CONSUMER_SECRET": "s3cret-consumer",
    "SAV_BRIDGE_X__ACCOUNT_ID": "123",
    "SAV_BRIDGE_X__ACCESS_TOKEN": "s3cret-token",
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


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SAV_BRIDGE_X__CONSUMER_SECRET": None}, "config: x.consumer_secret: is required"),
        ({"SAV_BRIDGE_ZENDESK__API_TOKEN": None}, "config: zendesk.api_token: is required"),
        ({"SAV_BRIDGE_X__ACCOUNT_ID": "brand"}, "config: x.account_id: must match ^[0-9]{1,19}$"),
        ({"SAV_BRIDGE_WORKERS__COUNT": "many"}, "config: workers.count: environment value must be a integer"),
        ({"SAV_BRIDGE_DATABASE_URL": "mysql://x"}, "config: database_url: must match"),
        ({"SAV_BRIDGE_COLOUR": "blue"}, "config: colour: is not a known key"),
        ({"SAV_BRIDGE_SIGNATURE__FORMAT": "no placeholder"}, "config: signature.format: must match"),
    ],
)
def test_wrong_or_missing_key_names_the_key_in_one_line(change: dict[str, str | None], message: str) -> None:
    env = {k: v for k, v in {**MINIMAL, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, env)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert not any(secret in text for secret in ("s3cret", "brand", "mysql", "many", "blue"))


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
        "SAV_BRIDGE_X__ACCESS_TOKEN": "t",
        "SAV_BRIDGE_ZENDESK__API_TOKEN": "z",
        "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "w",
    }
    settings = load_settings(config, secrets)
    assert settings.x.account_id == "1234567890"
    assert settings.policy_path == Path("/etc/sav-bridge/policy.yaml")
    assert settings.database_url.startswith("postgresql://")
