"""A fake Salesforce org: users, contacts, cases and case comments behind the REST API, with OAuth JWT bearer.

It answers as Salesforce documents it (REST API Developer Guide, object reference, OAuth help pages), not as
the plugin expects, and checks every request against `spec.py`:

- `POST <login_url>/services/oauth2/token` takes a form-encoded JWT bearer grant, verifies the RS256
  signature with the public half of the configured key and answers Salesforce's errors: `invalid_client_id`
  "client identifier invalid" (iss), `invalid_grant` "invalid assertion" (signature, algorithm, garbage),
  "audience is invalid" (aud is not the login URL), "expired authorization code" (exp gone, missing or
  more than `MAX_ASSERTION_SECONDS` ahead), "user hasn't approved this consumer" (sub not pre-authorised),
  "user is locked". A token lives `session_seconds`; `expire_sessions()` ends them all.
- The data API (`/services/data/vXX.X/` on the instance host) wants `Authorization: Bearer <token>` (401
  `INVALID_SESSION_ID` otherwise), counts every call in `Sforce-Limit-Info: api-usage=<used>/<limit>` and
  refuses calls past the allocation with 403 `REQUEST_LIMIT_EXCEEDED` (no 429, no Retry-After).
- Upserts on the external-id fields the org has: 201 `created: true`, then 200 `created: false` (204 with
  no body before API 46.0), 300 with the records' URLs when the value matches several, 404 for a field the
  org lacks. Closed cases stay closed when commented on. Errors are arrays of `{message, errorCode, fields}`.
- Comment listings and a contact's cases answer the SOQL of `spec.parse_soql`, paged by `nextRecordsUrl`
  (`page_size` records).
- Care's case updates: `Priority` must be a value of the org's picklist (`priorities`; 400
  `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST` otherwise), `OwnerId` a user or a queue the org has (`queues`),
  custom fields only those the org has (`case_fields`, `case_text_fields`).

Helpers build what Salesforce sends the gateway: a SOAP outbound message (`outbound_message`, posted to
`outbound_path()`) or the signed JSON callout of the shipped Apex class (`flow_callout`).
The core's `Sandbox` finds the fake through the entry point `salesforce` in group `sav_bridge.sandboxes`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import operator
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

import httpx
from cryptography.hazmat.primitives import serialization
from jose import JWTError, jwt

from sav_bridge.config import BaseSettings, reveal
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.contracts import Violation
from sav_bridge.sandbox.faults import Fault
from sav_bridge_salesforce import spec
from sav_bridge_salesforce.settings import with_defaults

#: A JWT whose exp is further ahead is refused: the docs ask for 3 minutes, the fake allows 2 of clock skew.
MAX_ASSERTION_SECONDS = 300
#: From this API version an upsert that updates answers 200 with a body (`created: false`), before it 204.
UPSERT_BODY_SINCE = 46.0
CLOSED_STATUSES = ("Closed",)
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
MAX_NOTIFICATIONS = 100
WEBHOOK_PATH = "/webhooks/salesforce"
TIMESTAMP_HEADER = "x-sav-bridge-timestamp"
SIGNATURE_HEADER = "x-sav-bridge-signature"
#: The errorCode an error answer carries when its caller names none.
_CODES = {400: "MALFORMED_REQUEST", 401: "INVALID_SESSION_ID", 403: "REQUEST_LIMIT_EXCEEDED",
          404: "NOT_FOUND", 415: "UNSUPPORTED_MEDIA_TYPE", 500: "UNKNOWN_EXCEPTION",
          503: "SERVER_UNAVAILABLE"}  # fmt: skip
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_V = r"/services/data/v(?P<v>\d+\.\d)/"
_BY_KEY = r"sobjects/(?P<object>Contact|Case)/(?P<field>\w+)/(?P<value>[^/]+)"
_NOT_FOUND = "The requested resource does not exist"


class FakeSalesforce(FakeVendor):
    name = "salesforce"

    def __init__(
        self,
        consumer_key: str,
        username: str,
        private_key_pem: str,
        organization_id: str,
        webhook_secret: str,
        clock: Callable[[], float] = time.time,
        login_url: str = "https://login.salesforce.com",
        instance_url: str = "https://mabanque.my.salesforce.com",
        api_version: str = "66.0",
        contact_external_id: str = "X_User_Id__c",
        case_external_id: str = "Sav_Bridge_Key__c",
        daily_api_requests: int = 15000,
        page_size: int = 2000,
        session_seconds: float = 7200.0,
        case_fields: tuple[str, ...] = ("Sav_Bridge_Reply_By_DM__c",),
        case_text_fields: tuple[str, ...] = ("Sav_Bridge_Tags__c",),
        priorities: tuple[str, ...] = ("Low", "Medium", "High"),
    ) -> None:
        """`case_fields`: the Case checkboxes the org has besides its external id; `case_text_fields` its
        text fields; `priorities` its Case Priority picklist."""
        super().__init__()
        self.login_url, self.instance_url = login_url.rstrip("/"), instance_url.rstrip("/")
        self.hosts = (urlsplit(self.login_url).netloc, urlsplit(self.instance_url).netloc)
        self.consumer_key, self.username, self.webhook_secret = consumer_key, username, webhook_secret
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self.public_key_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        self.organization_id = spec.to18(organization_id)
        self.clock, self.api_version = clock, api_version
        self.external_ids = {"Contact": contact_external_id, "Case": case_external_id}
        self.custom_fields = {"Contact": (contact_external_id,),
                              "Case": (case_external_id, *case_fields, *case_text_fields)}  # fmt: skip
        self.case_checkboxes, self.case_text_fields = case_fields, case_text_fields
        self.priorities = priorities
        #: The org's Case queues (a case's `OwnerId` may be one), by id.
        self.queues: dict[str, dict[str, Any]] = {}
        self.daily_api_requests, self.page_size = daily_api_requests, page_size
        self.session_seconds = session_seconds
        #: How far ahead an assertion's exp may be (None: any future exp).
        self.max_assertion_seconds: float | None = MAX_ASSERTION_SECONDS
        #: Calls counted against the allocation: the fake's "last 24 hours" is its life (`reset_usage()`).
        self.api_used = 0
        self._ids = itertools.count(1)
        self._case_numbers = itertools.count(1001)
        self.users: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.cases: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self._tables = {"User": self.users, "Contact": self.contacts, "Case": self.cases,
                        "CaseComment": self.comments, "Group": self.queues}  # fmt: skip
        #: Access token → (user id, expiry); usernames the connected app is pre-authorised for, or locked.
        self.sessions: dict[str, tuple[str, float]] = {}
        self.authorised_users: set[str] = {username}
        self.locked_users: set[str] = set()
        #: Query locator → (rows, page size) of the queries answered in several pages.
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self._caller = ""
        self.action_id = self._new_id("OutboundMessage")
        email = username if "@" in username else "api@example.com"
        self.api_user = self.add_user("Sav Bridge Integration", email, username=username)
        for method, pattern, handler in [
            ("GET", _V + r"limits/?", self._limits),
            ("GET", _V + r"sobjects/(?P<object>User|Contact|Case|CaseComment)/(?P<id>\w+)", self._get_record),
            ("GET", _V + _BY_KEY, self._get_by_key),
            ("PATCH", _V + _BY_KEY, self._upsert),
            ("PATCH", _V + r"sobjects/Case/(?P<id>\w+)", self._update_case),
            ("POST", _V + r"sobjects/CaseComment/?", self._create_comment),
            ("GET", _V + r"query/?", self._query),
            ("GET", _V + r"query/(?P<locator>01g\w+)-(?P<offset>\d+)", self._query_more),
        ]:
            self.route(method, pattern, handler)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, vendor_dir: Path | None, clock: Callable[[], float] = time.time
    ) -> FakeSalesforce:
        """The org the `salesforce` section describes (`spec.py` checks requests, vendor folder or not)."""
        section = with_defaults(settings.helpdesk_section())
        if section.get("private_key"):
            pem = reveal(section["private_key"])
        else:
            pem = Path(reveal(section["private_key_file"])).read_text(encoding="utf-8")
        fields = [str(name) for name in (section.get("fields") or {}).values() if str(name).endswith("__c")]
        tags = [str(section["tags_field"])] if section.get("tags_field") else []
        fake = cls(
            reveal(section["consumer_key"]), reveal(section["username"]), pem,
            reveal(section["organization_id"]), reveal(section["webhook_secret"]), clock,
            login_url=str(section["login_url"]),
            api_version=str(section["api_version"]),
            contact_external_id=str(section["contact_external_id"]),
            case_external_id=str(section["case_external_id"]),
            case_fields=(str(section["reply_by_dm_field"]),),
            case_text_fields=tuple(dict.fromkeys([*tags, *fields])),
            priorities=tuple(dict.fromkeys(["Low", "Medium", "High", *(section.get("priorities") or {}).values()])),
        )  # fmt: skip
        # The org has what the configuration routes cases to (an admin made them first).
        for name, queue_id in (section.get("queues") or {}).items():
            fake.add_queue(name, str(queue_id))
        for name, user_id in (section.get("assignees") or {}).items():
            fake.users.setdefault(spec.to18(str(user_id)[:15]), {
                "Id": spec.to18(str(user_id)[:15]), "Name": name, "FirstName": None, "LastName": name,
                "Email": f"{name}@example.com", "Username": f"{name}@example.com.sandbox",
                "UserType": "Standard", "IsActive": True})  # fmt: skip
        return fake

    # -- the vendor's manners --------------------------------------------------------------------
    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None,
        code: str | None = None, fields: list[str] | None = None,
    ) -> httpx.Response:  # fmt: skip
        problem: dict[str, Any] = {
            "message": message,
            "errorCode": code or _CODES.get(status, "UNKNOWN_EXCEPTION"),
        }
        if fields is not None:
            problem["fields"] = fields
        return httpx.Response(status, json=[problem], headers=headers)

    def _refuse(
        self, request: httpx.Request, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> httpx.Response:
        """An answer Salesforce gives to a request off its spec, recorded for the test to fail on."""
        self.violations.append(Violation(request.method, request.url.path, f"{code}: {message}"))
        return self.error(status, message, code=code, fields=fields)

    def _check(self, request: httpx.Request, body: Any) -> list[Violation]:
        problems: list[Violation] = spec.check(
            request.method, request.url.path, body, dict(request.url.params)
        )
        return problems

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        host, path = request.url.netloc.decode(), request.url.path
        if path == spec.TOKEN_PATH and host == self.hosts[0]:
            return self._token(request)
        if host != self.hosts[1] or not path.startswith("/services/data/"):
            return self.error(404, _NOT_FOUND)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        session = self.sessions.get(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
        if session is None or session[1] <= self.clock():
            return self.error(401, "Session expired or invalid", code="INVALID_SESSION_ID")
        self._caller = session[0]
        self.api_used += 1
        usage = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.daily_api_requests}"}
        if self.api_used > self.daily_api_requests:
            return self.error(403, "TotalRequests Limit exceeded.", usage, code="REQUEST_LIMIT_EXCEEDED")
        answer = self._data(request)
        answer.headers.update(usage)
        return answer

    def _data(self, request: httpx.Request) -> httpx.Response:
        body: Any = None
        if request.content:
            declared = request.headers.get("content-type", "application/json")
            if "json" not in declared:
                return self._refuse(
                    request, 415, "UNSUPPORTED_MEDIA_TYPE", f"Content type {declared} not supported"
                )
            try:
                body = json.loads(request.content)
            except ValueError:
                return self._refuse(request, 400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
        problems = self._check(request, body)
        if problems:
            self.violations += problems
            message = "; ".join(p.problem.partition(": ")[2] for p in problems)
            return self.error(400 if spec.error_code(problems[0]) != "NOT_FOUND" else 404, message,
                              code=spec.error_code(problems[0]))  # fmt: skip
        for method, pattern, handler in self._routes:
            match = pattern.match(request.url.path)
            if match and method == request.method:
                answer = handler(request, match, body)
                if not isinstance(answer, httpx.Response):
                    raise TypeError("Salesforce routes answer at once")
                return answer
        return self.error(404, _NOT_FOUND)

    # -- OAuth 2.0 JWT bearer ----------------------------------------------------------------------
    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return _oauth_error("invalid_request", "must use HTTP POST")
        declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
        form: dict[str, str] = {}
        if declared == "application/x-www-form-urlencoded":
            pairs = parse_qs(request.content.decode("utf-8", "replace"), keep_blank_values=True)
            form = {name: values[-1] for name, values in pairs.items()}
        else:
            self.violations.append(Violation("POST", spec.TOKEN_PATH, f"INVALID_FIELD: token request sent as "
                                             f"{declared or 'no content type'}, not a form"))  # fmt: skip
        self.violations += spec.check("POST", spec.TOKEN_PATH, form, dict(request.url.params))
        if form.get("grant_type") != spec.JWT_GRANT:
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        return self._grant(form.get("assertion", ""))

    def _grant(self, assertion: str) -> httpx.Response:
        try:
            claims = jwt.get_unverified_claims(assertion)
        except JWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        try:
            # The signature only: each claim is checked below, for Salesforce's own error descriptions.
            claims_checks = ("aud", "exp", "iat", "nbf", "iss", "sub", "jti", "at_hash")
            options = {f"verify_{claim}": False for claim in claims_checks}
            jwt.decode(assertion, self.public_key_pem, algorithms=["RS256"], options=options)
        except JWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        audience = claims.get("aud")
        if self.login_url not in ([audience] if isinstance(audience, str) else audience or []):
            return _oauth_error("invalid_grant", "audience is invalid")
        try:
            expires = float(claims["exp"])
        except (KeyError, TypeError, ValueError):
            expires = 0.0
        now = self.clock()
        furthest = float("inf") if self.max_assertion_seconds is None else now + self.max_assertion_seconds
        if not now < expires <= furthest:
            return _oauth_error("invalid_grant", "expired authorization code")
        user = next((u for u in self.users.values() if u["Username"] == claims.get("sub")), None)
        if user is None or user["Username"] not in self.authorised_users:
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        if user["Username"] in self.locked_users:
            return _oauth_error("invalid_grant", "user is locked")
        token = f"{self.organization_id[:15]}!{secrets.token_urlsafe(72)}"
        self.sessions[token] = (user["Id"], now + self.session_seconds)
        identity, issued = f"{self.login_url}/id/{self.organization_id}/{user['Id']}", str(int(now * 1000))
        mac = hmac.new(self.consumer_key.encode(), (identity + issued).encode(), hashlib.sha256).digest()
        return httpx.Response(200, json={
            "access_token": token, "scope": "api", "instance_url": self.instance_url, "id": identity,
            "token_type": "Bearer", "issued_at": issued, "signature": base64.b64encode(mac).decode(),
        })  # fmt: skip

    @staticmethod
    def limit_fault(method: str, path: str, *, concurrent: bool = False, times: int = 1) -> Fault:
        """Salesforce's 403 when the org's daily requests are spent (or, `concurrent`, when too many long
        requests run at once), for `faults.add()` on one route: no Retry-After, as Salesforce sends none."""
        limit = "ConcurrentPerOrgLongTxn" if concurrent else "TotalRequests"
        body = json.dumps([{"message": f"{limit} Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        return Fault(method, path, 403, {"content-type": "application/json"}, body, times=times)

    def expire_sessions(self) -> None:
        """Every issued access token is invalid from now on (the plugin must ask for a new one)."""
        self.sessions.clear()

    def reset_usage(self) -> None:
        self.api_used = 0

    # -- records -----------------------------------------------------------------------------------
    def _new_id(self, kind: str) -> str:
        number, digits = next(self._ids), ""
        for _ in range(6):
            number, digit = divmod(number, 62)
            digits = _BASE62[digit] + digits
        return spec.to18(spec.PREFIXES[kind] + "5g0000" + digits)

    def _now(self) -> str:
        now = datetime.fromtimestamp(self.clock(), UTC)
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"

    def _find(self, kind: str, record_id: str) -> dict[str, Any] | None:
        if not spec.RECORD_ID.fullmatch(record_id):
            return None
        return self._tables[kind].get(spec.to18(record_id[:15]))

    def _audit(self) -> dict[str, Any]:
        now = self._now()
        user = self._caller or self.api_user
        return {"IsDeleted": False, "CreatedDate": now, "CreatedById": user, "LastModifiedDate": now,
                "LastModifiedById": user, "SystemModstamp": now}  # fmt: skip

    def _view(
        self, kind: str, record: dict[str, Any], version: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        chosen = record if fields is None else {name: record[name] for name in [*fields, "Id"]}
        return {"attributes": _attributes(kind, record, version), **chosen}

    def _reference(self, label: str, field: str, value: Any, kind: str) -> httpx.Response | None:
        """Salesforce's refusal of a lookup to a record that is malformed, of another object, or missing."""
        if value is None:
            return None
        if not isinstance(value, str) or not spec.RECORD_ID.fullmatch(value):
            return self.error(
                400, f"{label}: id value of incorrect type: {value}", code="MALFORMED_ID", fields=[field]
            )
        if not value.startswith(spec.PREFIXES[kind]):
            return self.error(400, f"{label}: id value of incorrect type: {value}",
                              code="FIELD_INTEGRITY_EXCEPTION", fields=[field])  # fmt: skip
        if self._find(kind, value) is None:
            return self.error(
                400, "invalid cross reference id", code="INVALID_CROSS_REFERENCE_KEY", fields=[field]
            )
        return None

    def _fields(
        self, request: httpx.Request, kind: str, body: dict[str, Any]
    ) -> httpx.Response | dict[str, Any]:
        """The body with custom fields spelled as the org does; a refusal for one the org lacks."""
        known = {name.lower(): name for name in self.custom_fields.get(kind, ())}
        out = {}
        for name, value in body.items():
            if name.endswith("__c") and name.lower() not in known:
                return self._refuse(
                    request, 400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {kind}"
                )
            out[known.get(name.lower(), name)] = value
        if kind == "Case" and "Priority" in out and out["Priority"] not in self.priorities:
            return self.error(400, f"bad value for restricted picklist field: {out['Priority']}",
                              code="INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fields=["Priority"])  # fmt: skip
        if kind == "Case" and out.get("OwnerId") is not None:
            owner = out["OwnerId"]
            kind_of = (
                "Group" if isinstance(owner, str) and owner.startswith(spec.PREFIXES["Group"]) else "User"
            )
            refused = self._reference("Owner ID", "OwnerId", owner, kind_of)
            if refused is not None:
                return refused
            out["OwnerId"] = spec.to18(owner[:15])
        if kind == "Case" and "ContactId" in out:
            refused = self._reference("Contact ID", "ContactId", out["ContactId"], "Contact")
            if refused is not None:
                return refused
            out["ContactId"] = spec.to18(out["ContactId"]) if out["ContactId"] else None
        return out

    def _set_case(self, case: dict[str, Any], fields: dict[str, Any]) -> None:
        was_closed = case["IsClosed"]
        case.update(fields)
        case["IsClosed"] = case["Status"] in CLOSED_STATUSES
        if case["IsClosed"] != was_closed:
            case["ClosedDate"] = self._now() if case["IsClosed"] else None
        case["LastModifiedDate"] = case["SystemModstamp"] = self._now()

    def _limits(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        daily = {"Max": self.daily_api_requests, "Remaining": max(self.daily_api_requests - self.api_used, 0)}
        return httpx.Response(200, json={"DailyApiRequests": daily})

    def _get_record(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        record = self._find(match["object"], match["id"])
        if record is None:
            return self.error(404, _NOT_FOUND)
        return self._answer_record(request, match["object"], record, match["v"])

    def _answer_record(
        self, request: httpx.Request, kind: str, record: dict[str, Any], version: str
    ) -> httpx.Response:
        wanted = request.url.params.get("fields")
        if wanted is None:
            return httpx.Response(200, json=self._view(kind, record, version))
        known = {name.lower(): name for name in record}
        names = [name.strip() for name in wanted.split(",")]
        unknown = [name for name in names if name.lower() not in known]
        if unknown:
            return self._refuse(
                request, 400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity '{kind}'"
            )
        fields = [known[name.lower()] for name in names]
        return httpx.Response(200, json=self._view(kind, record, version, fields))

    def _matches(self, kind: str, field: str, value: str) -> list[dict[str, Any]] | None:
        """The records whose external id is `value`; None when the org has no such external-id field."""
        if field.lower() != self.external_ids[kind].lower():
            return None
        name = self.external_ids[kind]
        return [record for record in self._tables[kind].values() if record[name] == value]

    def _get_by_key(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        kind, version = match["object"], match["v"]
        found = self._matches(kind, match["field"], match["value"])
        if found is None:
            return self.error(
                404, f"Provided external ID field does not exist or is not accessible: {match['field']}"
            )
        if not found or re.search(r"\.[A-Za-z]+$", match["value"]):
            return self.error(404, _NOT_FOUND)
        if len(found) > 1:
            return httpx.Response(300, json=[_attributes(kind, record, version)["url"] for record in found])
        return self._answer_record(request, kind, found[0], version)

    def _upsert(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        kind, version, value = match["object"], match["v"], match["value"]
        found = self._matches(kind, match["field"], value)
        if found is None:
            return self.error(
                404, f"Provided external ID field does not exist or is not accessible: {match['field']}"
            )
        if re.search(r"\.[A-Za-z]+$", value):
            return self.error(404, _NOT_FOUND)  # read as a format extension (the docs' `.inc` case)
        if len(found) > 1:
            return httpx.Response(300, json=[_attributes(kind, record, version)["url"] for record in found])
        fields = self._fields(request, kind, body or {})
        if isinstance(fields, httpx.Response):
            return fields
        current = float(version) >= UPSERT_BODY_SINCE
        if found:
            record = found[0]
            if kind == "Case":
                self._set_case(record, fields)
            else:
                record.update(fields, LastModifiedDate=self._now())
                record["Name"] = f"{record['FirstName'] or ''} {record['LastName']}".strip()
            if not current:
                return httpx.Response(204)
            return httpx.Response(
                200, json={"id": record["Id"], "success": True, "errors": [], "created": False}
            )
        if request.url.params.get("updateOnly") == "true":
            return self.error(404, _NOT_FOUND)
        if kind == "Contact" and not fields.get("LastName"):
            missing = "Required fields are missing: [LastName]"
            return self._refuse(request, 400, "REQUIRED_FIELD_MISSING", missing, ["LastName"])
        if kind == "Contact":
            new_id = self.add_contact(fields.pop("LastName"), external_id=value, **fields)
        else:
            new_id = self.add_case(key=value, **fields)
        answer: dict[str, Any] = {"id": new_id, "success": True, "errors": []}
        return httpx.Response(201, json={**answer, "created": True} if current else answer)

    def _update_case(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        case = self._find("Case", match["id"])
        if case is None:
            return self.error(404, _NOT_FOUND)
        fields = self._fields(request, "Case", body)
        if isinstance(fields, httpx.Response):
            return fields
        self._set_case(case, fields)
        return httpx.Response(204)

    def _create_comment(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        refused = self._reference("Case ID", "ParentId", body["ParentId"], "Case")
        if refused is not None:
            return refused
        comment_id = self.add_comment(body["ParentId"], self._caller, body.get("CommentBody"),
                                      published=body.get("IsPublished", False))  # fmt: skip
        return httpx.Response(201, json={"id": comment_id, "success": True, "errors": []})

    # -- queries -----------------------------------------------------------------------------------
    def _query(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        query = spec.parse_soql(request.url.params["q"])
        if isinstance(query, spec.CaseQuery):
            return self._case_history(query, match["v"])
        if not spec.RECORD_ID.fullmatch(query.parent_id):
            return self.error(
                400, f"invalid ID field: {query.parent_id}", code="INVALID_QUERY_FILTER_OPERATOR"
            )
        parent = spec.to18(query.parent_id[:15])
        found = [c for c in self.comments.values() if c["ParentId"] == parent
                 and query.published in (None, c["IsPublished"])
                 and all(_COMPARISONS[op](_parse_stamp(c["CreatedDate"]), at) for op, at in query.created)
                 ]  # fmt: skip
        for field, descending in reversed(query.order):
            found.sort(key=lambda c: c[field], reverse=descending)
        rows = [self._row(comment, query.fields, match["v"]) for comment in found[: query.limit]]
        size = self.page_size
        batch = re.search(r"batchSize=(\d+)", request.headers.get("sforce-query-options", ""))
        if batch:
            size = min(size, max(int(batch[1]), 200))
        if len(rows) <= size:
            return httpx.Response(200, json={"totalSize": len(rows), "done": True, "records": rows})
        locator = self._new_id("QueryLocator")
        self._cursors[locator] = (rows, size)
        return self._page(locator, 0, match["v"])

    def _case_history(self, query: spec.CaseQuery, version: str) -> httpx.Response:
        """A contact's cases (`WHERE ContactId = …`), the selected fields only."""
        if not spec.RECORD_ID.fullmatch(query.contact_id):
            return self.error(
                400, f"invalid ID field: {query.contact_id}", code="INVALID_QUERY_FILTER_OPERATOR"
            )
        contact = spec.to18(query.contact_id[:15])
        found = [case for case in self.cases.values() if case["ContactId"] == contact]
        for field, descending in reversed(query.order):
            found.sort(key=lambda c: c[field], reverse=descending)
        rows = [{"attributes": _attributes("Case", case, version), **{name: case[name] for name in query.fields}}
                for case in found[: query.limit]]  # fmt: skip
        return httpx.Response(200, json={"totalSize": len(rows), "done": True, "records": rows})

    def _query_more(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        if match["locator"] not in self._cursors:
            return self.error(400, "invalid query locator", code="INVALID_QUERY_LOCATOR")
        return self._page(match["locator"], int(match["offset"]), match["v"])

    def _page(self, locator: str, offset: int, version: str) -> httpx.Response:
        rows, size = self._cursors[locator]
        page: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows),
                                "records": rows[offset : offset + size]}  # fmt: skip
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + size}"
        return httpx.Response(200, json=page)

    def _row(self, comment: dict[str, Any], fields: tuple[str, ...], version: str) -> dict[str, Any]:
        """A query's record: the fields selected, `CreatedBy.*` nested under its own `attributes`."""
        row: dict[str, Any] = {"attributes": _attributes("CaseComment", comment, version)}
        author = self.users[comment["CreatedById"]]
        for field in fields:
            relation, _, name = field.rpartition(".")
            if relation:
                nested = row.setdefault("CreatedBy", {"attributes": _attributes("User", author, version)})
                nested[name] = author[name]
            else:
                row[field] = comment[field]
        return row

    # -- helpers for tests and the demo ----------------------------------------------------------
    def add_user(
        self, name: str, email: str, user_type: str = "Standard", *, username: str | None = None
    ) -> str:
        """A user of the org: an agent ("Standard") or a portal customer ("PowerCustomerSuccess", …)."""
        user_id = self._new_id("User")
        first, _, last = name.rpartition(" ")
        self.users[user_id] = {"Id": user_id, "Name": name, "FirstName": first or None, "LastName": last,
                               "Email": email, "Username": username or f"{email}.sandbox",
                               "UserType": user_type, "IsActive": True}  # fmt: skip
        return user_id

    def add_queue(self, name: str, queue_id: str | None = None) -> str:
        """A Case queue of the org (a `Group` of type Queue); cases routed to it have it as `OwnerId`."""
        found = spec.to18(queue_id[:15]) if queue_id else self._new_id("Group")
        self.queues[found] = {"Id": found, "Name": name, "DeveloperName": name, "Type": "Queue"}
        return found

    def add_contact(self, last_name: str, *, external_id: str | None = None, **fields: Any) -> str:
        contact_id = self._new_id("Contact")
        first = fields.pop("FirstName", None)
        self.contacts[contact_id] = {"Id": contact_id, "FirstName": first, "LastName": last_name,
                                     "Name": f"{first or ''} {last_name}".strip(), "Email": None,
                                     "AccountId": None, "OwnerId": self.api_user,
                                     self.external_ids["Contact"]: external_id, **self._audit(),
                                     **fields}  # fmt: skip
        return contact_id

    def add_case(self, subject: str | None = None, description: str | None = None, *, key: str | None = None,
                 status: str = "New", **fields: Any) -> str:  # fmt: skip
        """A case; `key` is its external id, and two cases may share one (what makes an upsert answer 300)."""
        case_id = self._new_id("Case")
        fields = {"Subject": subject, "Description": description, "Status": status, **fields}
        empty = ("ContactId", "AccountId", "ParentId", "SuppliedName", "SuppliedEmail", "SuppliedPhone",
                 "SuppliedCompany", "Type", "Reason", "Origin", "ClosedDate")  # fmt: skip
        case = {"Id": case_id, "CaseNumber": f"{next(self._case_numbers):08d}", **dict.fromkeys(empty),
                "Priority": "Medium", "IsClosed": False, "IsEscalated": False, "OwnerId": self.api_user,
                **dict.fromkeys(self.case_checkboxes, False), **dict.fromkeys(self.case_text_fields),
                self.external_ids["Case"]: key,
                **self._audit()}  # fmt: skip
        self.cases[case_id] = case
        self._set_case(case, fields)
        return case_id

    def add_comment(self, case_id: str, author_id: str, body: str | None, *, published: bool) -> str:
        """A comment on the case as `author_id` writes it; a closed case stays closed (Salesforce's way)."""
        case = self._find("Case", case_id)
        if case is None:
            raise KeyError(f"no case {case_id}")
        comment_id = self._new_id("CaseComment")
        audit = self._audit() | {"CreatedById": author_id, "LastModifiedById": author_id}
        self.comments[comment_id] = {"Id": comment_id, "ParentId": case["Id"], "CommentBody": body,
                                     "IsPublished": published, **audit}  # fmt: skip
        return comment_id

    def agent_reply(self, case_id: str, agent_id: str, text: str) -> str:
        """An agent answers the customer: a published comment by an internal ("Standard") user."""
        if self.users[agent_id]["UserType"] != "Standard":
            raise ValueError(f"user {agent_id} is not an agent (UserType {self.users[agent_id]['UserType']})")
        return self.add_comment(case_id, agent_id, text, published=True)

    def close(self, case_id: str) -> None:
        case = self._find("Case", case_id)
        if case is None:
            raise KeyError(f"no case {case_id}")
        self._set_case(case, {"Status": "Closed"})

    def is_closed(self, case_id: str) -> bool:
        case = self._find("Case", case_id)
        return bool(case and case["IsClosed"])

    def case_comments(self, case_id: str) -> list[dict[str, Any]]:
        case = self._find("Case", case_id)
        return [c for c in self.comments.values() if case and c["ParentId"] == case["Id"]]

    def public_texts(self, case_id: str) -> list[str]:
        """What the customer sees: the description, then the published comments."""
        case = self._find("Case", case_id) or {}
        comments = [c["CommentBody"] or "" for c in self.case_comments(case_id) if c["IsPublished"]]
        return [case.get("Description") or "", *comments]

    def private_texts(self, case_id: str) -> list[str]:
        return [c["CommentBody"] or "" for c in self.case_comments(case_id) if not c["IsPublished"]]

    def received(self) -> Counter[str]:
        """How many requests of each operation reached the fake, as
        `"GET /services/data/v66.0/sobjects/Case/{id}"` (ids, external-id values, query locators: `{id}`)."""
        return Counter(f"{r.method} {_shape(r.url.path)}" for r in self.requests)

    # -- what Salesforce sends the gateway ---------------------------------------------------------
    def outbound_message(
        self,
        comment_ids: list[str],
        *,
        organization_id: str | None = None,
        notification_ids: list[str] | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The SOAP 1.1 outbound message of a CaseComment action (fields Id, ParentId, IsPublished,
        CreatedById), one `Notification` per comment with a fresh `04l…` id unless given."""
        records = [self.comments[spec.to18(c[:15])] for c in comment_ids]
        fields = [{"Id": c["Id"], "ParentId": c["ParentId"], "IsPublished": str(c["IsPublished"]).lower(),
                   "CreatedById": c["CreatedById"]} for c in records]  # fmt: skip
        return self._outbound("CaseComment", fields, organization_id, notification_ids)

    def outbound_case_message(
        self,
        case_ids: list[str],
        *,
        organization_id: str | None = None,
        notification_ids: list[str] | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The outbound message of a Case action (fields Id, CaseNumber, Status)."""
        records = [self.cases[spec.to18(c[:15])] for c in case_ids]
        fields = [{"Id": c["Id"], "CaseNumber": c["CaseNumber"], "Status": c["Status"]} for c in records]
        return self._outbound("Case", fields, organization_id, notification_ids)

    def _outbound(
        self,
        kind: str,
        records: list[dict[str, str]],
        organization_id: str | None,
        notification_ids: list[str] | None,
    ) -> tuple[dict[str, str], bytes]:
        ids = notification_ids or [self._new_id("Notification") for _ in records]
        if not 1 <= len(records) <= MAX_NOTIFICATIONS or len(ids) != len(records):
            raise ValueError(
                f"an outbound message carries 1 to {MAX_NOTIFICATIONS} notifications, one id each"
            )
        org = organization_id or self.organization_id
        soap = f"{self.instance_url}/services/Soap"
        notifications = "".join(
            f'<Notification><Id>{escape(nid)}</Id><sObject xsi:type="sf:{kind}" '
            'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            + "".join(f"<sf:{name}>{escape(value)}</sf:{name}>" for name, value in record.items())
            + "</sObject></Notification>"
            for nid, record in zip(ids, records, strict=True)
        )
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                f'<soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
                f"<OrganizationId>{escape(org)}</OrganizationId><ActionId>{self.action_id}</ActionId>"
                '<SessionId xsi:nil="true"/>'
                f"<EnterpriseUrl>{soap}/c/{self.api_version}/{org[:15]}</EnterpriseUrl>"
                f"<PartnerUrl>{soap}/u/{self.api_version}/{org[:15]}</PartnerUrl>"
                f"{notifications}</notifications></soapenv:Body></soapenv:Envelope>")  # fmt: skip
        return {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}, body.encode()

    def outbound_path(self, secret: str | None = None) -> str:
        """The endpoint URL path the outbound message action is configured with."""
        return f"{WEBHOOK_PATH}?token={quote(secret or self.webhook_secret, safe='')}"

    def flow_callout(
        self,
        case_id: str,
        comment_id: str | None = None,
        *,
        secret: str | None = None,
        at: float | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """The JSON callout the shipped Apex class makes, signed as it signs it: lowercase hex
        HMAC-SHA256 of `"<timestamp>.<body>"` keyed with the webhook secret."""
        payload = {"case_id": case_id} | ({"comment_id": comment_id} if comment_id else {})
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(self.clock() if at is None else at))
        key = (secret or self.webhook_secret).encode()
        mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"content-type": "application/json", TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: f"sha256={mac}"}, body  # fmt: skip


def _attributes(kind: str, record: dict[str, Any], version: str) -> dict[str, str]:
    return {"type": kind, "url": f"/services/data/v{version}/sobjects/{kind}/{record['Id']}"}


def _oauth_error(error: str, description: str) -> httpx.Response:
    return httpx.Response(400, json={"error": error, "error_description": description})


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z")


_COMPARISONS: dict[str, Callable[[datetime, datetime], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "=": operator.eq,
}  # fmt: skip


def _shape(path: str) -> str:
    path = re.sub(r"(/sobjects/\w+/\w+__c)/[^/]+$", r"\1/{id}", path)
    path = re.sub(r"/query/[^/]+$", "/query/{id}", path)
    return re.sub(r"/[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?(?=/|$)", "/{id}", path)
