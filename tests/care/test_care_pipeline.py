"""Routing sees what care knows of the customer: a returning customer, an unhappy one, an influencer."""

from __future__ import annotations

from pathlib import Path

import yaml

from sav_bridge.care.pipeline import JOB_CARE_UPDATE, Care
from sav_bridge.care.settings import CareSettings
from sav_bridge.metrics import Metrics
from sav_bridge.model import MessageKind, SocialMessage, SocialUser, TicketRef
from sav_bridge.store import open_store

CARE = """
routing:
  - name: fidèles
    when: {customer_tags: [returning]}
    then: {group: loyal, tags: [deja_client]}
    continue: true
  - name: influenceurs
    when: {customer_tags: [influencer]}
    then: {group: press, priority: high}
"""


class Helpdesk:
    name = "desk"

    async def update_ticket(self, *args: object, **kwargs: object) -> None:
        return None


def message(number: int, thread: str, followers: int | None = None) -> SocialMessage:
    return SocialMessage(
        channel="x", account_id="1", id=str(number), kind=MessageKind.MENTION,
        author=SocialUser("7", "claire", "Claire", followers), text="@MaBanque bonjour",
        created_at=f"2026-11-2{number}T10:00:00Z", thread_key=thread, mentions_brand=True,
    )  # fmt: skip


async def test_routing_knows_a_returning_customer_and_an_influencer(tmp_path: Path) -> None:
    settings = CareSettings.from_raw(yaml.safe_load(CARE))
    assert settings is not None
    store = await open_store(f"sqlite:///{tmp_path / 'care.db'}")
    care = Care(settings, store, Helpdesk(), Metrics(), lambda text: (), lambda: 0.0)  # type: ignore[arg-type]
    try:
        first = await care.after_delivery(message(1, "t1"), TicketRef("desk", "1"), opened=True)
        assert not [j for j in first if j.kind == JOB_CARE_UPDATE and j.payload["update"]["group"]]
        again = await care.after_delivery(
            message(2, "t2", followers=50_000), TicketRef("desk", "2"), opened=True
        )
        [update] = [j.payload["update"] for j in again if j.kind == JOB_CARE_UPDATE]
        assert update["group"] == "loyal" and "deja_client" in update["tags"]  # the first rule's group stays
        assert update["priority"] == "high" and "sav_influencer" in update["tags"]
    finally:
        await store.close()
