"""`x.auth`: what each scheme requires, in one line naming the key, and what an old configuration hears."""

from __future__ import annotations

import pytest

from sav_bridge.config import load_helpdesk_settings, load_settings
from sav_bridge.errors import ConfigError
from tests.channels.x_auth_helpers import SECRETS_KEY
from tests.test_config import MINIMAL

OAUTH1 = ("SAV_BRIDGE_X__CONSUMER_KEY", "SAV_BRIDGE_X__ACCESS_TOKEN", "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET")
OAUTH2 = {
    "SAV_BRIDGE_X__AUTH": "oauth2",
    "SAV_BRIDGE_X__CLIENT_ID": "cid",
    "SAV_BRIDGE_SECRETS_KEY": SECRETS_KEY,
}


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in MINIMAL.items() if k not in names}


def test_oauth1_is_the_default_and_needs_its_keys() -> None:
    assert load_settings(None, MINIMAL).x.auth == "oauth1"
    with pytest.raises(
        ConfigError, match=r"^config: x\.access_token_secret: is required with x\.auth: oauth1"
    ):
        load_settings(None, without("SAV_BRIDGE_X__ACCESS_TOKEN_SECRET"))


def test_an_old_configuration_with_a_bearer_token_only_is_told_what_to_set() -> None:
    old = without("SAV_BRIDGE_X__CONSUMER_KEY", "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET")
    with pytest.raises(ConfigError) as caught:
        load_settings(None, old)
    assert str(caught.value) == (
        "config: x.consumer_key: is required with x.auth: oauth1, the default (for OAuth 2.0, set x.auth: oauth2)"
    )


def test_oauth2_needs_a_client_id_and_a_secrets_key_but_no_oauth1_keys() -> None:
    settings = load_settings(None, {**without(*OAUTH1), **OAUTH2})
    assert settings.x.auth == "oauth2" and settings.x.refresh_margin_seconds == 300
    assert SECRETS_KEY in settings.secrets()
    with pytest.raises(ConfigError, match=r"^config: x\.client_id: is required with x\.auth: oauth2$"):
        load_settings(None, {**without(*OAUTH1), **OAUTH2, "SAV_BRIDGE_X__CLIENT_ID": ""})
    with pytest.raises(
        ConfigError, match=r"^config: secrets_key: is required with x\.auth: oauth2 \(it encrypts"
    ):
        load_settings(None, {**without(*OAUTH1), **OAUTH2, "SAV_BRIDGE_SECRETS_KEY": ""})


def test_a_secrets_key_that_is_not_a_fernet_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**MINIMAL, **OAUTH2, "SAV_BRIDGE_SECRETS_KEY": "hunter2"})
    assert str(caught.value).startswith("config: secrets_key: must be a Fernet key") and "hunter2" not in str(
        caught.value
    )


def test_the_consumer_secret_stays_required_with_oauth2() -> None:
    with pytest.raises(ConfigError, match=r"^config: x\.consumer_secret: is required$"):
        load_settings(None, {**without(*OAUTH1, "SAV_BRIDGE_X__CONSUMER_SECRET"), **OAUTH2})


def test_helpdesk_provisioning_needs_no_x_auth_keys() -> None:
    partial = {**without(*OAUTH1), "SAV_BRIDGE_X__AUTH": "oauth2"}
    assert load_helpdesk_settings(None, partial).helpdesk == "zendesk"
