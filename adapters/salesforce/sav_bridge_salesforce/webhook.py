"""Salesforce's calls to the gateway: SOAP outbound messages, or a JSON callout signed with an HMAC.

Outbound messages (Flow or workflow action, SOAP 1.1) are not signed: the admin puts the token in the
endpoint URL (`/webhooks/salesforce?token=<salesforce.webhook_secret>`, compared in constant time) and
the message's `OrganizationId` must be the configured org's. Bodies are read with defusedxml (no DTD,
no entity expansion), element names matched on their local part so either WSDL's prefixes read the
same. Each `Notification` is one delivery, repeated on its own by Salesforce until acknowledged: its
`Id` is its deduplication key, and the `<Ack>true</Ack>` envelope is built only once the events are
committed (`ack()`, called by the core after the commit).

The JSON alternative, for orgs that call out from Flow or Apex (the shipped `SavBridgeNotify` class):
`{"case_id": …, "comment_id": …}` with `X-Sav-Bridge-Timestamp: <unix seconds>` and
`X-Sav-Bridge-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, refused outside the
gateway's `webhook_tolerance_seconds` window.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import fromstring

from sav_bridge.errors import MalformedRequest, Unauthorized
from sav_bridge.helpdesks import WebhookAnswer, WebhookNotice
from sav_bridge_salesforce.payloads import is_record_id, same_id

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
TOKEN_PARAM = "token"
TIMESTAMP_HEADER = "x-sav-bridge-timestamp"
SIGNATURE_HEADER = "x-sav-bridge-signature"
SIGNATURE_PREFIX = "sha256="
#: Salesforce sends 1 to 100 notifications a message.
MAX_NOTIFICATIONS = 100
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()


@dataclass(frozen=True)
class OutboundMessage(WebhookNotice):
    """A notice that came as a SOAP outbound message, which Salesforce wants acknowledged in SOAP."""


def is_json(headers: Mapping[str, str]) -> bool:
    return "json" in headers.get("content-type", "").split(";")[0].lower()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The JSON callout's signature header value."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + mac


def verify(
    secret: str, organization_id: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes,
    now: float, tolerance: float,
) -> None:  # fmt: skip
    """`Unauthorized` unless the request is the org's outbound message or a fresh, signed JSON callout."""
    if is_json(headers):
        _verify_signature(secret, headers, body, now, tolerance)
        return
    token = query.get(TOKEN_PARAM)
    if not token:
        raise Unauthorized(f"missing {TOKEN_PARAM} in the outbound message URL (?{TOKEN_PARAM}=…)")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise Unauthorized(f"the URL's {TOKEN_PARAM} does not match salesforce.webhook_secret")
    try:
        sender = _text(_notifications(body), "OrganizationId")
    except MalformedRequest:
        return  # authenticated but unreadable: `parse` refuses it with 400 and keeps it in quarantine
    if not same_id(sender, organization_id):
        raise Unauthorized("the outbound message's OrganizationId is not salesforce.organization_id")


def _verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float
) -> None:
    timestamp, signature = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise Unauthorized(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        sent_at = float(int(timestamp.strip()))
    except ValueError:
        raise Unauthorized(f"{TIMESTAMP_HEADER} must be a Unix time in seconds") from None
    if abs(now - sent_at) > tolerance:
        raise Unauthorized(
            f"{TIMESTAMP_HEADER} is outside the ±{int(tolerance)} s window (replayed or clock skew)"
        )
    if not hmac.compare_digest(sign(secret, timestamp.strip(), body).encode(), signature.strip().encode()):
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match the body")


def parse(headers: Mapping[str, str], body: bytes) -> WebhookNotice:
    """The cases the request names, each with its delivery key; `MalformedRequest` for any other body."""
    return _parse_json(body) if is_json(headers) else _parse_soap(body)


def _parse_json(body: bytes) -> WebhookNotice:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedRequest("body is not JSON") from None
    case_id = data.get("case_id") if isinstance(data, dict) else None
    if not isinstance(case_id, str) or not is_record_id(case_id):
        raise MalformedRequest('body must be {"case_id": "<case id>", "comment_id": "<comment id>"}')
    comment_id = data.get("comment_id")
    if comment_id is not None and not (isinstance(comment_id, str) and is_record_id(comment_id)):
        raise MalformedRequest("comment_id must be a Salesforce record id")
    key = f"comment:{comment_id}" if comment_id else f"delivery:{secrets.token_hex(8)}"
    return WebhookNotice(key=key, ticket_ids=(case_id,))


def _parse_soap(body: bytes) -> OutboundMessage:
    notifications = _notifications(body)
    items = [child for child in notifications if _local(child.tag) == "Notification"]
    if not 1 <= len(items) <= MAX_NOTIFICATIONS:
        raise MalformedRequest(f"an outbound message holds 1 to {MAX_NOTIFICATIONS} Notification elements")
    keys, cases = [], []
    for item in items:
        notification_id = _text(item, "Id")
        record = _child(item, "sObject")
        if record is None or not is_record_id(notification_id):
            raise MalformedRequest("each Notification needs an Id and an sObject")
        kind = (record.get(XSI_TYPE) or "").rpartition(":")[2]
        fields = {_local(field.tag): (field.text or "").strip() for field in record}
        if kind == "CaseComment":
            if fields.get("IsPublished") == "false":
                continue  # a private comment: nothing for X (the message is still acknowledged)
            case_id = fields.get("ParentId", "")
        elif kind == "Case":
            case_id = fields.get("Id", "")
        else:
            raise MalformedRequest(
                f"an outbound message of {kind[:40] or 'no'} objects: expected CaseComment or Case"
            )
        if not is_record_id(case_id):
            raise MalformedRequest(
                f"the {kind} notification names no case id (add ParentId to the message's fields)"
            )
        keys.append(f"notification:{notification_id}")
        cases.append(case_id)
    return OutboundMessage(key=f"message:{_text(notifications, 'ActionId') or 'outbound'}",
                           ticket_ids=tuple(cases), ticket_keys=tuple(keys))  # fmt: skip


def answer(notice: WebhookNotice) -> WebhookAnswer | None:
    """The SOAP acknowledgement an outbound message needs (None: the core's JSON answer will do)."""
    if isinstance(notice, OutboundMessage):
        return WebhookAnswer(ACK, "text/xml; charset=utf-8")
    return None


def _notifications(body: bytes) -> Element:
    try:
        root = fromstring(body)
    except (ParseError, defusedxml.DefusedXmlException, ValueError, UnicodeError, RecursionError):
        raise MalformedRequest("body is not a SOAP outbound message (XML without DTD or entities)") from None
    envelope_body = _child(root, "Body") if _local(root.tag) == "Envelope" else None
    found = _child(envelope_body, "notifications") if envelope_body is not None else None
    if found is None or found.tag != f"{{{OUTBOUND_NS}}}notifications":
        raise MalformedRequest(f"body is not a SOAP envelope of {OUTBOUND_NS} notifications")
    return found


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _child(parent: Element, name: str) -> Element | None:
    return next((child for child in parent if _local(child.tag) == name), None)


def _text(parent: Element, name: str) -> str:
    child = _child(parent, name)
    return (child.text or "").strip() if child is not None else ""
