"""A gateway that a property test drives synchronously: hypothesis calls tests as plain functions.

One gateway (and one database) serves a whole module of examples, on an event loop of its own; after
each request the outbox is drained and every job must have succeeded against the sandboxes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from tests.conftest import postgres_schema_url
from tests.harness import CLAIRE, CONSUMER_SECRET, MARC, Gateway, start_gateway

#: What a refusal of an odd body may be; anything else (a 500 above all) is a bug.
CLEAR_ANSWERS = frozenset({200, 400, 401, 413, 415})


class Live:
    def __init__(self, database_url: str, vendor_dir: Path | None, **env: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.gw: Gateway = self.loop.run_until_complete(start_gateway(database_url, vendor_dir, **env))
        x = self.gw.x
        first = x.customer_post(CLAIRE, "@MaBanque ma carte est bloquée")
        first_id = first["tweet_create_events"][0]["id_str"]
        #: Real envelopes of every kind the gateway turns into tickets, to mutate.
        self.templates: list[Any] = [
            first,
            x.customer_post(MARC, "@MaBanque un très long message " + "bla " * 40),
            x.customer_post(CLAIRE, "@MaBanque toujours rien", in_reply_to=first_id),
            x.customer_post(MARC, "@MaBanque bonjour", envelope="xaa"),
            x.customer_post(CLAIRE, "@MaBanque allô ?", in_reply_to=first_id, envelope="xaa"),
            x.customer_dm(CLAIRE, "Mon numéro client est 123"),
            x.customer_dm(MARC, "Bonjour", envelope="xaa"),
        ]

    def post_x(self, body: bytes, content_type: str | None = "application/json") -> int:
        """Sign `body` as X does, post it, drain the outbox; the status, once every check passed."""
        headers = {SIGNATURE_HEADER: sign(CONSUMER_SECRET, body)}
        if content_type is not None:
            headers["content-type"] = content_type
        return self.post("/webhooks/x", body, headers)

    def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> int:
        return self.loop.run_until_complete(self._post(path, body, headers))

    async def _post(self, path: str, body: bytes, headers: Mapping[str, str]) -> int:
        response = await self.gw.client.post(path, content=body, headers=dict(headers))
        assert response.status_code in CLEAR_ANSWERS, (response.status_code, response.text, body[:300])
        assert response.status_code == 200 or "error" in response.json()
        await self.gw.drain()
        states = await self.gw.runtime.store.jobs_by_state()
        stuck = {state: n for state, n in states.items() if state != "done"}
        assert not stuck, (stuck, await self.gw.runtime.store.job_rows("dead"), body[:300])
        assert self.gw.sandbox.violations == []
        return response.status_code

    def close(self) -> None:
        self.loop.run_until_complete(self.gw.client.aclose())
        self.loop.run_until_complete(self.gw.runtime.close())
        self.loop.close()


def live_gateway(
    database: str, tmp_path_factory: pytest.TempPathFactory, vendor_dir: Path | None, **env: str
) -> Iterator[Live]:
    """The body of a module-scoped fixture: a `Live` gateway on SQLite or on a PostgreSQL schema."""
    urls: Iterator[str] = (
        iter([f"sqlite:///{tmp_path_factory.mktemp('live') / 'sav-bridge.db'}"])
        if database == "sqlite"
        else postgres_schema_url()
    )
    for url in urls:
        live = Live(url, vendor_dir, **env)
        yield live
        live.close()
