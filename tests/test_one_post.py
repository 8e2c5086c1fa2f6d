"""One reply, one post: a lost answer from X, or a crash between sending and recording, never makes a
second post or DM. Each case ends with exactly one write on X and one "posted" note on the ticket."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sav_bridge.app import create_app
from sav_bridge.config import load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Fault, Sandbox
from tests.harness import CLAIRE, MARC, Clock, Gateway, gateway_env, pass_fault_time

pytestmark = pytest.mark.asyncio

POST = "/2/tweets"
DM = r"/2/dm_conversations/with/\d+/messages"
TIMELINE = r"/2/users/\d+/tweets"
DM_EVENTS = r"/2/dm_conversations/with/\d+/dm_events"
SENTENCE = "Nous avons bien reçu votre demande concernant l'opposition sur votre carte bancaire. "


class Killed(BaseException):
    """`kill -9`: nothing after this point runs in the process that was sending."""


class AfterX(httpx.AsyncBaseTransport):
    """Lets the sandbox apply the `nth` request matching `method path`, then loses its answer by raising
    `error` instead of returning it (a timeout, or `Killed` for a process killed mid-request)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, method: str, path: str, nth: int, error: BaseException
    ) -> None:
        self.inner, self.method, self.path, self.nth, self.error = inner, method, path, nth, error
        self.seen = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == self.method and re.fullmatch(self.path, request.url.path):
            self.seen += 1
            if self.seen == self.nth:
                raise self.error
        return response


async def open_gateway(
    database_url: str,
    vendor_dir: Path | None,
    sandbox: Sandbox | None = None,
    clock: Clock | None = None,
    wrap: tuple[str, str, int, BaseException] | None = None,
) -> Gateway:
    """A gateway process; given the `sandbox` and `clock` of an earlier one, a restart of it."""
    settings = load_settings(None, gateway_env(database_url))
    clock = clock or Clock()
    sandbox = sandbox or Sandbox(settings, vendor_dir, clock)
    pass_fault_time(sandbox, clock, settings)
    transport: httpx.AsyncBaseTransport = sandbox.transport()
    if wrap:
        transport = AfterX(transport, *wrap)
    runtime = await Runtime.start(settings, transport=transport, clock=clock)
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, runtime)), base_url="http://gw"
    )
    return Gateway(settings, runtime, sandbox, client, clock)


async def stop(gw: Gateway) -> None:
    await gw.client.aclose()
    await gw.runtime.close()


@pytest.fixture
async def gateways() -> AsyncIterator[list[Gateway]]:
    """Gateways a test opens, closed at the end; the X contract must hold in every one."""
    opened: list[Gateway] = []
    yield opened
    for gw in opened:
        await stop(gw)
    assert all(gw.sandbox.violations == [] for gw in opened), "requests broke X's OpenAPI contract"


async def public_ticket(gw: Gateway) -> tuple[str, int]:
    body = gw.x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée depuis ce matin")
    assert (await gw.post_x(body)).status_code == 200
    await gw.drain()
    return body["tweet_create_events"][0]["id_str"], gw.only_ticket()


async def dm_ticket(gw: Gateway) -> int:
    assert (
        await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, mon virement n'est pas arrivé"))
    ).status_code == 200
    await gw.drain()
    return gw.only_ticket()


async def agent_answers(gw: Gateway, ticket_id: int, text: str) -> None:
    agents = [u["id"] for u in gw.zendesk.users.values() if u["email"] == "amelie@mabanque.fr"]
    agent = agents[0] if agents else gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket_id, agent, text)
    await gw.ring(ticket_id)


def posted_notes(gw: Gateway, ticket_id: int) -> list[str]:
    notes = gw.zendesk.notes(ticket_id)
    assert not [n for n in notes if n.startswith("⚠️")], notes
    return [n for n in notes if n.startswith("✅")]


async def restart_after_kill(gw: Gateway, gateways: list[Gateway], vendor_dir: Path | None) -> Gateway:
    """The killed process is gone with its lease; a fresh one on the same database takes over."""
    [job] = await gw.runtime.store.job_rows("running")
    await stop(gateways.pop())
    fresh = await open_gateway(gw.settings.database_url, vendor_dir, gw.sandbox, gw.clock)
    gateways.append(fresh)
    gw.clock.advance(job["lease_until"] - gw.clock.now + 1)
    await fresh.settle()
    return fresh


# -- a lost answer -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lost", [{"timeout": True}, {"status": 503}], ids=["answer-after-timeout", "503-after-posting"]
)
async def test_reply_whose_answer_is_lost_is_read_back_not_posted_again(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway], lost: dict[str, Any]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, applied=True, **lost))
    await agent_answers(gw, ticket_id, "Merci de votre patience & à bientôt : https://mabanque.fr/aide")
    await gw.settle()
    [post] = gw.x.brand_posts
    assert post.in_reply_to == tweet_id and len(gw.x.calls("POST", POST)) == 1
    assert len(gw.x.calls("GET", TIMELINE)) == 1
    assert posted_notes(gw, ticket_id) == [f"✅ Posted on X:\nhttps://x.com/MaBanque/status/{post.id}"]


