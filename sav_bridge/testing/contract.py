"""The contract every helpdesk plugin passes: one suite, each vendor only declares its specifics.

A plugin's test module subclasses `Declaration` (its configuration, how its fake writes an agent's reply,
a private note or the customer's own message, how it signs a webhook, which routes to fail) and
`HelpdeskContract` (the pytest class that runs every check on it)::

    class AcmeDeskDeclaration(Declaration):
        plugin = "acmedesk"
        ...

    class TestAcmeDeskContract(HelpdeskContract):
        declaration = AcmeDeskDeclaration

The plugin is loaded through its `sav_bridge.helpdesks` entry point and its fake through
`sav_bridge.sandboxes`, exactly as the gateway finds them; the plugin talks to the fake over an
`httpx.MockTransport`, so each check drives the real calls. What the checks prove, per the `Helpdesk`
protocol: a ticket opened twice with one key after an ambiguous failure is one ticket; a customer
follow-up is public and reopens a solved ticket; a note is private; a webhook is refused when forged,
stale or unsigned, without any request; only public agent replies are listed; refused credentials,
missing tickets and invalid writes are `PermanentError`, rate limits, quota signals, 5xx and timeouts
`RetryableError` carrying the vendor's wait.

Care's optional methods (`update_ticket`, `customer_history`) are checked on every plugin that defines
them, and each check says it is skipped on one that does not: tags are added to the ticket's own (an
agent's included), never put in their place; a priority is raised and never lowered; a logical group is
mapped through the plugin's section and one it cannot map is skipped, not a failure; an update repeated
after a lost answer changes nothing more; the history lists the requester's earlier tickets, newest
first, never another requester's, and writes nothing; 429 and 503 are `RetryableError`.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from sav_bridge.config import BaseSettings, load_helpdesk_settings
from sav_bridge.errors import DeliveryError, PermanentError, RetryableError, Unauthorized
from sav_bridge.helpdesks import Helpdesk, available, build_helpdesk, load_helpdesk, webhook_answer
from sav_bridge.model import (
    Audience,
    Conversation,
    MessageKind,
    SocialMessage,
    SocialUser,
    TicketRef,
    TicketUpdate,
)
from sav_bridge.sandbox import helpdesk_fake
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.faults import Fault, FaultPlan

#: Seconds a stale webhook is older than the gateway's tolerance (`webhook_tolerance_seconds`).
STALE_BY = 3600.0
#: A `Retry-After` longer than `send()` waits in-process, so the vendor's wait reaches the caller.
LONG_WAIT = 120
CUSTOMER = SocialUser("2100000000000000001", "claire_dupont", "Claire Dupont")
#: Another customer of the same brand, whose tickets are never in Claire's history.
OTHER_CUSTOMER = SocialUser("2100000000000000002", "jean_martin", "Jean Martin")
#: The logical names care's checks use: the declaration's `config` maps them, except `UNMAPPED`.
CARE_GROUP = "cards"
CARE_FIELD = "product"
UNMAPPED = "nowhere"
BRAND = "1500000000000000001"


def start() -> float:
    """Where a kit's clock (the fake's) starts: the real time, since a plugin signs what it sends (a JWT's
    expiry, a timestamp) with its own clock, which the checks do not move."""
    return float(int(time.time()))


@dataclass(frozen=True)
class Route:
    """A vendor endpoint the fake can fail: the method and a regular expression of its path."""

    method: str
    path: str

    def fault(self, status: int = 503, **kwargs: Any) -> Fault:
        return Fault(self.method, self.path, status, **kwargs)


class Declaration:
    """What one plugin's contract test declares: its vendor's specifics, nothing else.

    Class attributes name the plugin, its configuration and the routes the checks fail; the methods
    act on its fake (found through `sav_bridge.sandboxes`) as the vendor's people and servers would.
    """

    #: The plugin's entry-point name (and configuration section).
    plugin: ClassVar[str]
    #: Its configuration section, as the environment gives it (`url`, `api_token`...).
    config: ClassVar[Mapping[str, str]]
    #: Keys that, replacing the configured ones, make the vendor refuse the credentials.
    bad_credentials: ClassVar[Mapping[str, str]]
    #: The write that creates a ticket, the one a note makes, and the read `check_credentials` makes.
    create_ticket: ClassVar[Route]
    add_note: ClassVar[Route]
    credentials: ClassVar[Route]
    #: The headers whose absence makes a webhook unsigned.
    signature_headers: ClassVar[tuple[str, ...]]
    #: A ticket id the vendor does not know.
    missing_ticket: ClassVar[str] = "999999999"
    #: The webhooks the vendor's scheme lets a plugin refuse. A vendor that signs nothing and sends a
    #: shared token in a header proves who sent a request, not when nor what: it declares
    #: `("forged", "unsigned")` (a wrong or missing token), and repeats are absorbed downstream.
    webhook_refusals: ClassVar[tuple[str, ...]] = ("forged", "stale", "unsigned", "tampered")

    #: The wait the plugin must report for `quota_fault()`: the vendor's own (`LONG_WAIT`) where its
    #: answer names one, else the plugin's documented back-off (a quota answer without a wait header).
    quota_wait: ClassVar[float] = LONG_WAIT

    #: How many comments one page of the plugin's listing holds on the fake (after `prepare`): the
    #: paging check writes more agent replies than that.
    page_size: ClassVar[int] = 100

    def prepare(self, fake: FakeVendor) -> None:
        """Adjust the fresh fake before each check (smaller pages, say); nothing by default."""

    def quota_fault(self) -> Fault:
        """The vendor's "quota exhausted" answer on the credentials read (naming a wait of `LONG_WAIT`
        seconds where the vendor's answers can name one)."""
        raise NotImplementedError

    def ticket_ids(self, fake: FakeVendor) -> list[str]:
        raise NotImplementedError

    def public_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        """Every message on the ticket the customer can see."""
        raise NotImplementedError

    def private_texts(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        raise NotImplementedError

    def solve(self, fake: FakeVendor, ticket: TicketRef) -> None:
        raise NotImplementedError

    def is_solved(self, fake: FakeVendor, ticket: TicketRef) -> bool:
        raise NotImplementedError

    def agent_reply(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        """An agent answers the customer publicly in the helpdesk's own interface."""
        raise NotImplementedError

    def agent_private_note(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        raise NotImplementedError

    def customer_writes(self, fake: FakeVendor, ticket: TicketRef, text: str) -> None:
        """The customer writes on the ticket through the helpdesk itself (an e-mail, the portal)."""
        raise NotImplementedError

    def signed_webhook(
        self, fake: FakeVendor, ticket: TicketRef, at: float, secret: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """The request the vendor sends when an agent replies, signed at `at` with `secret` (the
        configured one when None) exactly as the vendor signs it."""
        raise NotImplementedError

    # -- care (plugins with `update_ticket` / `customer_history`; `config` maps CARE_GROUP, CARE_FIELD) --
    #: The first write `update_ticket` makes, and the first read `customer_history` makes.
    update_route: ClassVar[Route | None] = None
    history_route: ClassVar[Route | None] = None

    def tags(self, fake: FakeVendor, ticket: TicketRef) -> list[str]:
        """The ticket's tags as the helpdesk holds them (for a vendor without tags, where the plugin keeps them)."""
        raise NotImplementedError

    def agent_tags(self, fake: FakeVendor, ticket: TicketRef, tag: str) -> None:
        """An agent adds `tag` to the ticket in the helpdesk's own interface."""
        raise NotImplementedError

    def priority(self, fake: FakeVendor, ticket: TicketRef) -> object:
        """The ticket's priority, as the vendor stores it."""
        raise NotImplementedError

    def group(self, fake: FakeVendor, ticket: TicketRef) -> object:
        """The group (or queue) the ticket is assigned to, as the vendor's id."""
        raise NotImplementedError

    def field(self, fake: FakeVendor, ticket: TicketRef) -> object:
        """The value of the custom field `config` maps CARE_FIELD to."""
        raise NotImplementedError

    #: The vendor ids `config` maps CARE_GROUP to (as `group()` returns it).
    care_group_id: ClassVar[object] = None


@dataclass
class Kit:
    """One plugin on its fake, with the clock the checks move and every request sent."""

    declaration: Declaration
    helpdesk: Helpdesk
    fake: FakeVendor
    client: httpx.AsyncClient
    now: list[float] = field(default_factory=lambda: [start()])
    sent: list[httpx.Request] = field(default_factory=list)

    def message(self, text: str, number: int = 1, author: SocialUser = CUSTOMER) -> SocialMessage:
        msg_id = f"190000000000000000{number}"
        return SocialMessage("x", BRAND, msg_id, MessageKind.DM, author, text, "2024-05-02T09:00:00.000Z",
                             f"x:dm:{BRAND}:{author.id}")  # fmt: skip

    def conversation(self, author: SocialUser = CUSTOMER) -> Conversation:
        return Conversation(f"x:dm:{BRAND}:{author.id}", "x", Audience.DM, author)

    async def open(
        self, text: str = "Ma carte est bloquée", key: str = "x.message:dm:1", author: SocialUser = CUSTOMER
    ) -> TicketRef:
        return await self.helpdesk.open_ticket(
            self.conversation(author), self.message(text, author=author), key
        )


def _settings(name: str, section: Mapping[str, str]) -> BaseSettings:
    prefix = f"SAV_BRIDGE_{name.upper()}__"
    environ = {"SAV_BRIDGE_HELPDESK": name, **{prefix + key.upper(): value for key, value in section.items()}}
    return load_helpdesk_settings(environ=environ)


def build_kit(
    declaration: Declaration, vendor_dir: Path | None = None, overrides: Mapping[str, str] | None = None
) -> Kit:
    """The plugin and its fake as the gateway builds them from the declared configuration; `overrides`
    change the plugin's keys only (the fake keeps the account's real credentials)."""
    name = declaration.plugin
    clock = [start()]
    fake = helpdesk_fake(_settings(name, declaration.config), vendor_dir, lambda: clock[0])
    sent: list[httpx.Request] = []

    def route(request: httpx.Request) -> Any:
        sent.append(request)
        if request.url.netloc.decode() not in fake.hosts:
            return httpx.Response(502, json={"error": f"{request.url.host} is not the vendor's host"})
        return fake.respond(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(route))
    settings = _settings(name, {**declaration.config, **(overrides or {})})
    helpdesk = build_helpdesk(load_helpdesk(name), settings, client, lambda: clock[0])
    return Kit(declaration, helpdesk, fake, client, clock, sent)


Check = Callable[[Kit], Awaitable[None]]


# -- the checks ------------------------------------------------------------------------------------
async def open_ticket_is_idempotent(kit: Kit) -> None:
    """The vendor creates the ticket and every answer is lost (the plugin's own quick retries too); the
    outbox's retry with the same key, once the vendor answers again, finds it instead of making another."""
    kit.fake.faults.add(kit.declaration.create_ticket.fault(503, applied=True, times=3))
    first: TicketRef | None = None
    with contextlib.suppress(RetryableError):
        first = await kit.open(key="x.message:dm:7")
    kit.fake.faults = FaultPlan()
    again = await kit.helpdesk.open_ticket(kit.conversation(), kit.message("Ma carte est bloquée"),
                                           "x.message:dm:7", retry=True)  # fmt: skip
    found = kit.declaration.ticket_ids(kit.fake)
    if found != [again.id] or first not in (None, again):
        pytest.fail(f"one key, one ticket: the vendor holds {found}, the plugin said {first} then {again}")


async def customer_message_reopens_a_solved_ticket(kit: Kit) -> None:
    ticket = await kit.open()
    kit.declaration.solve(kit.fake, ticket)
    landed = await kit.helpdesk.add_customer_message(
        ticket, kit.message("Toujours bloquée", 2), "x.message:dm:2"
    )
    public = kit.declaration.public_texts(kit.fake, landed)
    if not any("Toujours bloquée" in text for text in public):
        pytest.fail(f"the follow-up is not a public message on ticket {landed.id}: {public}")
    if kit.declaration.is_solved(kit.fake, landed):
        pytest.fail(f"ticket {landed.id} is still solved after the customer wrote again")


async def internal_note_is_private(kit: Kit) -> None:
    ticket = await kit.open()
    await kit.helpdesk.add_internal_note(ticket, "Note de la passerelle", "note:1")
    if "Note de la passerelle" not in kit.declaration.private_texts(kit.fake, ticket):
        pytest.fail("the note is not among the ticket's private notes")
    if any("Note de la passerelle" in text for text in kit.declaration.public_texts(kit.fake, ticket)):
        pytest.fail("the customer can see the gateway's note")


async def internal_note_is_idempotent(kit: Kit) -> None:
    """The vendor adds the note and the answer is lost; the retry with the same key adds no second one."""
    ticket = await kit.open()
    kit.fake.faults.add(kit.declaration.add_note.fault(503, applied=True, times=3))
    with contextlib.suppress(RetryableError):
        await kit.helpdesk.add_internal_note(ticket, "Note unique", "note:1")
    kit.fake.faults = FaultPlan()
    await kit.helpdesk.add_internal_note(ticket, "Note unique", "note:1", retry=True)
    notes = [t for t in kit.declaration.private_texts(kit.fake, ticket) if t == "Note unique"]
    if len(notes) != 1:
        pytest.fail(f"one key, one note: the ticket holds {len(notes)}")


async def customer_message_is_idempotent(kit: Kit) -> None:
    """The vendor adds the customer's follow-up and the answer is lost; the retry adds no second one."""
    ticket = await kit.open()
    kit.fake.faults.add(kit.declaration.add_note.fault(503, applied=True, times=3))
    with contextlib.suppress(RetryableError):
        await kit.helpdesk.add_customer_message(ticket, kit.message("Toujours bloquée", 2), "x.message:dm:2")
    kit.fake.faults = FaultPlan()
    landed = await kit.helpdesk.add_customer_message(
        ticket, kit.message("Toujours bloquée", 2), "x.message:dm:2", retry=True
    )
    found = [t for t in kit.declaration.public_texts(kit.fake, landed) if "Toujours bloquée" in t]
    if len(found) != 1:
        pytest.fail(f"one key, one customer message: the ticket shows it {len(found)} times")


async def every_agent_reply_is_listed_across_pages(kit: Kit) -> None:
    ticket = await kit.open()
    written = [f"Réponse {n}" for n in range(kit.declaration.page_size + 3)]
    for text in written:
        kit.declaration.agent_reply(kit.fake, ticket, text)
    bodies = [reply.body.strip() for reply in await kit.helpdesk.agent_replies(ticket)]
    if bodies != written:
        pytest.fail(
            f"{len(written)} replies written, {len(bodies)} listed (in order: {bodies == written[: len(bodies)]})"
        )


async def each_reply_rings_a_delivery_of_its_own(kit: Kit) -> None:
    """Two replies on one ticket are two deliveries (never absorbed as a repeat), each answered with 2xx."""
    ticket = await kit.open()
    deliveries = []
    for text in ("Première réponse", "Seconde réponse"):
        kit.declaration.agent_reply(kit.fake, ticket, text)
        headers, body = kit.declaration.signed_webhook(kit.fake, ticket, kit.now[0])
        notice = kit.helpdesk.parse_webhook(headers, body)
        if ticket.id not in notice.ticket_ids:
            pytest.fail(f"the webhook does not name ticket {ticket.id}: {notice.ticket_ids}")
        answer = webhook_answer(kit.helpdesk, notice, len(notice.ticket_ids))
        if not 200 <= answer.status < 300:
            pytest.fail(f"the webhook answer is HTTP {answer.status}")
        deliveries.append({event for event, _ in notice.deliveries()})
    if deliveries[0] & deliveries[1]:
        pytest.fail(
            f"the second reply's webhook repeats the first's delivery key: {deliveries[0] & deliveries[1]}"
        )


async def webhook_is_verified_offline(kit: Kit) -> None:
    ticket = await kit.open()
    before = len(kit.sent)
    now = kit.now[0]
    headers, body = kit.declaration.signed_webhook(kit.fake, ticket, now)
    kit.helpdesk.verify_webhook(headers, body, now)
    refused = {
        "forged": kit.declaration.signed_webhook(kit.fake, ticket, now, secret="not-the-secret"),
        "stale": kit.declaration.signed_webhook(kit.fake, ticket, now - STALE_BY),
        "unsigned": (
            {k: v for k, v in headers.items() if k.lower() not in kit.declaration.signature_headers},
            body,
        ),
        "tampered": (headers, body + b" "),
    }
    for what, (bad_headers, bad_body) in refused.items():
        if what not in kit.declaration.webhook_refusals:
            continue
        try:
            kit.helpdesk.verify_webhook(bad_headers, bad_body, now)
        except Unauthorized:
            continue
        pytest.fail(f"a {what} webhook is accepted")
    if len(kit.sent) != before:
        pytest.fail("verifying a webhook sent requests to the vendor")


async def only_public_agent_replies_are_listed(kit: Kit) -> None:
    ticket = await kit.open()
    kit.declaration.agent_reply(kit.fake, ticket, "Bonjour Claire, c'est débloqué")
    kit.declaration.agent_private_note(kit.fake, ticket, "Vérifier l'identité")
    kit.declaration.customer_writes(kit.fake, ticket, "Je réponds par e-mail")
    await kit.helpdesk.add_internal_note(ticket, "Note de la passerelle", "note:1")
    await kit.helpdesk.add_customer_message(ticket, kit.message("Merci !", 2), "x.message:dm:2")
    bodies = [reply.body.strip() for reply in await kit.helpdesk.agent_replies(ticket)]
    if bodies != ["Bonjour Claire, c'est débloqué"]:
        pytest.fail(f"agent_replies must list the agent's public reply only, got {bodies}")


def _expect(error: type[DeliveryError], caught: BaseException | None, what: str) -> DeliveryError:
    if not isinstance(caught, error):
        pytest.fail(f"{what}: expected {error.__name__}, got {caught!r} (None: no error at all)")
    return caught


async def _failure(call: Awaitable[Any]) -> BaseException | None:
    try:
        await call
    except Exception as exc:  # the check reports whatever it got
        return exc
    return None


async def refused_credentials_are_permanent(kit: Kit) -> None:
    bad = build_kit(kit.declaration, overrides=kit.declaration.bad_credentials)
    async with bad.client:
        caught = await _failure(bad.helpdesk.check_credentials())
    error = _expect(PermanentError, caught, "refused credentials")
    if error.status not in (401, 403) or not re.search(r"401|403|credential|authenticat", str(error), re.I):
        pytest.fail(f"refused credentials must say so with status 401 or 403, got {error.status}: {error}")


async def missing_and_invalid_are_permanent(kit: Kit) -> None:
    missing = TicketRef(kit.declaration.plugin, kit.declaration.missing_ticket)
    _expect(
        PermanentError, await _failure(kit.helpdesk.add_internal_note(missing, "n", "k")), "missing ticket"
    )
    ticket = await kit.open()
    kit.fake.faults.add(kit.declaration.add_note.fault(422, body='{"error": "RecordInvalid"}'))
    _expect(PermanentError, await _failure(kit.helpdesk.add_internal_note(ticket, "n", "k")), "HTTP 422")


async def rate_limits_and_outages_are_retryable(kit: Kit) -> None:
    route = kit.declaration.credentials
    cases = {
        "429 with Retry-After": route.fault(429, headers={"Retry-After": str(LONG_WAIT)}),
        "the vendor's quota signal": kit.declaration.quota_fault(),
        "HTTP 503": route.fault(503, times=10),
        "a timeout": route.fault(timeout=True, times=10),
    }
    waits = {"429 with Retry-After": LONG_WAIT, "the vendor's quota signal": kit.declaration.quota_wait}
    for what, fault in cases.items():
        kit.fake.faults = FaultPlan()
        kit.fake.faults.add(fault)
        error = _expect(RetryableError, await _failure(kit.helpdesk.check_credentials()), what)
        wait = waits.get(what)
        if wait is not None and not (isinstance(error, RetryableError) and error.retry_after == wait):
            pytest.fail(f"{what}: the wait of {wait} s is lost ({error!r})")


# -- care's optional methods -------------------------------------------------------------------------
def _care(kit: Kit, method: str) -> Callable[..., Awaitable[Any]]:
    found = getattr(kit.helpdesk, method, None)
    if not callable(found):
        pytest.skip(
            f"{kit.declaration.plugin} does not define the optional {method}(): care only writes notes"
        )
    call: Callable[..., Awaitable[Any]] = found
    return call


async def update_adds_tags_to_the_tickets_own(kit: Kit) -> None:
    """Care's tags join the ticket's, an agent's among them (a vendor whose update replaces the list
    must be sent the union), each once however often the update is repeated."""
    update = _care(kit, "update_ticket")
    ticket = await kit.open()
    kit.declaration.agent_tags(kit.fake, ticket, "vip_agent")
    before = kit.declaration.tags(kit.fake, ticket)
    await update(ticket, TicketUpdate(tags=("sav_unhappy", "cartes")), "care.mood:1")
    await update(ticket, TicketUpdate(tags=("sav_unhappy",)), "care.mood:2")
    after = kit.declaration.tags(kit.fake, ticket)
    lost = [tag for tag in [*before, "sav_unhappy", "cartes"] if tag not in after]
    if lost or "vip_agent" not in before:
        pytest.fail(f"tags were replaced, not added: {before} then {after} (missing {lost})")
    if len(after) != len(set(after)):
        pytest.fail(f"a tag is on the ticket twice: {after}")


async def priority_is_raised_never_lowered(kit: Kit) -> None:
    update = _care(kit, "update_ticket")
    ticket = await kit.open()
    initial = kit.declaration.priority(kit.fake, ticket)
    await update(ticket, TicketUpdate(priority="high"), "care.mood:1")
    high = kit.declaration.priority(kit.fake, ticket)
    if high == initial:
        pytest.fail(f"priority high left the ticket at {initial!r}")
    await update(ticket, TicketUpdate(priority="urgent"), "care.mood:2")
    top = kit.declaration.priority(kit.fake, ticket)
    for level in ("low", "normal", "high"):
        await update(ticket, TicketUpdate(priority=level), f"care.mood:{level}")
        now = kit.declaration.priority(kit.fake, ticket)
        if now != top:
            pytest.fail(f"priority {level} after urgent moved the ticket from {top!r} to {now!r}")


async def routing_maps_logical_names_and_skips_unknown_ones(kit: Kit) -> None:
    """A mapped group and field reach the ticket; names the section does not map are skipped (no error),
    and the rest of that update still applies."""
    update = _care(kit, "update_ticket")
    ticket = await kit.open()
    routed = TicketUpdate(group=CARE_GROUP, fields={CARE_FIELD: "cartes"}, tags=("cartes",))
    await update(ticket, routed, "care.route:1")
    group = kit.declaration.group(kit.fake, ticket)
    if group != kit.declaration.care_group_id:
        pytest.fail(
            f"group {CARE_GROUP!r} routed the ticket to {group!r}, not {kit.declaration.care_group_id!r}"
        )
    if kit.declaration.field(kit.fake, ticket) != "cartes":
        pytest.fail(f"field {CARE_FIELD!r} was not set: {kit.declaration.field(kit.fake, ticket)!r}")
    unknown = TicketUpdate(group=UNMAPPED, brand=UNMAPPED, assignee=UNMAPPED, fields={UNMAPPED: "x"},
                           tags=("sav_routed",), priority="high")  # fmt: skip
    caught = await _failure(update(ticket, unknown, "care.route:2"))
    if caught is not None:
        pytest.fail(f"names with no mapping must be skipped, not fail the update: {caught!r}")
    if kit.declaration.group(kit.fake, ticket) != kit.declaration.care_group_id:
        pytest.fail("an unmapped group moved the ticket")
    if "sav_routed" not in kit.declaration.tags(kit.fake, ticket):
        pytest.fail("the tags of an update naming an unmapped group were not added")


async def update_repeated_after_a_lost_answer_changes_nothing_more(kit: Kit) -> None:
    update = _care(kit, "update_ticket")
    route = kit.declaration.update_route
    if route is None:
        pytest.fail("the declaration names no update_route")
    ticket = await kit.open()
    wanted = TicketUpdate(priority="high", tags=("sav_unhappy",), group=CARE_GROUP)
    kit.fake.faults.add(route.fault(503, applied=True, times=3))
    with contextlib.suppress(RetryableError):
        await update(ticket, wanted, "care.mood:1")
    kit.fake.faults = FaultPlan()
    await update(ticket, wanted, "care.mood:1", retry=True)
    once = (kit.declaration.tags(kit.fake, ticket), kit.declaration.priority(kit.fake, ticket))
    await update(ticket, wanted, "care.mood:1", retry=True)
    twice = (kit.declaration.tags(kit.fake, ticket), kit.declaration.priority(kit.fake, ticket))
    if once != twice or once[0].count("sav_unhappy") != 1:
        pytest.fail(f"one key, one change: {once} then {twice}")


async def history_lists_the_requesters_earlier_tickets(kit: Kit) -> None:
    """Newest first, at most `limit`, without `exclude`, never another requester's; a customer the
    helpdesk does not know has none, and reading the history writes nothing (no contact is created)."""
    history = _care(kit, "customer_history")
    before = len(kit.sent)
    if (stranger := await history(CUSTOMER)) != []:
        pytest.fail(f"a customer with no ticket has a history: {stranger}")
    read_alone = kit.sent[before:]
    first = await kit.open("Ma carte est bloquée", "x.message:dm:1")
    kit.now[0] += 60
    other = await kit.open("Mon virement", "x.message:dm:2", author=OTHER_CUSTOMER)
    kit.now[0] += 60
    latest = await kit.open("Toujours bloquée", "x.message:dm:3")
    reads = len(kit.sent)
    earlier = await history(CUSTOMER, exclude=latest, limit=5)
    every = await history(CUSTOMER)
    newest = await history(CUSTOMER, limit=1)
    if [p.id for p in earlier] != [first.id]:
        pytest.fail(f"history without the current ticket: {[p.id for p in earlier]}, expected [{first.id}]")
    if [p.id for p in every] != [latest.id, first.id] or other.id in [p.id for p in every]:
        pytest.fail(f"history must list {[latest.id, first.id]} newest first, not {[p.id for p in every]}")
    if [p.id for p in newest] != [latest.id]:
        pytest.fail(f"limit=1 listed {[p.id for p in newest]}")
    entry = earlier[0]
    if not (entry.status and entry.channel and entry.created_at[:4].isdigit() and entry.subject):
        pytest.fail(f"a history entry lacks its status, channel, date or subject: {entry}")
    writes = [
        f"{r.method} {r.url.path}"
        for r in read_alone + kit.sent[reads:]
        if r.method not in ("GET", "HEAD") and not r.url.path.endswith("/token")
    ]
    if writes:
        pytest.fail(f"reading the history wrote to the helpdesk: {writes}")


async def care_calls_are_retryable_on_limits_and_outages(kit: Kit) -> None:
    update = _care(kit, "update_ticket")
    history = _care(kit, "customer_history")
    ticket = await kit.open()
    calls: dict[str, tuple[Route | None, Callable[[], Awaitable[Any]]]] = {
        "update_ticket": (kit.declaration.update_route,
                          lambda: update(ticket, TicketUpdate(priority="high", tags=("sav_unhappy",)), "care:1")),
        "customer_history": (kit.declaration.history_route, lambda: history(CUSTOMER, exclude=ticket)),
    }  # fmt: skip
    for method, (route, call) in calls.items():
        if route is None:
            pytest.fail(f"the declaration names no route for {method}")
        for what, fault in {
            "429 with Retry-After": route.fault(429, headers={"Retry-After": str(LONG_WAIT)}),
            "HTTP 503": route.fault(503, times=10),
        }.items():
            kit.fake.faults = FaultPlan()
            kit.fake.faults.add(fault)
            error = _expect(RetryableError, await _failure(call()), f"{method}, {what}")
            if what.startswith("429") and not (
                isinstance(error, RetryableError) and error.retry_after == LONG_WAIT
            ):
                pytest.fail(f"{method}, {what}: the wait of {LONG_WAIT} s is lost ({error!r})")
    kit.fake.faults = FaultPlan()


CHECKS: dict[str, Check] = {
    check.__name__: check
    for check in (
        open_ticket_is_idempotent,
        customer_message_reopens_a_solved_ticket,
        internal_note_is_private,
        internal_note_is_idempotent,
        customer_message_is_idempotent,
        every_agent_reply_is_listed_across_pages,
        each_reply_rings_a_delivery_of_its_own,
        webhook_is_verified_offline,
        only_public_agent_replies_are_listed,
        refused_credentials_are_permanent,
        missing_and_invalid_are_permanent,
        rate_limits_and_outages_are_retryable,
        update_adds_tags_to_the_tickets_own,
        priority_is_raised_never_lowered,
        routing_maps_logical_names_and_skips_unknown_ones,
        update_repeated_after_a_lost_answer_changes_nothing_more,
        history_lists_the_requesters_earlier_tickets,
        care_calls_are_retryable_on_limits_and_outages,
    )
}


async def run_check(declaration: Declaration, name: str, vendor_dir: Path | None = None) -> None:
    """Run one contract check on a fresh plugin and fake; fail if the fake saw a request off its spec."""
    kit = build_kit(declaration, vendor_dir=vendor_dir)
    declaration.prepare(kit.fake)
    async with kit.client:
        await CHECKS[name](kit)
    if kit.fake.violations:
        pytest.fail(f"requests off the vendor's spec: {kit.fake.violations}")


def installed_plugins() -> list[str]:
    """Every helpdesk plugin installed, for a suite parametrised over all of them."""
    return sorted(available())


class HelpdeskContract:
    """Subclass with `declaration = <your Declaration subclass>`: pytest runs every check on the plugin.

    The vendor specs are checked when the project's `vendor_dir` fixture exists and gives a folder.
    """

    declaration: ClassVar[type[Declaration]]

    @pytest.mark.parametrize("check", sorted(CHECKS))
    async def test_contract(self, check: str, request: pytest.FixtureRequest) -> None:
        try:
            vendor_dir: Path | None = request.getfixturevalue("vendor_dir")
        except pytest.FixtureLookupError:
            vendor_dir = None
        await run_check(self.declaration(), check, vendor_dir)
