"""Salesforce Service Cloud's REST API behind the `Helpdesk` protocol.

The gateway acts as one integration user, its session obtained by the JWT bearer flow (`auth.py`) and
renewed once when a call answers 401. Idempotency, per the vendor (no idempotency header): contacts are
upserted on the contact external id (the X user id) and cases on the case external id (our key), so a
repeated create finds the first; a retry first reads the case by that key, so a case an agent has
already worked on is not rewritten. Customer messages (published) and our notes (unpublished) are
`CaseComment`s, which take no custom field: a retried one first reads the case's comments for the
same author and text. HTTP 300 (the external id matches several records) is permanent and reported.

Limits: Salesforce counts API requests per org over a rolling 24 hours and answers 403
`REQUEST_LIMIT_EXCEEDED` once they are spent (no 429, no wait named): the plugin then holds every call
for `QUOTA_WAIT` seconds and raises `Paused`, so that jobs wait as long as it takes without using up
their attempts (a rolling window may take hours to free); the concurrent long-request limit is a plain
retry after `CONCURRENCY_WAIT` seconds. The plugin keeps the `Sforce-Limit-Info: api-usage=<used>/<limit>` of the last answer for the metrics.

Care (`update_ticket`, `customer_history`): one `PATCH sobjects/Case/<id>` (a repeat writes the same
values). Priority is a picklist (Low/Medium/High by default, `salesforce.priorities` for an org's own
such as Critical), only ever raised: the case is read first when the update carries a priority or tags.
A group is a queue and an assignee a user (`salesforce.queues`, `salesforce.assignees`), both the case's
`OwnerId` (the assignee wins). Cases have no tags: they are kept in the text field `salesforce.tags_field`
(shipped as Sav_Bridge_Tags__c, ';'-separated, read then written as the union, so an agent's edit between
the two is lost: one round trip; null skips tags). The history is a SOQL query on the cases of the contact
upserted for the X user (`contact_external_id`), newest first; it creates no contact.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TextIO
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from sav_bridge.config import BaseSettings, reveal
from sav_bridge.errors import ConfigError, Paused, PermanentError, RetryableError
from sav_bridge.helpdesks import WebhookAnswer, WebhookNotice, json_answer, packaged_schema
from sav_bridge.http import VendorErrors, send
from sav_bridge.model import (
    AgentReply,
    Attachment,
    AttachmentRef,
    Conversation,
    PastTicket,
    SocialMessage,
    SocialUser,
    TicketRef,
    TicketUpdate,
)
from sav_bridge.ticket_text import message_text
from sav_bridge.ticket_update import Mappings, raised, union
from sav_bridge_salesforce import payloads, webhook
from sav_bridge_salesforce.auth import Session, TokenSource, load_private_key
from sav_bridge_salesforce.settings import with_defaults

#: The rolling 24-hour allocation frees slowly: look again after a quarter of an hour.
QUOTA_WAIT = 900.0
#: Too many long requests at once (`ConcurrentPerOrgLongTxn`): they end within seconds.
CONCURRENCY_WAIT = 30.0
SALESFORCE_ERRORS = VendorErrors(
    name=payloads.HELPDESK,
    quota_signals=((403, "REQUEST_LIMIT_EXCEEDED"),),
    quota_waits=(("ConcurrentPerOrgLongTxn", CONCURRENCY_WAIT), ("REQUEST_LIMIT_EXCEEDED", QUOTA_WAIT)),
)
SPENT = "the org's API requests over 24 hours are spent (jobs wait, none is lost)"
LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
#: Care's logical names, by kind, and the `salesforce` keys that map them (cases have no brand).
MAPS = {"group": "queues", "assignee": "assignees", "field": "fields"}


def private_key_of(section: Mapping[str, Any]) -> rsa.RSAPrivateKey:
    """The connected app's key, from `private_key` (PEM text) or the file `private_key_file` names."""
    if section.get("private_key"):
        return load_private_key(reveal(section["private_key"]))
    path = Path(str(section.get("private_key_file") or ""))
    try:
        pem = path.read_text("ascii")
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError("salesforce.private_key_file", f"cannot be read ({reason})") from None
    return load_private_key(pem, "salesforce.private_key_file")


