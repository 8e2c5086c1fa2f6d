"""The webhook routes' part of the OpenAPI document (`console.openapi` merges it into `/api/v1/`).

They carry no bearer token: X signs each POST in `x-twitter-webhooks-signature`, each helpdesk plugin
checks its vendor's own proof (a signature, a shared secret, an organization id), which a generic
document cannot name. What every route may answer is the same: 400 (not a body we read; kept in
quarantine when it was signed), 401 (no valid proof), 413 (over `max_body_bytes`, refused before it is
read), 415 (not JSON, on X), 404 (another helpdesk than the configured one), 503 (the database cannot store it now, or too many requests in flight; with
`Retry-After`, never a 2xx for an event not stored).
"""

from __future__ import annotations

from typing import Any

from sav_bridge.channels.x.signing import SIGNATURE_HEADER

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
_REFUSALS = {
    "400": _json(_ERROR, "not a body we read (a signed one is kept in quarantine)"),
    "401": _json(_ERROR, "no valid signature or proof"),
    "413": _json(_ERROR, "the body is over max_body_bytes, refused before it is read"),
    "503": {**_json(_ERROR, "the database cannot store it now, or too many requests in flight: retry"),
            "headers": _RETRY_AFTER},
}  # fmt: skip
_NO_TOKEN: list[dict[str, list[str]]] = []

PATHS: dict[str, Any] = {
    "/webhooks/x": {
        "get": {
            "summary": "X's CRC check, answered from memory with the consumer secret",
            "security": _NO_TOKEN,
            "parameters": [{"name": "crc_token", "in": "query", "required": True,
                            "schema": {"type": "string", "maxLength": 512}}],
            "responses": {
                "200": _json({"type": "object", "required": ["response_token"],
                              "properties": {"response_token": {"type": "string", "pattern": "^sha256="}}},
                             "sha256= and the base64 HMAC-SHA256 of crc_token"),
                "400": _json(_ERROR, "no crc_token, or a longer one than X sends"),
                "503": _REFUSALS["503"],
            },
        },
        "post": {
            "summary": "Account Activity or X Activity API events, signed by X; answered once they are stored",
            "security": _NO_TOKEN,
            "parameters": [{"name": SIGNATURE_HEADER, "in": "header", "required": True,
                            "schema": {"type": "string"},
                            "description": "sha256= and the base64 HMAC-SHA256 of the raw body"}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": _json({"type": "object", "required": ["accepted", "duplicates", "dropped"], "properties": {
                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "dropped": _COUNTS,
                    "quarantined": {"type": "array", "items": {"type": "string"}}}},
                    "stored: how many events were new, already seen, or not for us"),
                **_REFUSALS,
                "415": _json(_ERROR, "not application/json"),
            },
        },
    },
    "/webhooks/{helpdesk}": {"post": {
        "summary": "The configured helpdesk's webhook (its plugin checks the vendor's proof and reads the body); "
                   "answered once its events are stored",
        "security": _NO_TOKEN,
        "parameters": [{"name": "helpdesk", "in": "path", "required": True, "description": "the plugin's name",
                        "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {}},
                                                      "text/xml": {"schema": {"type": "string"}}}},
        "responses": {
            "200": {"description": "stored: {accepted, duplicates}, or the <Ack> a SOAP outbound "
                                   "message needs",
                    "content": {"application/json": {"schema": {"type": "object", "properties": {
                                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}}}},
                                "text/xml": {"schema": {"type": "string"}}}},
            **_REFUSALS,
            "404": _json(_ERROR, "this gateway serves another helpdesk"),
        },
    }},
}  # fmt: skip
