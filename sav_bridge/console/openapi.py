"""The OpenAPI 3.1 document of `/api/v1/` and of the webhooks, served at `/api/v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from sav_bridge.ops.openapi import PATHS as OPERATOR_PATHS
from sav_bridge.webhooks_openapi import PATHS as WEBHOOK_PATHS

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_VERSION = {
    "type": "object",
    "required": ["id", "author", "comment", "status", "created_at"],
    "properties": {
        "id": {"type": "integer"}, "yaml": {"type": "string"}, "author": {"type": "string"},
        "comment": {"type": "string"}, "status": {"enum": ["draft", "active", "retired"]},
        "created_at": {"type": "number"}, "activated_at": {"type": ["number", "null"]},
        "activated_by": {"type": ["string", "null"]},
    },
}  # fmt: skip
_PROBLEMS = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "line": {"type": ["integer", "null"]}, "key": {"type": "string"}, "message": {"type": "string"}}}},
    },
}  # fmt: skip


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_REFUSALS = {
    "401": _json(_ERROR, "no token, or one the identity provider did not sign for this audience"),
    "403": _json(_ERROR, "the token lacks the role (or four eyes: the author activates)"),
    "404": _json(_ERROR, "no such version, or the API is off (console.jwt unset)"),
}
#: A body over the route's limit, refused before it is read (`sav_bridge.edge.read_body`).
_TOO_LARGE = _json(_ERROR, "the body is over the route's limit")
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "sav-bridge compliance API", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/policies": {
            "get": {"summary": "Every policy version, newest first (viewer)", "responses": {
                "200": _json({"type": "object", "properties": {"policies": {"type": "array", "items": _VERSION}}},
                             "the versions, without their YAML"), **_REFUSALS}},
            "post": {"summary": "A new draft (editor)",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["yaml"],
                         "properties": {"yaml": {"type": "string"}, "comment": {"type": "string"}}}}}},
                     "responses": {"201": _json(_VERSION, "the draft"), "400": _json(_ERROR, "not that body"),
                                   "413": _TOO_LARGE,
                                   "422": _json(_PROBLEMS, "every validation error, with its line and key"),
                                   **_REFUSALS}},
        },
        "/api/v1/policies/{id}": {"get": {"summary": "One version with its YAML (viewer)", "parameters": _ID,
                                          "responses": {"200": _json(_VERSION, "the version"), **_REFUSALS}}},
        "/api/v1/policies/{id}/diff": {"get": {
            "summary": "Unified diff of a version against another (default: the active one) (viewer)",
            "parameters": [*_ID, {"name": "against", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": _json({"type": "object", "properties": {
                "from": {"type": "integer"}, "to": {"type": "integer"}, "diff": {"type": "string"}}}, "the diff"),
                **_REFUSALS}}},
        "/api/v1/policies/{id}/activate": {"post": {
            "summary": "Make a version the active one; a rollback activates an older one (approver, not its author)",
            "parameters": _ID,
            "responses": {"200": _json(_VERSION, "the active version"), "422": _json(_PROBLEMS, "it does not compile"),
                          **_REFUSALS}}},
        "/api/v1/policies/{id}/test": {"post": {
            "summary": "Replay texts, or the replies the audit kept, under this version and the active one (editor)",
            "parameters": _ID,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                {"type": "object", "required": ["texts"], "properties": {"texts": {"type": "array", "maxItems": 10000,
                 "items": {"type": "object", "required": ["text"], "properties": {
                     "text": {"type": "string"}, "audience": {"enum": ["public", "dm"]}}}}}},
                {"type": "object", "required": ["from_audit"], "properties": {"from_audit": {"type": "object",
                 "properties": {"since": {"type": "number"}, "limit": {"type": "integer", "maximum": 10000}}}}},
            ]}}}},
            "responses": {"200": _json({"type": "object"}, "tested, changed, results (changed first)"),
                          "400": _json(_ERROR, "not that body"), "413": _TOO_LARGE,
                          "422": _json(_PROBLEMS, "it does not compile"),
                          **_REFUSALS}}},
        "/api/v1/decide": {"post": {
            "summary": "The active policy's decision on a reply, as `policy check --jsonl` gives it (viewer)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["text"],
                "properties": {"text": {"type": "string"}, "audience": {"enum": ["public", "dm"]}}}}}},
            "responses": {"200": _json({"type": "object"}, "action, text, findings, policy_version"),
                          "400": _json(_ERROR, "not that body"), "413": _TOO_LARGE, **_REFUSALS}}},
        "/api/v1/audit": {"get": {
            "summary": "Posting decisions, newest first, without any reply text (viewer)",
            "parameters": [{"name": n, "in": "query", "schema": {"type": t}} for n, t in (
                ("since", "number"), ("until", "number"), ("action", "string"), ("rule", "string"),
                ("agent", "string"), ("version", "string"), ("limit", "integer"), ("before", "integer"),
                ("format", "string"))],
            "responses": {"200": {"description": "entries and next_before (JSON), or ?format=csv",
                                  "content": {"application/json": {"schema": {"type": "object"}},
                                              "text/csv": {"schema": {"type": "string"}}}},
                          "400": _json(_ERROR, "a bound that is not a Unix time"), **_REFUSALS}}},
        "/api/v1/approvals": {"get": {
            "summary": "Replies a hold rule keeps, newest first (viewer); ?status=pending|approved|rejected|all",
            "parameters": [{"name": "status", "in": "query", "schema": {"enum": ["pending", "approved", "rejected", "all"]}}],
            "responses": {"200": _json({"type": "object"}, "approvals, each with overdue"),
                          "400": _json(_ERROR, "another status"), **_REFUSALS}}},
        "/api/v1/approvals/{id}/approve": {"post": {
            "summary": "Post the held reply once, signed as its agent (approver, not its author)", "parameters": _ID,
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"comment": {"type": "string"}}}}}},
            "responses": {"200": _json({"type": "object"}, "the decided approval"),
                          "400": _json(_ERROR, "not that body"), "413": _TOO_LARGE, "409": _json(_ERROR, "already decided"),
                          **_REFUSALS}}},
        "/api/v1/approvals/{id}/reject": {"post": {
            "summary": "Never post it; the agent reads the comment in the ticket (approver, not its author)",
            "parameters": _ID,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["comment"], "properties": {"comment": {"type": "string", "minLength": 1}}}}}},
            "responses": {"200": _json({"type": "object"}, "the decided approval"),
                          "400": _json(_ERROR, "no comment"), "413": _TOO_LARGE, "409": _json(_ERROR, "already decided"), **_REFUSALS}}},
        "/api/v1/admin-log": {"get": {
            "summary": "Changes made through the API, newest first (viewer)",
            "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                           {"name": "before", "in": "query", "schema": {"type": "integer"}}],
            "responses": {"200": _json({"type": "object"}, "entries: id, at, actor, action, target, address, detail"),
                          **_REFUSALS}}},
        **OPERATOR_PATHS,
        **WEBHOOK_PATHS,
    },
}  # fmt: skip
