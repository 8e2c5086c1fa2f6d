"""The `Helpdesk` seam: what every helpdesk plugin implements, and the registry that finds plugins.

Plugins are separate distributions registered in the entry-point group `sav_bridge.helpdesks`
(`<name> = "<package>:<Class>"`); the core never imports one by name.

Contract, for plugin authors:
- Every write takes `key`, the idempotency key of the job that makes it. A call repeated with the same
  key after an ambiguous failure (timeout, 5xx after the vendor applied it) must change nothing more,
  using the vendor's own mechanism (idempotency header, external id, lookup before create).
- `retry=True` tells the plugin this key may have been tried before, so a lookup is worth its cost.
- Errors are `RetryableError` / `PermanentError` from `sav_bridge.errors`, mapped in one place.
- `verify_webhook` raises `Unauthorized` (or `MalformedRequest`) and never touches the network.
- Files: a plugin whose helpdesk stores files sets `accepts_attachments = True` and attaches the
  `attachments` it is given (bytes already downloaded and type-checked by the core) to the comment it
  writes; one without (or a plugin written before files existed) gets none, and the core puts links to
  public media in the text instead. Agents' files are listed in `AgentReply.attachments` and fetched
  with `download_attachment`, with the plugin's own credentials.
- Outgoing calls: the client the plugin is given reaches only the hosts the configuration names
  (`sav_bridge.egress`), its own section's URLs among them; a plugin whose vendor answers from other hosts
  (an API host learnt at sign-in, a file host downloads redirect to) lists them as vendor facts in the
  optional class attribute `remote_hosts` (`"*.example.com"` for any subdomain). No call follows a
  redirect unless it asks to, and then each hop is checked the same way.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, TextIO

import httpx

from sav_bridge.config import HELPDESK_GROUP, BaseSettings
from sav_bridge.errors import UnknownHelpdesk
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

ENTRY_POINT_GROUP = HELPDESK_GROUP


@dataclass(frozen=True)
class WebhookNotice:
    """What a helpdesk webhook told us: which tickets changed, and the key that deduplicates it.

    `key` is the same for a repeat of this notice and differs for any new one: the vendor's delivery id
    where it sends one, else what the notice says (a comment or conversation id, an outbound message's
    `Notification/Id`, the ticket id with the vendor's timestamp), so that a second reply on the same
    ticket is never absorbed as a duplicate of the first. The core stores one event per `key:ticket id`.
    """

    key: str
    ticket_ids: tuple[str, ...]
    #: One key per ticket id, for a notice that bundles several deliveries (an outbound message's
    #: `Notification/Id`s, each repeated on its own by the vendor); empty: `key` for every ticket.
    ticket_keys: tuple[str, ...] = ()

    def deliveries(self) -> list[tuple[str, str]]:
        """`(event id, ticket id)` of each delivery the notice holds; the core stores one event per event id."""
        keys = self.ticket_keys if len(self.ticket_keys) == len(self.ticket_ids) else ()
        return [
            (f"{keys[i] if keys else self.key}:{ticket}", ticket) for i, ticket in enumerate(self.ticket_ids)
        ]


@dataclass(frozen=True)
class WebhookAnswer:
    """The HTTP answer the vendor must receive for a webhook, built once its events are committed."""

    body: bytes
    media_type: str = "application/json"
    status: int = 200


def json_answer(notice: WebhookNotice, accepted: int) -> WebhookAnswer:
    """The default answer: `{"accepted": n, "duplicates": m}`, what most vendors ignore but log."""
    body = {"accepted": accepted, "duplicates": len(notice.ticket_ids) - accepted}
    return WebhookAnswer(json.dumps(body, separators=(",", ":")).encode())


class Helpdesk(Protocol):
    name: ClassVar[str]
    #: Whether customer comments can carry files (read with `accepts_attachments()`: older plugins lack it).
    accepts_attachments: ClassVar[bool]
    #: How an agent asks for a reply by DM in this helpdesk, as the gateway's notes name it ("the tag
    #: reply_by_dm"); the plugin sets `AgentReply.wants_dm` on a reply that carries it (read with `dm_marker()`).
    dm_marker: ClassVar[str]

    @classmethod
    def config_schema(cls) -> Mapping[str, Any]:
        """The JSON Schema of the plugin's configuration section, named after the plugin (`<name>.url`).

        `sav_bridge.config` adds it to the core schema for every installed plugin and requires the
        section when `helpdesk` names this one; keys marked `"x-secret": true` become `Secret`s.
        """
        ...

    @classmethod
    def from_settings(cls, settings: BaseSettings, client: httpx.AsyncClient) -> Helpdesk:
        """Build the plugin from the settings (its own section: `settings.helpdesk_section()`).

        `settings` may lack X's section (`sav-bridge <helpdesk> provision`); the plugin's calls use its
        own `timeout_seconds`, whatever the client's default. A plugin that dates what it signs (a JWT's
        expiry) adds a keyword parameter `clock`, which the gateway fills (`build_helpdesk()`).
        """
        ...

    async def check_credentials(self) -> str:
        """One harmless authenticated read (`sav-bridge check --online`); say whom the credentials belong to.

        Raises `PermanentError` (status 401/403 when they are refused) or `RetryableError`; changes nothing.
        """
        ...

    async def open_ticket(
        self,
        conv: Conversation,
        first: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        """Open a ticket for a new conversation, requester identified by the social user.

        `attachments` go with the first comment; a retry uploads them again (uploads are not writes
        the customer sees, so a repeat changes nothing they would notice).
        """
        ...

    async def add_customer_message(
        self,
        ticket: TicketRef,
        msg: SocialMessage,
        key: str,
        retry: bool = False,
        attachments: Sequence[Attachment] = (),
    ) -> TicketRef:
        """Add a follow-up as the customer's public comment, with its `attachments`, reopening a solved
        ticket.

        Returns the ticket that received it: a new follow-up ticket when the old one is closed for good.
        """
        ...

    async def add_internal_note(self, ticket: TicketRef, text: str, key: str, retry: bool = False) -> None:
        """Add a private note agents see and customers never do."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Raise `Unauthorized` unless the request provably comes from this helpdesk, recently.

        A plugin whose vendor authenticates in the URL (a token in the query string, all some
        vendors' unsigned callbacks can carry) adds a keyword parameter `query: Mapping[str, str]`; the core
        passes the request's query string to plugins that declare it (`verify_webhook()` below).
        """
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookNotice:
        """Read which tickets changed; raise `MalformedRequest` if the body is not the expected shape."""
        ...

    def webhook_answer(self, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
        """What the vendor receives back, built only after the notice's events and jobs are committed
        (`accepted` of them new, the others repeats); `json_answer` for most vendors, an acknowledgement
        envelope for those that want one (a SOAP `<Ack>`). Optional: read with `webhook_answer()`."""
        ...

    async def agent_replies(self, ticket: TicketRef) -> list[AgentReply]:
        """Every public comment written by an agent on this ticket, oldest first, with its files."""
        ...

    async def download_attachment(self, ref: AttachmentRef, max_bytes: int) -> Attachment:
        """The bytes of an agent's file, fetched with the plugin's credentials (never sent to another host).

        Raises `PermanentError` when it is larger than `max_bytes` or gone, `RetryableError` when the
        helpdesk may serve it later. `content_type` is what the helpdesk declares; the core checks the bytes.
        """
        ...

    async def provision(self, public_url: str, dry_run: bool, out: TextIO) -> None:
        """Create or update, idempotently, what makes the helpdesk call us; print what was done."""
        ...


def build_helpdesk(
    plugin: type[Helpdesk], settings: BaseSettings, client: httpx.AsyncClient, clock: Callable[[], float]
) -> Helpdesk:
    """`plugin.from_settings`, with the gateway's clock for plugins that sign with time (a JWT's expiry)
    and take a keyword parameter `clock`: tests and the sandbox move that clock, the vendor's fake too."""
    build: Any = plugin.from_settings
    if "clock" in inspect.signature(build).parameters:
        helpdesk: Helpdesk = build(settings, client, clock=clock)
    else:
        helpdesk = build(settings, client)
    return helpdesk


