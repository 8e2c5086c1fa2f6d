"""What the fake checks in each request, written from Salesforce's REST API and object reference pages.

Salesforce publishes no OpenAPI for its sObject REST API (vendor CONTRACTS §4.1), so these JSON Schemas,
query parameter lists and the little SOQL grammar are ours, each from the page it names:

- upsert by external id (REST guide `dome_upsert`, `resources_sobject_upsert_patch`): the external id is
  in the URL and "do not specify Id or an external ID field in the request body"; `updateOnly` may be
  in the query string;
- CaseComment (object reference): `ParentId` required, `CommentBody` a textarea of at most 4,000
  *bytes*, `IsPublished` a boolean defaulted (false) on create;
- record reads take `fields` (comma-separated names), `query` takes `q`, its next pages are the
  `nextRecordsUrl` locators (`query/<locator>-<offset>`);
- the OAuth token endpoint takes a form with `grant_type` and, for the JWT bearer grant, `assertion`.

A problem reads `"<errorCode>: <message>"`, with the code Salesforce answers such a request with
(`error_code()` reads it back). A query the fake does not understand is a problem too (`MALFORMED_QUERY`):
the fake knows the comment listing and the contact's case history of the plugin's design, not SOQL at
large.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator

from sav_bridge.sandbox.contracts import Violation

#: Key prefixes: the first three characters of an id name its object.
PREFIXES = {"Organization": "00D", "User": "005", "Contact": "003", "Case": "500", "CaseComment": "00a",
            "QueryLocator": "01g", "OutboundMessage": "04k", "Notification": "04l", "Group": "00G"}  # fmt: skip
RECORD_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
COMMENT_BODY_BYTES = 4000
_API = r"/services/data/v\d+\.\d/"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to18(record_id: str) -> str:
    """The 18-character, case-insensitive form of a 15-character id (an 18-character id is kept)."""
    if len(record_id) != 15:
        return record_id
    suffix = ""
    for chunk in (record_id[0:5], record_id[5:10], record_id[10:15]):
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _SUFFIX[bits]
    return record_id + suffix


def error_code(violation: Violation) -> str:
    return violation.problem.partition(":")[0]


# -- bodies ----------------------------------------------------------------------------------------
#: A lookup: a malformed or dangling id is data Salesforce refuses (MALFORMED_ID…), not a shape error.
_ID = {"type": ["string", "null"]}
_TEXT = {"type": ["string", "null"]}
_FLAG = {"type": "boolean"}
_CUSTOM = {"^[A-Za-z][A-Za-z0-9_]*__c$": {"type": ["string", "number", "boolean", "null"]}}


def _text(limit: int) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": limit}


CONTACT_UPSERT: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "patternProperties": _CUSTOM,
    "properties": {
        "LastName": _text(80), "FirstName": _text(40), "Salutation": _TEXT, "MiddleName": _text(40),
        "Suffix": _text(40), "AccountId": _ID, "OwnerId": _ID, "Email": _text(80), "Phone": _text(40),
        "MobilePhone": _text(40), "HomePhone": _text(40), "Title": _text(128), "Department": _text(80),
        "Description": _text(32000), "LeadSource": _TEXT, "Birthdate": _TEXT, "MailingStreet": _TEXT,
        "MailingCity": _text(40), "MailingPostalCode": _text(20), "MailingCountry": _text(80),
        "HasOptedOutOfEmail": _FLAG, "DoNotCall": _FLAG,
    },
}  # fmt: skip
_CASE_FIELDS: dict[str, Any] = {
    "Subject": _text(255),
    "Description": _text(32000),
    "Origin": _TEXT,
    "Status": _TEXT,
    "Priority": _TEXT,
    "Type": _TEXT,
    "Reason": _TEXT,
    "ContactId": _ID,
    "AccountId": _ID,
    "OwnerId": _ID,
    "ParentId": _ID,
    "SuppliedName": _text(80),
    "SuppliedEmail": _text(80),
    "SuppliedPhone": _text(40),
    "SuppliedCompany": _text(80),
    "IsEscalated": _FLAG,
}
CASE_UPSERT: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "patternProperties": _CUSTOM, "properties": _CASE_FIELDS,
}  # fmt: skip
CASE_UPDATE: dict[str, Any] = {**CASE_UPSERT, "minProperties": 1}
COMMENT_CREATE: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["ParentId"],
    "properties": {"ParentId": {**_ID, "type": "string"}, "CommentBody": _TEXT, "IsPublished": _FLAG},
}  # fmt: skip
TOKEN_FORM: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["grant_type", "assertion"],
    "properties": {"grant_type": {"const": JWT_GRANT}, "assertion": {"type": "string", "minLength": 1},
                   "format": {"enum": ["json", "urlencoded", "xml"]}},
}  # fmt: skip

#: (method, path pattern) → (body schema or None, accepted query parameters).
OPERATIONS: list[tuple[str, re.Pattern[str], dict[str, Any] | None, tuple[str, ...]]] = [
    ("POST", re.compile(re.escape(TOKEN_PATH)), TOKEN_FORM, ()),
    ("GET", re.compile(_API + r"limits/?"), None, ()),
    ("GET", re.compile(_API + r"sobjects/(User|Contact|Case|CaseComment)/\w+"), None, ("fields",)),
    ("GET", re.compile(_API + r"sobjects/(Contact|Case)/\w+/[^/]+"), None, ("fields",)),
    ("PATCH", re.compile(_API + r"sobjects/Contact/\w+/[^/]+"), CONTACT_UPSERT, ("updateOnly",)),
    ("PATCH", re.compile(_API + r"sobjects/Case/\w+/[^/]+"), CASE_UPSERT, ("updateOnly",)),
    ("PATCH", re.compile(_API + r"sobjects/Case/\w+"), CASE_UPDATE, ()),
    ("POST", re.compile(_API + r"sobjects/CaseComment/?"), COMMENT_CREATE, ()),
    ("GET", re.compile(_API + r"query/?"), None, ("q",)),
    ("GET", re.compile(_API + r"query/01g\w+-\d+"), None, ()),
]  # fmt: skip
_VALIDATORS = {id(schema): Draft202012Validator(schema) for _, _, schema, _ in OPERATIONS if schema}
_UPSERT_PATH = re.compile(_API + r"sobjects/\w+/(?P<field>\w+)/[^/]+")
#: The Salesforce error code for a body that fails each kind of JSON Schema keyword.
_CODES = {"required": "REQUIRED_FIELD_MISSING", "additionalProperties": "INVALID_FIELD",
          "maxLength": "STRING_TOO_LONG", "type": "JSON_PARSER_ERROR",
          "const": "INVALID_FIELD", "enum": "INVALID_FIELD", "minLength": "INVALID_FIELD"}  # fmt: skip


def check(method: str, path: str, body: Any, query: Mapping[str, str]) -> list[Violation]:
    """Every way the request departs from what Salesforce documents; empty when it conforms."""
    for op_method, pattern, schema, params in OPERATIONS:
        if op_method != method or not pattern.fullmatch(path):
            continue
        problems = [
            f"INVALID_FIELD: unknown query parameter {name!r}" for name in query if name not in params
        ]
        if schema is not None:
            problems += [_schema_problem(error) for error in _VALIDATORS[id(schema)].iter_errors(body)]
        upsert = _UPSERT_PATH.fullmatch(path) if method == "PATCH" else None
        if upsert and isinstance(body, dict):  # `Id` is no property of the schemas: refused above
            for name in body:
                if name.lower() == upsert["field"].lower():
                    problems.append(f"INVALID_FIELD: {name} is in the body of an upsert on {upsert['field']}")
        if query.get("updateOnly", "false") not in ("true", "false"):
            problems.append("INVALID_FIELD: updateOnly must be true or false")
        if "fields" in query and not _FIELD_LIST.fullmatch(query["fields"]):
            problems.append(
                f"INVALID_FIELD: fields must be comma-separated field names, not {query['fields']!r}"
            )
        if isinstance(body, dict) and isinstance(body.get("CommentBody"), str):
            size = len(body["CommentBody"].encode())
            if size > COMMENT_BODY_BYTES:
                problems.append(f"STRING_TOO_LONG: CommentBody is {size} bytes (max {COMMENT_BODY_BYTES})")
        if pattern.pattern.endswith("query/?"):
            problems += _query_problems(query.get("q"))
        return [Violation(method, path, problem) for problem in problems]
    return [Violation(method, path, "NOT_FOUND: no such Salesforce REST operation")]


def _schema_problem(error: Any) -> str:
    where = "/".join(map(str, error.absolute_path)) or "body"
    return f"{_CODES.get(error.validator, 'INVALID_FIELD')}: {where}: {error.message}"


def _query_problems(q: str | None) -> list[str]:
    if not q:
        return ["MALFORMED_QUERY: query needs q=<SOQL>"]
    try:
        parse_soql(q)
    except SoqlError as exc:
        return [f"{exc.code}: {exc}"]
    return []


# -- the SOQL the fake understands ----------------------------------------------------------------
_FIELD_LIST = re.compile(r"\s*\w+(\.\w+)?\s*(,\s*\w+(\.\w+)?\s*)*")
_SELECT = re.compile(
    r"\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>.+?))?(?:\s+LIMIT\s+(?P<limit>\d+))?\s*",
    re.IGNORECASE | re.DOTALL,
)
_DATETIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,3})?(?:Z|[+-]\d\d:?\d\d)"
_CONDITIONS = {
    "parent": re.compile(r"ParentId\s*=\s*'(?P<value>[^'\\]*)'", re.IGNORECASE),
    "published": re.compile(r"IsPublished\s*=\s*(?P<value>true|false)", re.IGNORECASE),
    "created": re.compile(rf"CreatedDate\s*(?P<op>>=|<=|>|<|=)\s*(?P<value>{_DATETIME})", re.IGNORECASE),
}
_ORDER = re.compile(r"(?P<field>CreatedDate|Id)(?:\s+(?P<dir>ASC|DESC))?", re.IGNORECASE)
#: CaseComment's fields a query may select, and those of its `CreatedBy` user.
COMMENT_FIELDS = ("Id", "ParentId", "CommentBody", "IsPublished", "IsDeleted", "CreatedDate", "CreatedById",
                  "LastModifiedDate", "LastModifiedById", "SystemModstamp")  # fmt: skip
USER_FIELDS = ("Id", "Name", "FirstName", "LastName", "Email", "Username", "UserType", "IsActive")


class SoqlError(ValueError):
    """A query the fake refuses, with Salesforce's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