async def test_dm_whose_answer_is_lost_is_read_back_not_sent_again(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    ticket_id = await dm_ticket(gw)
    gw.x.faults.add(Fault("POST", DM, timeout=True, applied=True))
    await agent_answers(gw, ticket_id, "Nous regardons votre virement.")
    await gw.settle()
    assert [(d["to"], d["text"]) for d in gw.x.dms] == [(MARC.id, "Nous regardons votre virement. ^AJ")]
    assert len(gw.x.calls("GET", DM_EVENTS)) == 1
    assert len(posted_notes(gw, ticket_id)) == 1


async def test_each_part_of_a_thread_is_read_back_on_its_own(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    lost = httpx.ReadTimeout("X answered after the timeout")
    gw = await open_gateway(database_url, vendor_dir, wrap=("POST", POST, 2, lost))
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    await agent_answers(gw, ticket_id, (SENTENCE * 9).strip())
    await gw.settle()
    posts = gw.x.brand_posts
    assert [p.text[-8:] for p in posts] == [" 1/3 ^AJ", " 2/3 ^AJ", " 3/3 ^AJ"]
    assert [p.in_reply_to for p in posts] == [tweet_id, posts[0].id, posts[1].id]
    assert len(posted_notes(gw, ticket_id)) == 1


# -- a crash between sending and recording ---------------------------------------------------------


async def test_reply_sent_by_a_killed_process_is_not_posted_again_by_the_next(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir, wrap=("POST", POST, 1, Killed()))
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    await agent_answers(gw, ticket_id, "Merci de votre patience !")
    with pytest.raises(Killed):
        await gw.drain()
    assert len(gw.x.brand_posts) == 1
    fresh = await restart_after_kill(gw, gateways, vendor_dir)
    [post] = fresh.x.brand_posts
    assert post.in_reply_to == tweet_id and len(fresh.x.calls("POST", POST)) == 1
    assert len(posted_notes(fresh, ticket_id)) == 1
    assert set(await fresh.runtime.store.jobs_by_state()) == {"done"}


async def test_dm_sent_by_a_killed_process_is_not_sent_again_by_the_next(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir, wrap=("POST", DM, 1, Killed()))
    gateways.append(gw)
    ticket_id = await dm_ticket(gw)
    await agent_answers(gw, ticket_id, "Nous regardons votre virement.")
    with pytest.raises(Killed):
        await gw.drain()
    fresh = await restart_after_kill(gw, gateways, vendor_dir)
    assert [d["text"] for d in fresh.x.dms] == ["Nous regardons votre virement. ^AJ"]
    assert len(posted_notes(fresh, ticket_id)) == 1


async def test_thread_part_sent_by_a_killed_process_is_not_posted_again(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir, wrap=("POST", POST, 2, Killed()))
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    await agent_answers(gw, ticket_id, (SENTENCE * 9).strip())
    with pytest.raises(Killed):
        await gw.drain()
    assert len(gw.x.brand_posts) == 2
    fresh = await restart_after_kill(gw, gateways, vendor_dir)
    posts = fresh.x.brand_posts
    assert [p.text[-8:] for p in posts] == [" 1/3 ^AJ", " 2/3 ^AJ", " 3/3 ^AJ"]
    assert [p.in_reply_to for p in posts] == [tweet_id, posts[0].id, posts[1].id]
    assert len(fresh.x.calls("POST", POST)) == 3
    assert len(posted_notes(fresh, ticket_id)) == 1


# -- X's duplicate check, and a failure that really did not post -----------------------------------


async def test_duplicate_refusal_of_our_own_lost_post_counts_as_posted(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    _, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    # X's timeline lags: the first read back does not show the post yet, so it is sent again.
    gw.x.faults.add(Fault("GET", TIMELINE, status=200, body='{"meta": {"result_count": 0}}'))
    await agent_answers(gw, ticket_id, "Merci de votre patience !")
    await gw.settle()
    [post] = gw.x.brand_posts
    assert len(gw.x.calls("POST", POST)) == 2  # the second was refused as a duplicate
    assert posted_notes(gw, ticket_id) == [f"✅ Posted on X:\nhttps://x.com/MaBanque/status/{post.id}"]
    assert (await gw.runtime.store.job_rows("dead")) == []


async def test_duplicate_of_another_conversations_post_goes_back_to_the_agent_unaltered(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    _, first = await public_ticket(gw)
    await agent_answers(gw, first, "Merci de votre patience !")
    await gw.drain()
    await gw.post_x(gw.x.customer_post(MARC, "@MaBanque et moi ?"))
    await gw.drain()
    second = max(gw.zendesk.tickets)
    await agent_answers(gw, second, "Merci de votre patience !")
    await gw.settle()
    assert [p.text for p in gw.x.brand_posts] == ["Merci de votre patience ! ^AJ"]
    [note] = gw.zendesk.notes(second)
    assert note.startswith("⚠️ Not posted on X") and "duplicate" in note and "reword it" in note


async def test_post_that_really_failed_is_sent_again_exactly_once(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, status=503))  # refused before anything was posted
    await agent_answers(gw, ticket_id, "Nous regardons.")
    await gw.settle()
    assert [(p.text, p.in_reply_to) for p in gw.x.brand_posts] == [("Nous regardons. ^AJ", tweet_id)]
    assert len(gw.x.calls("POST", POST)) == 2 and len(gw.x.calls("GET", TIMELINE)) == 1
    assert len(posted_notes(gw, ticket_id)) == 1


async def test_post_that_never_left_is_sent_again_without_paying_for_a_read(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    tweet_id, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, connect_error=True, times=3))  # more than the inline retries
    await agent_answers(gw, ticket_id, "Nous regardons.")
    await gw.settle()
    assert [(p.text, p.in_reply_to) for p in gw.x.brand_posts] == [("Nous regardons. ^AJ", tweet_id)]
    assert gw.x.calls("GET", TIMELINE) == []
    assert len(posted_notes(gw, ticket_id)) == 1


async def test_read_back_waits_until_x_can_show_the_post(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    _, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    await agent_answers(gw, ticket_id, "Nous regardons.")
    await gw.drain()
    lost_at = gw.clock.now  # the request gave up after x.timeout_seconds
    gw.clock.advance(3)  # the outbox's first retry comes within seconds
    await gw.drain()
    assert len(gw.x.calls("POST", POST)) == 1 and gw.x.calls("GET", TIMELINE) == []
    [job] = await gw.runtime.store.job_rows("pending")
    assert job["next_attempt_at"] >= lost_at + 10  # counted from the lost answer, not the send
    await gw.settle()
    assert len(gw.x.brand_posts) == 1 and len(posted_notes(gw, ticket_id)) == 1


async def test_reply_that_cannot_be_confirmed_tells_the_agent_it_may_be_on_x(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    _, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    gw.x.faults.add(Fault("GET", TIMELINE, status=403, body='{"title": "Forbidden"}'))  # no tweet.read scope
    await agent_answers(gw, ticket_id, "Nous regardons.")
    await gw.settle()
    assert len(gw.x.calls("POST", POST)) == 1
    [note] = gw.zendesk.notes(ticket_id)
    assert note.startswith("⚠️ Not confirmed on X") and "may have reached the customer" in note


# -- X answers late and shows its writes later still ------------------------------------------------


async def run_for(gw: Gateway, seconds: int) -> None:
    """A worker that looks for due jobs every second of the test's clock, for `seconds`."""
    for _ in range(seconds):
        await gw.drain()
        gw.clock.advance(1)
    await gw.settle()


@pytest.mark.parametrize("audience", ["reply", "dm"])
async def test_a_write_x_answers_after_the_timeout_and_shows_late_is_made_once(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway], audience: str
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    gw.x.read_lag = 15  # readers see a write 15 s after X made it
    if audience == "reply":
        _, ticket_id = await public_ticket(gw)
        path, reads = POST, TIMELINE
    else:
        ticket_id = await dm_ticket(gw)
        path, reads = DM, DM_EVENTS
    # X makes the write, but answers after 11 s: our request gave up at 10 s.
    gw.x.faults.add(Fault("POST", path, timeout=True, applied=True, elapsed=11))
    await agent_answers(gw, ticket_id, "Nous regardons votre demande.")
    await run_for(gw, 120)
    assert len(gw.x.brand_posts if audience == "reply" else gw.x.dms) == 1
    assert len(gw.x.calls("POST", path)) == 1 and len(gw.x.calls("GET", reads)) == 1
    assert len(posted_notes(gw, ticket_id)) == 1


async def test_duplicate_refusal_while_x_still_hides_our_lost_post_is_read_again_not_reworded(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    gw.x.read_lag = 25  # longer than the wait before the first read-back
    _, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    await agent_answers(gw, ticket_id, "Merci de votre patience !")
    await run_for(gw, 120)
    [post] = gw.x.brand_posts
    assert len(gw.x.calls("POST", POST)) == 2  # the resend was refused as a duplicate
    assert posted_notes(gw, ticket_id) == [f"✅ Posted on X:\nhttps://x.com/MaBanque/status/{post.id}"]


async def test_duplicate_refusal_x_never_explains_tells_the_agent_the_reply_may_be_on_x(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    gw = await open_gateway(database_url, vendor_dir)
    gateways.append(gw)
    gw.x.read_lag = 86_400  # X does not show the post all day
    _, ticket_id = await public_ticket(gw)
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    await agent_answers(gw, ticket_id, "Merci de votre patience !")
    await run_for(gw, 300)
    assert len(gw.x.brand_posts) == 1 and len(gw.x.calls("POST", POST)) == 2
    # one read after the lost answer, one after the refusal, then three spaced out: bounded
    assert len(gw.x.calls("GET", TIMELINE)) == 5
    [note] = gw.zendesk.notes(ticket_id)
    assert note.startswith("⚠️ Not confirmed on X") and "may have reached the customer" in note
    assert "reword" not in note