def verify_webhook(
    helpdesk: Helpdesk, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now: float
) -> None:
    """The plugin's check of a webhook request, with its query string when the plugin reads one."""
    verify: Any = helpdesk.verify_webhook
    if "query" in inspect.signature(verify).parameters:
        verify(headers, body, now, query=query)
    else:
        verify(headers, body, now)


def api_usage(helpdesk: Helpdesk) -> Mapping[str, float]:
    """The helpdesk's API allocation as its last answer told it (`{"used": …, "limit": …}`), for the
    metrics; empty for plugins whose vendor says nothing (optional method `api_usage()`)."""
    usage = getattr(helpdesk, "api_usage", None)
    return dict(usage()) if callable(usage) else {}


def accepts_attachments(helpdesk: Helpdesk) -> bool:
    """Whether `helpdesk` takes files on customer comments; False for plugins that do not say."""
    return bool(getattr(helpdesk, "accepts_attachments", False))


def webhook_answer(helpdesk: Helpdesk, notice: WebhookNotice, accepted: int) -> WebhookAnswer:
    """The plugin's answer to a committed notice; `json_answer` for plugins that do not say."""
    answer = getattr(helpdesk, "webhook_answer", None)
    return answer(notice, accepted) if callable(answer) else json_answer(notice, accepted)


