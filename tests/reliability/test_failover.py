"""Exactly once on X across a database failover (issue 11, item 3).

Replica A posts an agent's reply; X applies it; then the database goes away (a failover) before A can
record the result or even give the job back. When the database is back, A is gone and replica B takes the
job over after its lease: it finds the intent A recorded before sending, reads X back, finds the post and
records it. X holds one post and the ticket one "posted" note."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.harness import Gateway
from tests.reliability.test_edge_store_down import gateway_on
from tests.test_one_post import POST, agent_answers, gateways, open_gateway, posted_notes, public_ticket

pytestmark = pytest.mark.asyncio
__all__ = ["gateways"]  # the fixture, imported for this module's tests


async def test_a_post_whose_result_was_lost_in_a_failover_is_read_back_not_posted_again(
    database_url: str, vendor_dir: Path | None, gateways: list[Gateway]
) -> None:
    replica_a, database = await gateway_on(database_url, vendor_dir)
    tweet_id, ticket_id = await public_ticket(replica_a)

    respond = replica_a.x.respond

    def then_failover(request: httpx.Request) -> Any:
        answer = respond(request)
        if request.method == "POST" and request.url.path == POST:
            database.down = True  # X has the post; the database is gone before A hears back
        return answer

    replica_a.x.respond = then_failover  # type: ignore[method-assign]
    await agent_answers(replica_a, ticket_id, "Votre carte est débloquée, merci de votre patience.")
    with pytest.raises(Exception):  # noqa: B017 - A cannot finish, reschedule or bury: the store is gone
        await replica_a.drain()
    assert len(replica_a.x.brand_posts) == 1
    await replica_a.client.aclose()  # A does not come back (its host went with the old primary)

    database.down = False  # the failover is over: a new primary, the same data
    replica_b = await open_gateway(database_url, vendor_dir, replica_a.sandbox, replica_a.clock)
    gateways.append(replica_b)
    [job] = await replica_b.runtime.store.job_rows("running")
    replica_b.clock.advance(job["lease_until"] - replica_b.clock.now + 1)
    await replica_b.settle()

    [post] = replica_b.x.brand_posts
    assert post.in_reply_to == tweet_id and len(replica_b.x.calls("POST", POST)) == 1
    assert len(posted_notes(replica_b, ticket_id)) == 1
    assert set(await replica_b.runtime.store.jobs_by_state()) == {"done"}
    database.down = False
    await replica_a.runtime.close()
