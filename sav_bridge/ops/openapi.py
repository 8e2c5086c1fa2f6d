"""The operator routes' part of the OpenAPI document (`console.openapi` merges it into `/api/v1/`)."""

from __future__ import annotations

from typing import Any

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_STATES = ["pending", "running", "done", "dead", "skipped"]
_TIME = {"type": ["string", "null"], "description": "ISO-8601 UTC"}
_JOB = {
    "type": "object",
    "required": ["id", "kind", "state", "attempts", "ordering_key", "idempotency_key"],
    "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "state": {"enum": _STATES},
        "attempts": {"type": "integer"}, "created_at": _TIME, "updated_at": _TIME, "age_seconds": {"type": "number"},
        "next_attempt_at": _TIME, "due_in_seconds": {"type": ["number", "null"]}, "lease_until": _TIME,
        "ordering_key": {"type": "string"}, "idempotency_key": {"type": "string"},
        "held_by": {"type": ["integer", "null"], "description": "the dead job of its conversation it waits behind"},
        "last_error": {"type": ["string", "null"], "description": "secrets masked; cut in listings"},
    },
}  # fmt: skip
_QUARANTINED = {
    "type": "object",
    "required": ["id", "source", "digest", "reason"],
    "properties": {
        "id": {"type": "integer"}, "source": {"type": "string"}, "digest": {"type": "string"},
        "reason": {"type": "string"}, "received_at": _TIME, "size": {"type": "integer"},
    },
}  # fmt: skip
_DONE = {"type": "object", "required": ["job", "message"],
         "properties": {"job": _JOB, "message": {"type": "string"}}}  # fmt: skip


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REFUSALS = {
    "401": _json(_ERROR, "no token, or one the identity provider did not sign for this audience"),
    "403": _json(_ERROR, "the token lacks the operator role"),
    "404": _json(_ERROR, "no such id, or the API is off (console.jwt unset)"),
}
_ACTION = {
    **_REFUSALS,
    "400": _json(_ERROR, "not that body"),
    "409": _json(_ERROR, "its state does not allow it; the error says what does"),
}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}]


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


PATHS: dict[str, Any] = {
    "/api/v1/jobs": {"get": {
        "summary": "Outbox jobs, newest first (operator)",
        "parameters": [
            {"name": "state", "in": "query", "schema": {"enum": _STATES}},
            {"name": "kind", "in": "query", "schema": {"type": "string"}},
            {"name": "conversation", "in": "query", "schema": {"type": "string"}, "description": "an ordering key"},
            {"name": "older_than", "in": "query", "schema": {"type": "string"}, "description": "90s, 30m, 2h, 3d, 1h30m"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        ],
        "responses": {"200": _json({"type": "object", "properties": {"jobs": {"type": "array", "items": _JOB},
                                                                     "more": {"type": "boolean"}}}, "the jobs"),
                      "400": _json(_ERROR, "a filter that is not one"), **_REFUSALS}}},
    "/api/v1/jobs/{id}": {"get": {
        "summary": "One job: payload (texts and secrets masked), effects and intents recorded, what it holds, "
                   "history (operator)",
        "parameters": _ID, "responses": {"200": _json(_JOB, "the job, with payload, effects, holds, history"),
                                         **_REFUSALS}}},
    "/api/v1/jobs/{id}/retry": {"post": {
        "summary": "Run a dead or waiting job now, attempts kept (operator)", "parameters": _ID,
        "responses": {"200": _json(_DONE, "the job now"), **_ACTION}}},
    "/api/v1/jobs/{id}/replay": {"post": {
        "summary": "Back to pending with the same idempotency key, attempts from 1; a done job needs force and "
                   "reconciles with what it recorded instead of writing again (operator)",
        "parameters": _ID, "requestBody": _body({"force": {"type": "boolean"}}, []),
        "responses": {"200": _json(_DONE, "the job now"), **_ACTION}}},
    "/api/v1/jobs/{id}/skip": {"post": {
        "summary": "A dead job never runs; its conversation goes on; the reason goes to the administration log "
                   "(operator)",
        "parameters": _ID, "requestBody": _body({"reason": {"type": "string", "minLength": 1}}, ["reason"]),
        "responses": {"200": _json(_DONE, "the job now"), **_ACTION}}},
    "/api/v1/quarantine": {"get": {
        "summary": "Signed bodies that could not be parsed, newest first, without their content (operator)",
        "parameters": [{"name": "source", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
        "responses": {"200": _json({"type": "object", "properties": {
            "quarantine": {"type": "array", "items": _QUARANTINED}, "more": {"type": "boolean"}}}, "the bodies"),
            "400": _json(_ERROR, "a limit that is not one"), **_REFUSALS}}},
    "/api/v1/quarantine/{id}": {"get": {
        "summary": "One body, texts, addresses and secrets masked (operator)", "parameters": _ID,
        "responses": {"200": _json(_QUARANTINED, "the body, with body_format, body and history"), **_REFUSALS}}},
    "/api/v1/quarantine/{id}/replay": {"post": {
        "summary": "Read the body again with today's parser and accept it as if it had just arrived; never twice "
                   "(operator)",
        "parameters": _ID,
        "responses": {"200": _json({"type": "object", "properties": {
            "read": {"enum": ["all", "part", "none"]}, "accepted": {"type": "integer"},
            "duplicates": {"type": "integer"}, "message": {"type": "string"}}}, "what the replay read and accepted"),
            **_ACTION}}},
}  # fmt: skip