class SalesforceHelpdesk:
    name: ClassVar[str] = payloads.HELPDESK
    accepts_attachments: ClassVar[bool] = False
    dm_marker: ClassVar[str] = "the case's Reply by DM box"
    #: Where the org's REST API lives: the token endpoint answers with the org's My Domain as its
    #: `instance_url` (`https://<domain>.my.salesforce.com`, `…sandbox.my.salesforce.com` for a sandbox).
    remote_hosts: ClassVar[tuple[str, ...]] = ("*.my.salesforce.com",)

    def __init__(
        self,
        client: httpx.AsyncClient,
        section: Mapping[str, Any],
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        settings = with_defaults(section)
        self._client = client
        self._section = settings
        self._timeout = httpx.Timeout(float(settings["timeout_seconds"]))
        self._version = str(settings["api_version"])
        self._organization_id = str(settings["organization_id"])
        self._webhook_secret = reveal(settings["webhook_secret"])
        self._contact_field = str(settings["contact_external_id"])
        self._case_field = str(settings["case_external_id"])
        self._dm_field = str(settings["reply_by_dm_field"])
        self._origin = str(settings["case_origin"])
        self._tags_field = str(settings["tags_field"]) if settings.get("tags_field") else None
        self._priorities = {**payloads.PRIORITIES, **(settings.get("priorities") or {})}
        self._maps = Mappings.from_section(self.name, settings, MAPS)
        self._tolerance = tolerance
        self._clock = clock
        self._tokens = TokenSource(client, str(settings["login_url"]), str(settings["consumer_key"]),
                                   str(settings["username"]), private_key_of(settings), self._timeout, clock)  # fmt: skip
        self._held_until = 0.0
        #: When the org's allocation was found spent (a `Paused` names it), until a call succeeds again.
        self._spent_since: float | None = None
        self._usage: dict[str, float] = {}

    @classmethod
    def config_schema(cls) -> dict[str, Any]:
        """The JSON Schema of the `salesforce` configuration section (the core merges it into its own)."""
        return packaged_schema(__package__ or __name__)

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, client: httpx.AsyncClient, clock: Callable[[], float] = time.time
    ) -> SalesforceHelpdesk:
        """`clock` dates the JWT assertions (the gateway passes its own: `helpdesks.build_helpdesk`)."""
        return cls(client, settings.helpdesk_section(), float(settings.webhook_tolerance_seconds), clock)

    # -- calls -----------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[Any, httpx.Response]:
        """One REST call as the integration user, its session renewed once if Salesforce ended it."""
        wait = self._held_until - self._clock()
        if wait > 0 and self._spent_since is not None:
            raise Paused(self.name, f"{SPENT}: waiting", 403, wait, self._spent_since)
        if wait > 0:
            raise RetryableError(self.name, "too many long requests at once (REQUEST_LIMIT_EXCEEDED): waiting",
                                 403, wait)  # fmt: skip
        session = await self._tokens.session()
        try:
            response = await self._send(session, method, path, **kwargs)
        except PermanentError as exc:
            if exc.status != 401:
                raise
            response = await self._send(await self._tokens.renew(session), method, path, **kwargs)
        if not response.content:
            return None, response
        try:
            return response.json(), response
        except ValueError as exc:
            raise RetryableError(self.name, f"non-JSON answer (HTTP {response.status_code})") from exc

    async def _send(self, session: Session, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = session.instance_url + (
            path if path.startswith("/") else f"/services/data/v{self._version}/{path}"
        )
        headers = {"Authorization": f"Bearer {session.access_token}"}
        try:
            response = await send(self._client, SALESFORCE_ERRORS, method, url, headers=headers,
                                  timeout=self._timeout, **kwargs)  # fmt: skip
        except RetryableError as exc:
            if exc.status != 403 or not exc.retry_after:
                raise
            now = self._clock()
            self._held_until = now + exc.retry_after
            if exc.retry_after != QUOTA_WAIT:
                raise  # the concurrent long-request limit: seconds, not a spent allocation
            self._spent_since = self._spent_since if self._spent_since is not None else now
            if "limit" in self._usage:
                self._usage["used"] = max(self._usage.get("used", 0.0), self._usage["limit"])
            raise Paused(
                self.name, f"{SPENT}: {exc.detail}", 403, exc.retry_after, self._spent_since
            ) from None
        self._spent_since = None
        if found := LIMIT_INFO.search(response.headers.get("sforce-limit-info", "")):
            self._usage = {"used": float(found[1]), "limit": float(found[2])}
        return response

    def api_usage(self) -> Mapping[str, float]:
        """The org's API requests used and allowed over 24 hours, as the last answer's `Sforce-Limit-Info` said."""
        return dict(self._usage)

    async def check_credentials(self) -> str:
        session = await self._tokens.session()
        if not payloads.same_id(session.organization_id, self._organization_id):
            raise PermanentError(self.name, "the credentials belong to another org than salesforce.organization_id "
                                 "(HTTP 403: its outbound messages would be refused)", 403)  # fmt: skip
        user, _ = await self._call(
            "GET", f"sobjects/User/{session.user_id}", params={"fields": "Name,Username"}
        )
        user = user if isinstance(user, dict) else {}
        return f"{user.get('Name')} ({user.get('Username')}, user {session.user_id}, org {session.organization_id})"

    # -- contacts and cases ----------------------------------------------------------------------
    async def _upsert(self, sobject: str, field: str, value: str, body: Mapping[str, Any]) -> str:
        """The id of the record whose external id `field` is `value`, created or updated with `body`."""
        path = f"sobjects/{sobject}/{field}/{quote(value, safe='')}"
        try:
            data, _ = await self._call("PATCH", path, json=body)
        except PermanentError as exc:
            if exc.status == 300:
                raise PermanentError(self.name, f"several {sobject} records hold {field} = {value} (HTTP 300): "
                                     f"make {field} a unique external id and merge them", 300) from None  # fmt: skip
            raise
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            return str(data["id"])
        found = await self._by_external_id(sobject, field, value)  # 204: API versions before 46.0 say nothing
        if found is None:
            raise RetryableError(self.name, f"the {sobject} upserted on {field} cannot be read back yet")
        return found

    async def _by_external_id(self, sobject: str, field: str, value: str) -> str | None:
        try:
            data, _ = await self._call("GET", f"sobjects/{sobject}/{field}/{quote(value, safe='')}",
                                       params={"fields": "Id"})  # fmt: skip
        except PermanentError as exc:
            if exc.status == 404:
                return None
            if exc.status == 300:
                raise PermanentError(self.name, f"several {sobject} records hold {field} = {value} (HTTP 300)",
                                     300) from None  # fmt: skip
            raise
        return str(data["Id"]) if isinstance(data, dict) and isinstance(data.get("Id"), str) else None

    async def open_ticket(
        self,
        conv: Conversation,
        first: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        case_key = payloads.external_key(key)
        if retry and (found := await self._by_external_id("Case", self._case_field, case_key)):
            return TicketRef(self.name, found)
        contact = await self._upsert("Contact", self._contact_field, first.author.id,
                                     payloads.contact_upsert(first.author))  # fmt: skip
        case_id = await self._upsert("Case", self._case_field, case_key,
                                     payloads.case_upsert(first, contact, self._origin))  # fmt: skip
        return TicketRef(self.name, case_id)

    def _case_id(self, ticket: TicketRef) -> str:
        if not payloads.is_record_id(ticket.id):
            raise PermanentError(self.name, "the ticket is not a Salesforce case id", 404)
        return ticket.id

    async def add_customer_message(
        self,
        ticket: TicketRef,
        msg: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        case_id = self._case_id(ticket)
        case, _ = await self._call("GET", f"sobjects/Case/{case_id}", params={"fields": "Status,IsClosed"})
        text = message_text(msg)
        if not (retry and await self._has_comment(case_id, text)):
            await self._call(
                "POST", "sobjects/CaseComment", json=payloads.comment(case_id, text, published=True)
            )
        if isinstance(case, dict) and case.get("IsClosed") is True:
            await self._call("PATCH", f"sobjects/Case/{case_id}", json={"Status": payloads.STATUS_NEW})
        return ticket

    async def add_internal_note(self, ticket: TicketRef, text: str, key: str, retry: bool = False) -> None:
        case_id = self._case_id(ticket)
        if retry and await self._has_comment(case_id, text):
            return
        await self._call(
            "POST", "sobjects/CaseComment", json=payloads.comment(case_id, text, published=False)
        )

    async def _comments(self, case_id: str) -> list[Mapping[str, Any]]:
        """Every comment of the case, oldest first, page after page (`nextRecordsUrl`)."""
        found: list[Mapping[str, Any]] = []
        page, _ = await self._call("GET", "query", params={"q": payloads.comments_query(case_id)})
        while isinstance(page, dict):
            found += [record for record in page.get("records") or [] if isinstance(record, dict)]
            following = page.get("nextRecordsUrl")
            if (
                page.get("done", True)
                or not isinstance(following, str)
                or not following.startswith("/services/")
            ):
                break
            page, _ = await self._call("GET", following)
        return found

    async def _has_comment(self, case_id: str, text: str) -> bool:
        me = (await self._tokens.session()).user_id
        return any(
            payloads.same_id(record.get("CreatedById"), me) and payloads.same_text(record, text)
            for record in await self._comments(case_id)
        )

    async def agent_replies(self, ticket: TicketRef) -> list[AgentReply]:
        case_id = self._case_id(ticket)
        case, _ = await self._call("GET", f"sobjects/Case/{case_id}")
        wants_dm = isinstance(case, dict) and case.get(self._dm_field) is True
        records = await self._comments(case_id)
        me = (await self._tokens.session()).user_id
        return payloads.agent_replies(ticket, records, me, wants_dm)

    async def download_attachment(self, ref: AttachmentRef, max_bytes: int) -> Attachment:
        raise PermanentError(self.name, "this plugin does not list agents' files yet")

    # -- care ------------------------------------------------------------------------------------
    async def update_ticket(
        self, ticket: TicketRef, update: TicketUpdate, key: str, retry: bool = False
    ) -> None:
        case_id = self._case_id(ticket)
        if update.brand is not None:
            self._maps.skipped("brand", update.brand, "Salesforce cases have no brand")
        tags_field = self._tags_field if update.tags else None
        if update.tags and tags_field is None:
            self._maps.skipped("tags", ",".join(update.tags), "salesforce.tags_field is null")
        wanted = [
            name for name, needed in (("Priority", update.priority), (tags_field, tags_field)) if needed
        ]
        current: Mapping[str, Any] = {}
        if wanted:
            read, _ = await self._call(
                "GET", f"sobjects/Case/{case_id}", params={"fields": ",".join(map(str, wanted))}
            )
            current = read if isinstance(read, dict) else {}
        changes: dict[str, Any] = {}
        if tags_field is not None:
            have = payloads.tags_of(current.get(tags_field))
            value, left_out = payloads.tags_value(union(have, update.tags))
            for tag in left_out:
                self._maps.skipped("tag", tag, f"{tags_field} holds {payloads.TAGS_MAX} characters")
            if value != payloads.TAG_SEPARATOR.join(have):
                changes[tags_field] = value
        if (queue := self._maps.get("group", update.group)) is not None:
            changes["OwnerId"] = queue
        if update.assignee is not None and "@" in update.assignee:
            self._maps.skipped("assignee", update.assignee, "salesforce.assignees maps names to user ids")
        elif (user := self._maps.get("assignee", update.assignee)) is not None:
            changes["OwnerId"] = user
        changes.update(self._maps.fields(update.fields))
        if (priority := raised(current.get("Priority"), update.priority, self._priorities)) is not None:
            changes["Priority"] = priority
        if changes:
            await self._call("PATCH", f"sobjects/Case/{case_id}", json=changes)

    async def customer_history(
        self, customer: SocialUser, exclude: TicketRef | None = None, limit: int = 5
    ) -> list[PastTicket]:
        if limit <= 0:
            return []
        contact = await self._by_external_id("Contact", self._contact_field, customer.id)
        if contact is None or not payloads.is_record_id(contact):
            return []
        page, _ = await self._call("GET", "query", params={"q": payloads.history_query(contact, limit + 1)})
        records = page.get("records") if isinstance(page, dict) else None
        return payloads.past_tickets([r for r in records or [] if isinstance(r, dict)], exclude, limit)

    # -- webhooks --------------------------------------------------------------------------------
    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, now: float, query: Mapping[str, str] | None = None
    ) -> None:
        webhook.verify(
            self._webhook_secret, self._organization_id, headers, query or {}, body, now, self._tolerance
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        return webhook.parse(headers, body)

    def webhook_answer(self, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
        """An outbound message's `<Ack>true</Ack>` (Salesforce resends until it gets one); JSON otherwise."""
        return webhook.answer(notice) or json_answer(notice, accepted)

    async def provision(self, public_url: str, dry_run: bool, out: TextIO) -> None:
        """Salesforce's metadata is deployed by the admin (`adapters/salesforce/metadata`): print, step by
        step, what to deploy and set, with or without `dry_run`; the secret as a placeholder."""
        from sav_bridge_salesforce.provision import provision

        provision(public_url, self._section, out)
