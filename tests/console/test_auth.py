"""Keys from the identity provider's JWKS: cached, fetched again (at most every 10 s) when a token names a
new `kid`."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jose import jwk

from sav_bridge.config import JwtSettings
from sav_bridge.console.auth import NotAuthenticated, TokenVerifier
from tests.console.test_api import AUDIENCE, ISSUER, OTHER_KEY, PUBLIC_PEM, token

SETTINGS = JwtSettings(ISSUER, AUDIENCE, jwks_url="https://idp.mabanque.fr/.well-known/jwks.json")


def key_set(*keys: tuple[str, str]) -> dict[str, list[dict[str, str]]]:
    return {"keys": [{**jwk.construct(public, "RS256").to_dict(), "kid": kid} for kid, public in keys]}


async def test_a_new_kid_fetches_the_keys_again_once_then_the_cache_serves() -> None:
    served = [key_set(("k1", PUBLIC_PEM)), key_set(("k1", PUBLIC_PEM), ("k2", PUBLIC_PEM))]
    fetched: list[int] = []

    def jwks(request: httpx.Request) -> httpx.Response:
        fetched.append(1)
        return httpx.Response(200, json=served[min(len(fetched), len(served)) - 1])

    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks)) as client:
        now = [1_780_000_000.0]
        verifier = TokenVerifier(SETTINGS, {}, client, lambda: now[0])
        first = await verifier.verify("Bearer " + token("alice", ["viewer"], kid_header="k1"))
        now[0] += 11  # an unknown kid refetches at most every 10 s: random kids cannot hammer the provider
        rotated = await verifier.verify("Bearer " + token("bob", ["approver"], kid_header="k2"))
        again = await verifier.verify("Bearer " + token("bob", ["approver"], kid_header="k2"))
    assert (first.subject, rotated.subject, again.subject) == ("alice", "bob", "bob") and len(fetched) == 2


async def test_a_token_signed_by_a_key_the_set_lacks_is_refused() -> None:
    def jwks(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=key_set(("k1", PUBLIC_PEM)))

    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks)) as client:
        verifier = TokenVerifier(SETTINGS, {}, client)
        with pytest.raises(NotAuthenticated):
            await verifier.verify("Bearer " + token("mallory", ["approver"], key=OTHER_KEY, kid_header="k1"))
        assert (
            await verifier.verify("Bearer " + token("alice", ["viewer"], kid_header="k1"))
        ).subject == "alice"


async def test_a_key_set_of_rsa_and_ec_keys_verifies_both_kinds_and_never_errs() -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    ec_public = signer.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    mixed = key_set(("r1", PUBLIC_PEM))
    mixed["keys"].append({**jwk.construct(ec_public, "ES256").to_dict(), "kid": "e1"})

    def jwks(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=mixed)

    async with httpx.AsyncClient(transport=httpx.MockTransport(jwks)) as client:
        verifier = TokenVerifier(SETTINGS, {}, client)
        by_ec = await verifier.verify(
            "Bearer " + token("eve", ["viewer"], key=signer, alg="ES256", kid_header="e1")
        )
        by_rsa = await verifier.verify("Bearer " + token("rob", ["viewer"], kid_header="r1"))
        without_kid = await verifier.verify("Bearer " + token("ann", ["viewer"], key=signer, alg="ES256"))
        with pytest.raises(NotAuthenticated):  # an EC token naming the RSA key's kid
            await verifier.verify(
                "Bearer " + token("eve", ["viewer"], key=signer, alg="ES256", kid_header="r1")
            )
    assert (by_ec.subject, by_rsa.subject, without_kid.subject) == ("eve", "rob", "ann")
