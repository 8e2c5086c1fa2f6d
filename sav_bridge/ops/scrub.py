"""What the operator tools print of stored data: never a secret, never a customer's or an agent's text.

Job payloads and quarantined bodies hold what came in or goes out: reply texts (which may carry a card
number the posting policy is there to stop), customers' messages, helpdesk attachment addresses whose
query string is a download token, and what a vendor put in a body (a SOAP outbound message may carry a
session id). An operator needs their shape, ids and sizes, not their words: texts become their
length and SHA-256 prefix (the key the audit log uses), addresses keep only their host (a download
token may sit in the path, as some helpdesks put it, or in the query), values under secret-looking names and
every configured secret are masked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
#: Names whose value is a credential, whatever it looks like.
SECRET_NAME = re.compile(
    r"token|secret|passw|authori[sz]ation|api_?key|cookie|signature|session_?id|credential|private_key", re.I
)
#: Names whose value is someone's words.
TEXT_NAMES = frozenset(
    {"text", "body", "full_text", "message", "comment", "note", "description", "html_body"}
)
URL = re.compile(r"""https?://[^\s"'<>]+""", re.I)
#: A credential written inline: `Bearer …`, `token=…`, `"api_key": "…"`.
INLINE = re.compile(
    r"""(?i)(\bbearer\s+|\b(?:access_?token|token|secret|password|api_?key|session_?id)["']?\s*[=:]\s*["']?)"""
    r"""[^\s"'&,;<>]+"""
)
#: An XML element whose name says it holds a credential (`<sf:sessionId>…</sf:sessionId>`).
SECRET_ELEMENT = re.compile(
    r"(?is)(<([\w.-]+:)?(?:[\w-]*(?:session_?id|token|secret|password)[\w-]*)(\s[^>]*)?>)[^<]*(<)"
)


def describe_text(text: str) -> str:
    """How a text is shown: its size and the start of its SHA-256 (what `audit` rows key it by)."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"‹{len(text)} characters, sha256 {digest[:12]}›"


class Scrubber:
    """Masks the configured secrets (values of 4 characters or more, as the log filter does)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        """A free text (an error, a reason) with secrets, inline credentials and addresses masked."""
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        value = INLINE.sub(lambda m: m.group(1) + MASK, value)
        return URL.sub(lambda m: _bare_url(m.group(0)), value)

    def raw(self, body: str) -> str:
        """A body that is not JSON (XML, a broken document): `text`, and credential elements emptied."""
        return self.text(SECRET_ELEMENT.sub(lambda m: m.group(1) + MASK + m.group(4), body))

    def document(self, value: Any, name: str = "", private: bool = False) -> Any:
        """A JSON document (a payload, a parsed body) with credentials, texts and addresses masked;
        inside an object marked `"private": true` (a DM's media) every address is hidden whole."""
        if isinstance(value, dict):
            hidden = private or value.get("private") is True
            return {str(k): self._field(str(k), v, hidden) for k, v in value.items()}
        if isinstance(value, list):
            return [self.document(item, name, private) for item in value]
        if isinstance(value, str):
            if private and URL.match(value):
                return "‹private address›"
            return self.text(value)
        return value

    def _field(self, name: str, value: Any, private: bool) -> Any:
        if SECRET_NAME.search(name) and value not in (None, "", [], {}):
            return MASK
        if name.lower() in TEXT_NAMES and isinstance(value, str):
            return describe_text(value)
        return self.document(value, name, private)


def _bare_url(url: str) -> str:
    """An address reduced to its scheme and host: the rest may be a download token."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "‹address›"
    rest = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", "")) + rest