#: Case fields the history query may select.
CASE_FIELDS = ("Id", "CaseNumber", "Subject", "Status", "Origin", "Priority", "IsClosed", "ClosedDate",
               "ContactId", "OwnerId", "CreatedDate", "LastModifiedDate")  # fmt: skip
_CONTACT = re.compile(r"ContactId\s*=\s*'(?P<value>[^'\\]*)'", re.IGNORECASE)


@dataclass(frozen=True)
class CaseQuery:
    """`SELECT <fields> FROM Case WHERE ContactId = '…' [ORDER BY CreatedDate|Id [ASC|DESC], …] [LIMIT n]`."""

    fields: tuple[str, ...]
    contact_id: str
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None


@dataclass(frozen=True)
class CommentQuery:
    """`SELECT <fields> FROM CaseComment WHERE ParentId = '…' [AND IsPublished = …] [AND CreatedDate <op> …]
    [ORDER BY CreatedDate|Id [ASC|DESC], …] [LIMIT n]`, with field names as Salesforce spells them."""

    fields: tuple[str, ...]
    parent_id: str
    published: bool | None = None
    created: tuple[tuple[str, datetime], ...] = ()
    order: tuple[tuple[str, bool], ...] = ()
    limit: int | None = None


def parse_soql(q: str) -> CommentQuery | CaseQuery:
    """The comment listing or case history `q` asks for; `SoqlError` for any other query."""
    found = _SELECT.fullmatch(q)
    if not found:
        raise SoqlError("MALFORMED_QUERY", f"not a query the fake understands: {q[:120]!r}")
    if found["object"].lower() == "case":
        return _case_query(found)
    if found["object"].lower() != "casecomment":
        raise SoqlError(
            "MALFORMED_QUERY", f"the fake answers queries FROM CaseComment, not {found['object']}"
        )
    fields = tuple(_field(name.strip()) for name in found["fields"].split(","))
    duplicate = next((name for name in fields if fields.count(name) > 1), None)
    if duplicate:
        raise SoqlError("MALFORMED_QUERY", f"duplicate field selected: {duplicate}")
    values: dict[str, Any] = {"created": []}
    for condition in re.split(r"\s+AND\s+", found["where"] or "", flags=re.IGNORECASE):
        matches = ((kind, rx.fullmatch(condition.strip())) for kind, rx in _CONDITIONS.items())
        kind, match = next(((kind, m) for kind, m in matches if m), ("", None))
        if match is None or (kind in values and kind != "created"):
            raise SoqlError("MALFORMED_QUERY", f"the fake does not understand the condition {condition!r}")
        if kind == "created":
            stamp = match["value"].replace("Z", "+00:00")
            values["created"].append((match["op"], datetime.fromisoformat(stamp)))
        else:
            values[kind] = match["value"] if kind == "parent" else match["value"].lower() == "true"
    if "parent" not in values:
        raise SoqlError(
            "MALFORMED_QUERY", "the fake lists the comments of one case: WHERE ParentId = '<case id>'"
        )
    limit = int(found["limit"]) if found["limit"] else None
    return CommentQuery(fields, values["parent"], values.get("published"), tuple(values["created"]),
                        _order(found["order"]), limit)  # fmt: skip


