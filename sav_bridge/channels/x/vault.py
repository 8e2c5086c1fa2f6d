"""Sealing credentials for the database: Fernet (AES-128-CBC + HMAC-SHA256) keyed by `secrets_key`.

A database dump or backup then shows no token; the key stays in the environment or a mounted file.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from sav_bridge.config import Secret


class Unreadable(Exception):
    """The stored value was sealed with another key (`secrets_key` changed) or was altered."""


class Vault:
    def __init__(self, key: Secret) -> None:
        self._fernet = Fernet(key.reveal().encode())

    def seal(self, value: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        try:
            value = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise Unreadable(
                "cannot decrypt: secrets_key is not the key these tokens were sealed with"
            ) from None
        if not isinstance(value, dict):
            raise Unreadable("the decrypted value is not an object")
        return value
