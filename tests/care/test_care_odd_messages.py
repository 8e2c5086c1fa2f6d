"""Whatever a customer writes (or X says about them), care decides without failing, and what it asks for
can succeed: an acknowledgement that fits a DM, a priority the helpdesk knows, tags a helpdesk takes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sav_bridge.care.pipeline import JOB_CARE_ACK, JOB_CARE_UPDATE, Care
from sav_bridge.care.settings import CareSettings
from sav_bridge.channels.x import fields
from sav_bridge.channels.x.text import DM_MAX_LENGTH
from sav_bridge.metrics import Metrics
from sav_bridge.model import PRIORITY_LEVELS, MessageKind, SocialMessage, SocialUser, TicketRef
from sav_bridge.store import open_store
from tests.strategies import FUZZ, TRICKY_STRINGS

EXAMPLE = Path(__file__).parents[2] / "deploy" / "care.example.yaml"
SETTINGS = CareSettings.from_raw(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["care"])


class Helpdesk:
    """Just what care asks of a plugin: a name and the optional update method."""

    name = "desk"

    async def update_ticket(self, *args: object, **kwargs: object) -> None:
        return None


def no_personal_data(text: str) -> Sequence[str]:
    return ()


# Texts and names as the X parser hands them on (NUL and lone surrogates removed: `fields.text`).
texts = (st.text(max_size=400) | st.sampled_from(TRICKY_STRINGS) | st.just("INADMISSIBLE !!! " * 30)).map(
    fields.text
)
names = (st.none() | st.text(max_size=60) | st.sampled_from(TRICKY_STRINGS)).map(fields.optional_text)
times = st.sampled_from(["2026-11-27T21:30:00Z", "2026-11-25T09:00:00+00:00", "not a date", "", "2026-13-45"])


@settings(FUZZ, max_examples=60)
@given(
    text=texts,
    name=names,
    followers=st.none() | st.integers(min_value=0, max_value=10**11),
    kind=st.sampled_from(list(MessageKind)),
    created_at=times,
)
def test_care_decides_on_any_message(
    text: str, name: str | None, followers: int | None, kind: MessageKind, created_at: str
) -> None:
    asyncio.run(_decide(text, name, followers, kind, created_at))


async def _decide(
    text: str, name: str | None, followers: int | None, kind: MessageKind, created_at: str
) -> None:
    assert SETTINGS is not None
    folder = tempfile.TemporaryDirectory()
    store = await open_store(f"sqlite:///{folder.name}/care.db")
    try:
        care = Care(SETTINGS, store, Helpdesk(), Metrics(), no_personal_data, lambda: 1_764_000_000.0)  # type: ignore[arg-type]
        message = SocialMessage(
            channel="x",
            account_id="1",
            id="42",
            kind=kind,
            author=SocialUser("7", "someone", name, followers),
            text=text,
            created_at=created_at,
            thread_key="x:thread:42",
            mentions_brand=kind is not MessageKind.DM,
        )
        jobs = await care.after_delivery(message, TicketRef("desk", "1"), opened=True)
        again = await care.after_delivery(message, TicketRef("desk", "1"), opened=True)
        assert [j.idempotency_key for j in again] == [
            j.idempotency_key for j in jobs
        ]  # a retry decides the same
        for job in jobs:
            if job.kind == JOB_CARE_ACK:
                assert 0 < len(job.payload["text"] + SETTINGS.signature) <= DM_MAX_LENGTH
            if job.kind == JOB_CARE_UPDATE:
                update = job.payload["update"]
                assert update["priority"] in (None, *PRIORITY_LEVELS)
                assert all(tag and " " not in tag for tag in update["tags"])
    finally:
        await store.close()
        folder.cleanup()
