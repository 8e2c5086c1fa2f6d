"""What the fake checks in each request, written from vendor CONTRACTS §3 and the python-freshdesk client.

Freshdesk publishes no OpenAPI document, so these small JSON Schemas (request bodies) and query
parameter lists are ours: a request off them is a `Violation`, as an off-spec request to the Zendesk
fake is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from sav_bridge.sandbox.contracts import Violation

_INT = {"type": "integer", "minimum": 1}
_STR = {"type": "string"}
_EMAILS = {"type": "array", "items": _STR}
_REQUESTER = ["requester_id", "email", "facebook_id", "phone", "twitter_id", "unique_external_id"]

TICKET_CREATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "required": ["subject", "description", "status", "priority"],
    "anyOf": [{"required": [field]} for field in _REQUESTER],
    "properties": {
        "subject": {"type": "string", "minLength": 1}, "description": {"type": "string", "minLength": 1},
        "status": {"enum": [2, 3, 4, 5]}, "priority": {"enum": [1, 2, 3, 4]},
        "source": {"enum": [1, 2, 3, 5, 6, 7, 9, 10]}, "tags": {"type": "array", "items": _STR},
        "custom_fields": {"type": "object"}, "requester_id": _INT, "email": _STR, "facebook_id": _STR,
        "phone": _STR, "twitter_id": _STR, "unique_external_id": _STR, "name": _STR, "type": _STR,
        "group_id": _INT, "responder_id": _INT, "cc_emails": _EMAILS,
    },
}  # fmt: skip
TICKET_UPDATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {key: TICKET_CREATE["properties"][key] for key in (
        "subject", "description", "status", "priority", "source", "tags", "custom_fields", "type",
        "group_id", "responder_id")},
}  # fmt: skip
NOTE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["body"],
    "properties": {"body": {"type": "string", "minLength": 1}, "private": {"type": "boolean"},
                   "incoming": {"type": "boolean"}, "user_id": _INT, "notify_emails": _EMAILS},
}  # fmt: skip
REPLY: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["body"],
    "properties": {"body": {"type": "string", "minLength": 1}, "user_id": _INT, "cc_emails": _EMAILS,
                   "bcc_emails": _EMAILS, "from_email": _STR},
}  # fmt: skip
CONTACT_CREATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "anyOf": [{"required": [f]} for f in ("email", "phone", "mobile", "twitter_id", "unique_external_id")],
    "properties": {key: _STR for key in (
        "name", "email", "phone", "mobile", "twitter_id", "unique_external_id", "description", "job_title",
        "language", "time_zone", "address")},
}  # fmt: skip

_PAGING = ("page", "per_page")
#: (method, path pattern) → (body schema or None, accepted query parameters).
OPERATIONS: list[tuple[str, re.Pattern[str], dict[str, Any] | None, tuple[str, ...]]] = [
    ("GET", re.compile(r"/api/v2/agents/me"), None, ()),
    ("GET", re.compile(r"/api/v2/agents/\d+"), None, ()),
    ("GET", re.compile(r"/api/v2/agents"), None, ("email", "mobile", "phone", "state", *_PAGING)),
    ("GET", re.compile(r"/api/v2/contacts"), None,
     ("email", "mobile", "phone", "company_id", "state", "updated_since", "unique_external_id", *_PAGING)),
    ("POST", re.compile(r"/api/v2/contacts"), CONTACT_CREATE, ()),
    ("GET", re.compile(r"/api/v2/tickets"), None,
     ("filter", "requester_id", "email", "unique_external_id", "company_id", "updated_since", "order_by",
      "order_type", "include", *_PAGING)),
    ("POST", re.compile(r"/api/v2/tickets"), TICKET_CREATE, ()),
    ("GET", re.compile(r"/api/v2/tickets/\d+"), None, ("include",)),
    ("PUT", re.compile(r"/api/v2/tickets/\d+"), TICKET_UPDATE, ()),
    ("GET", re.compile(r"/api/v2/tickets/\d+/conversations"), None, _PAGING),
    ("POST", re.compile(r"/api/v2/tickets/\d+/notes"), NOTE, ()),
    ("POST", re.compile(r"/api/v2/tickets/\d+/reply"), REPLY, ()),
]  # fmt: skip
_VALIDATORS = {id(schema): Draft202012Validator(schema) for _, _, schema, _ in OPERATIONS if schema}


def check(method: str, path: str, body: Any, query: Mapping[str, str]) -> list[Violation]:
    """Every way the request departs from what Freshdesk documents; empty when it conforms."""
    for op_method, pattern, schema, params in OPERATIONS:
        if op_method != method or not pattern.fullmatch(path):
            continue
        problems = [f"unknown query parameter {name!r}" for name in query if name not in params]
        if query.get("per_page", "1").isdigit() and not 1 <= int(query.get("per_page", "1")) <= 100:
            problems.append("per_page must be between 1 and 100")
        if schema is not None:
            problems += [
                f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                for e in _VALIDATORS[id(schema)].iter_errors(body)
            ]
        return [Violation(method, path, problem) for problem in problems]
    return [Violation(method, path, "no such Freshdesk API v2 operation")]
