"""Demo tokens for the compliance API, in sandbox mode only (`sav-bridge console token`, `make demo`).

A sandbox gateway has no identity provider, so it trusts one key of its own: an ES256 key derived (HKDF)
from its configuration (X's consumer secret and the database URL), which the command line derives again
to mint tokens. It exists only while `sandbox: true` and `console.jwt` is unset; a real deployment
verifies its identity provider's tokens and has no key to mint with.
"""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jose import jwt

from sav_bridge.config import JwtSettings, Settings
from sav_bridge.errors import ConfigError

ISSUER = "sav-bridge-sandbox"
AUDIENCE = "sav-bridge-console"
#: The order of P-256: the derived private value must lie in [1, n - 1].
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    material = settings.x.consumer_secret.reveal().encode() + b"\0" + settings.database_url.encode()
    hkdf = HKDF(hashes.SHA256(), 48, salt=b"sav-bridge sandbox console", info=b"ES256 P-256")
    value = int.from_bytes(hkdf.derive(material), "big") % (_ORDER - 1) + 1
    return ec.derive_private_key(value, ec.SECP256R1())


def sandbox_jwt(settings: Settings) -> JwtSettings | None:
    """What the compliance API trusts in sandbox mode without `console.jwt`; None otherwise."""
    if not settings.sandbox or settings.console.jwt is not None:
        return None
    public = (
        _key(settings)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return JwtSettings(ISSUER, AUDIENCE, public_key=public.decode(), algorithms=("ES256",))


def mint(settings: Settings, subject: str, role: str, hours: float = 12.0, now: float | None = None) -> str:
    """A token for the sandbox's compliance API; `ConfigError` outside sandbox mode."""
    if sandbox_jwt(settings) is None:
        raise ConfigError(
            "sandbox", "demo tokens exist only in sandbox mode without console.jwt (SAV_BRIDGE_SANDBOX=true); "
            "a real deployment uses its identity provider's tokens",
        )  # fmt: skip
    issued = int(time.time() if now is None else now)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "roles": [role], "iat": issued, "nbf": issued,
              "exp": issued + int(hours * 3600)}  # fmt: skip
    pem = _key(settings).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token: str = jwt.encode(claims, pem.decode(), algorithm="ES256")
    return token