class CareAware(Protocol):
    """Optional methods a plugin adds so that care (`sav_bridge.care`) can act on tickets, not only note.

    - `update_ticket`: add tags (keeping the ticket's own), raise the priority (never lower it), set the
      group, brand, assignee and fields that the update names by logical name, mapped to the vendor's ids
      in the plugin's own section; a name with no mapping is skipped with a log line, never a failure.
      Idempotent under `key`.
    - `customer_history`: the requester's earlier tickets, every channel, newest first, at most `limit`,
      without `exclude`; read-only.
    """

    async def update_ticket(
        self, ticket: TicketRef, update: TicketUpdate, key: str, retry: bool = False
    ) -> None: ...

    async def customer_history(
        self, customer: SocialUser, exclude: TicketRef | None = None, limit: int = 5
    ) -> list[PastTicket]: ...


def updates_tickets(helpdesk: Helpdesk) -> bool:
    """Whether the plugin applies care's priority, tags and routing (else care says them in a note)."""
    return callable(getattr(helpdesk, "update_ticket", None))


def knows_history(helpdesk: Helpdesk) -> bool:
    """Whether the plugin can list a requester's earlier tickets for the history note."""
    return callable(getattr(helpdesk, "customer_history", None))


def dm_marker(helpdesk: Helpdesk) -> str:
    """The plugin's reply-by-DM marker for a note to agents; a neutral phrase for plugins that do not say."""
    return str(getattr(helpdesk, "dm_marker", "") or "the helpdesk's reply-by-DM marker")


def packaged_schema(package: str, name: str = "config.schema.json") -> dict[str, Any]:
    """A JSON Schema shipped inside a plugin's package (what `config_schema()` usually returns)."""
    schema: dict[str, Any] = json.loads(resources.files(package).joinpath(name).read_text("utf-8"))
    return schema


def available() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_helpdesk(name: str) -> type[Helpdesk]:
    """The plugin class registered under `name`; `UnknownHelpdesk` if none is installed."""
    found = available()
    if name not in found:
        raise UnknownHelpdesk(name, list(found))
    cls: type[Helpdesk] = found[name].load()
    return cls