def _order(clause: str | None) -> tuple[tuple[str, bool], ...]:
    order = []
    for item in clause.split(",") if clause else []:
        match = _ORDER.fullmatch(item.strip())
        if match is None:
            raise SoqlError("MALFORMED_QUERY", f"the fake orders by CreatedDate and Id, not {item.strip()!r}")
        order.append(("CreatedDate" if match["field"].lower() == "createddate" else "Id",
                      (match["dir"] or "").upper() == "DESC"))  # fmt: skip
    return tuple(order)


def _case_query(found: re.Match[str]) -> CaseQuery:
    known = {name.lower(): name for name in CASE_FIELDS}
    fields = []
    for name in (part.strip() for part in found["fields"].split(",")):
        if name.lower() not in known:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity 'Case'")
        fields.append(known[name.lower()])
    contact = _CONTACT.fullmatch((found["where"] or "").strip())
    if contact is None:
        raise SoqlError(
            "MALFORMED_QUERY", "the fake lists the cases of one contact: WHERE ContactId = '<id>'"
        )
    limit = int(found["limit"]) if found["limit"] else None
    return CaseQuery(tuple(fields), contact["value"], _order(found["order"]), limit)


def _field(name: str) -> str:
    relation, _, field = name.rpartition(".")
    known = {f.lower(): f for f in (USER_FIELDS if relation else COMMENT_FIELDS)}
    if (relation and relation.lower() != "createdby") or field.lower() not in known:
        raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity 'CaseComment'")
    return f"CreatedBy.{known[field.lower()]}" if relation else known[field.lower()]
