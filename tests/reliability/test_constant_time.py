"""Secrets, digests, signatures and tokens are compared in constant time (`hmac.compare_digest`), never
with `==` or `!=`, whose time tells an attacker how many leading characters they guessed right.

The check reads every module of the core and of the plugins (the sandboxes' fakes too: they run in
`serve` with `sandbox: true`) with `ast` and names each `==`/`!=` one of whose sides is named like a
secret: the last word of its name (`webhook_secret`, `seen_digest`, `sig`), of the function that made
it (`hexdigest()`, `sign(...)`, `secret.reveal()`) or the key it was read under (`.get("oauth_token")`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[2]
SECRET_WORDS = frozenset(
    {"digest", "hexdigest", "signature", "sig", "sign", "token", "secret", "mac", "hmac", "password",
     "passphrase", "nonce", "csrf", "verifier", "reveal", "credential", "credentials"}
)  # fmt: skip
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def last_word(name: str) -> str:
    """`webhook_secret` → secret, `TOKEN_PATH` → path, `seenDigest` → digest."""
    words = _WORD.findall(name)
    return words[-1].lower() if words else ""


def name_of(node: ast.expr) -> str | None:
    """What a compared value is called: its name, attribute, function, or the key it is read under."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        key = node.slice
        return (
            key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else name_of(node.value)
        )
    if isinstance(node, ast.Call):
        first = node.args[0] if node.args else None
        read = isinstance(node.func, ast.Attribute) and node.func.attr in {"get", "pop", "getlist"}
        if read and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
        return name_of(node.func)
    if isinstance(node, ast.BoolOp):  # `submitted or ""`
        return next((n for n in map(name_of, node.values) if n and last_word(n) in SECRET_WORDS), None)
    return None


def secret_comparisons(source: str) -> list[str]:
    """`line: expression` of every `==`/`!=` between values named like secrets (a literal on one side,
    such as `token == ""`, tells nothing about the secret and is let through)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            if not isinstance(op, ast.Eq | ast.NotEq):
                continue
            if isinstance(left, ast.Constant) or isinstance(right, ast.Constant):
                continue
            if any((name := name_of(side)) and last_word(name) in SECRET_WORDS for side in (left, right)):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def modules() -> Iterator[Path]:
    yield from sorted((SOURCES / "sav_bridge").rglob("*.py"))
    yield from sorted((SOURCES / "adapters").glob("*/sav_bridge_*/**/*.py"))


def test_no_secret_digest_signature_or_token_is_compared_with_equality() -> None:
    found = {
        str(module.relative_to(SOURCES)): hits
        for module in modules()
        if (hits := secret_comparisons(module.read_text(encoding="utf-8")))
    }
    assert found == {}, "use hmac.compare_digest for these"


def test_the_scan_reads_every_module_of_the_core_and_the_plugins() -> None:
    names = {str(m.relative_to(SOURCES)) for m in modules()}
    assert "sav_bridge/channels/x/signing.py" in names
    assert "adapters/zendesk/sav_bridge_zendesk/webhook.py" in names
    assert len(names) > 80


@pytest.mark.parametrize(
    "planted",
    [
        "ok = signature == expected",
        "if seen_digest != digest: raise Unauthorized('no')",
        "ok = hmac_sha256(secret, body).hexdigest() == header",
        "ok = sign(secret, body) == given",
        "ok = headers.get('x-zendesk-webhook-signature') == computed",
        "ok = settings.webhook_secret.reveal() == query",
        "ok = request.cookies.get('csrf') != token",
        "ok = (submitted or '') == session.csrf",
        "ok = a == b == access_token",
    ],
)
def test_the_scan_catches_a_planted_comparison(planted: str) -> None:
    compare = next(n for n in ast.walk(ast.parse(planted)) if isinstance(n, ast.Compare))
    assert secret_comparisons(planted) == [f"1: {ast.unparse(compare)}"]


@pytest.mark.parametrize(
    "innocent",
    [
        "ok = hmac.compare_digest(signature.encode(), expected.encode())",
        "ok = request.url.path == TOKEN_PATH",
        "ok = token_type == kind",
        "ok = token == ''",
        "ok = signature is None",
        "ok = len(signature) != size",
        "ok = job.kind == other.kind",
    ],
)
def test_the_scan_lets_through_what_is_no_secret_comparison(innocent: str) -> None:
    assert secret_comparisons(innocent) == []
