"""`make demo`: the gateway on SQLite and the built-in sandboxes, playing a short customer-care story.

It runs the real thing: uvicorn on a loopback port, the outbox workers, signed webhooks from the fake
X and Zendesk. Each step prints what reached the helpdesk and what went out on X.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from sav_bridge.app import create_app
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import Settings, load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Customer, Sandbox

ACCOUNT = "1500000000000000001"
SECRET = "demo-consumer-secret"
CLAIRE = Customer("2100000000000000001", "claire_dupont", "Claire Dupont")
MARC = Customer("2100000000000000002", "marc_lefevre", "Marc Lefèvre")
LONG_REPLY = (
    "Bonjour Claire, voici ce que nous avons fait : votre carte a été bloquée par sécurité après trois "
    "saisies de code erronées. Nous avons levé le blocage à l'instant, vous pouvez de nouveau payer. "
    "Si le terminal refuse encore votre carte, retirez-la puis réinsérez-la : la puce se met à jour au "
    "premier paiement avec code. Pour toute autre question, nous restons disponibles ici ou en DM, "
    "tous les jours de 8 h à 20 h. Merci de votre patience et de votre fidélité !"
)


def demo_settings(workdir: Path) -> Settings:
    return load_settings(
        None,
        {
            "SAV_BRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'sav-bridge.db'}",
            "SAV_BRIDGE_SANDBOX": "true",
            "SAV_BRIDGE_X__CONSUMER_SECRET": SECRET,
            "SAV_BRIDGE_X__ACCOUNT_ID": ACCOUNT,
            "SAV_BRIDGE_X__SCREEN_NAME": "MaBanque",
            "SAV_BRIDGE_X__CONSUMER_KEY": "demo-consumer-key",
            "SAV_BRIDGE_X__ACCESS_TOKEN": "demo-access-token",
            "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "demo-access-token-secret",
            "SAV_BRIDGE_ZENDESK__URL": "https://mabanque.zendesk.com",
            "SAV_BRIDGE_ZENDESK__EMAIL": "sav-bridge@mabanque.fr",
            "SAV_BRIDGE_ZENDESK__API_TOKEN": "demo-api-token",
            "SAV_BRIDGE_ZENDESK__WEBHOOK_SECRET": "demo-webhook-secret",
            "SAV_BRIDGE_WORKERS__POLL_SECONDS": "0.2",
            "SAV_BRIDGE_LOG_LEVEL": "WARNING",
        },
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Story:
    def __init__(self, runtime: Runtime, sandbox: Sandbox, client: httpx.AsyncClient) -> None:
        self.runtime = runtime
        self.sandbox = sandbox
        self.client = client
        self.step = 0
        # The story's own fake, until the story moves to its plugin.
        from sav_bridge_zendesk.sandbox import FakeZendesk

        zendesk = sandbox.helpdesk
        if not isinstance(zendesk, FakeZendesk):
            raise TypeError("the demo plays on the Zendesk sandbox")
        self.zendesk = zendesk

    def say(self, title: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {title}")

    def show(self, line: str) -> None:
        print(f"   {line}")

    async def idle(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = await self.runtime.store.jobs_by_state()
            if not states.get("pending") and not states.get("running"):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the outbox did not drain in time")

    async def from_x(self, body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        response = await self.client.post(
            "/webhooks/x", content=raw, headers={SIGNATURE_HEADER: sign(SECRET, raw)}
        )
        self.show(f"→ POST /webhooks/x (signed)  ← {response.status_code} {response.text}")
        await self.idle()
        answer: dict[str, Any] = response.json()
        return answer

    async def agent_answers(self, ticket_id: int, agent: int, text: str) -> None:
        self.zendesk.agent_comment(ticket_id, agent, text)
        self.show(f"agent {self.zendesk.users[agent]['name']} writes a public reply in ticket #{ticket_id}")
        headers, body = self.zendesk.doorbell(ticket_id)
        response = await self.client.post("/webhooks/zendesk", content=body, headers=headers)
        self.show(f"→ Zendesk trigger rings POST /webhooks/zendesk  ← {response.status_code}")
        await self.idle()

    def ticket_line(self, ticket_id: int) -> str:
        ticket = self.zendesk.tickets[ticket_id]
        requester = self.zendesk.users[ticket["requester_id"]]
        return (f"Zendesk ticket #{ticket_id} [{ticket['status']}] «{ticket['subject']}» requester "
                f"{requester['name']} ({requester['external_id']}), tags {', '.join(ticket['tags'])}")  # fmt: skip

    def notes(self, ticket_id: int, since: int) -> None:
        for note in self.zendesk.notes(ticket_id)[since:]:
            self.show("internal note: " + note.replace("\n", " | "))


async def play(story: Story) -> None:
    x, zd = story.sandbox.x, story.zendesk
    amelie = zd.add_agent("Amélie Jourdain", "amelie.jourdain@mabanque.fr")
    jp = zd.add_agent("Jean-Pierre Martin", "jp.martin@mabanque.fr")

    story.say("X checks the webhook (CRC)")
    crc = await story.client.get("/webhooks/x", params={"crc_token": "demo-challenge"})
    story.show(f"← {crc.status_code} {crc.text}")

    story.say("@claire_dupont mentions @MaBanque")
    mention = x.customer_post(
        CLAIRE, "@MaBanque Bonjour, ma carte est bloquée depuis ce matin, je ne peux plus payer 😡"
    )
    await story.from_x(mention)
    claire_ticket = max(zd.tickets)
    story.show(story.ticket_line(claire_ticket))

    story.say("The same delivery arrives twice (X retries)")
    answer = await story.from_x(mention)
    story.show(f"duplicate absorbed: {answer['duplicates']} duplicate, still {len(zd.tickets)} ticket")

    story.say("@marc_lefevre sends a DM (X Activity API envelope)")
    await story.from_x(x.customer_dm(MARC, "Bonjour, mon virement de 250 € n'est pas arrivé", envelope="xaa"))
    marc_ticket = max(zd.tickets)
    story.show(story.ticket_line(marc_ticket))

    story.say("Claire follows up in the same thread")
    tweet_id = mention["tweet_create_events"][0]["id_str"]
    await story.from_x(
        x.customer_post(CLAIRE, "@MaBanque Toujours bloquée… vous êtes là ?", in_reply_to=tweet_id)
    )
    comments = zd.public_comments(claire_ticket)
    story.show(f"comment added to #{claire_ticket} as Claire: «{comments[-1]['body'].splitlines()[0]}»")

    story.say("Amélie answers Claire in Zendesk")
    await story.agent_answers(
        claire_ticket, amelie, "Bonjour Claire, désolés pour ce désagrément, nous regardons tout de suite."
    )
    for post in x.brand_posts:
        story.show(f"reply posted on X (in reply to {post.in_reply_to}): «{post.text}»")
    story.notes(claire_ticket, 0)

    story.say("Jean-Pierre answers Marc: the conversation is a DM, so the answer is a DM")
    await story.agent_answers(
        marc_ticket, jp, "Bonjour Marc, votre virement est en cours, il arrivera demain matin."
    )
    for dm in x.dms:
        story.show(f"DM sent on X to {dm['to']}: «{dm['text']}»")
    story.notes(marc_ticket, 0)

    story.say("Amélie sends a reply too long for one post: a numbered thread, never cut")
    before, notes_before = len(x.brand_posts), len(zd.notes(claire_ticket))
    await story.agent_answers(claire_ticket, amelie, LONG_REPLY)
    for post in x.brand_posts[before:]:
        story.show(f"posted: «{post.text}»")
    story.notes(claire_ticket, notes_before)

    story.say("Amélie pastes a card number: the posting policy blocks it, and tells her why in the ticket")
    before, notes_before = len(x.brand_posts), len(zd.notes(claire_ticket))
    await story.agent_answers(
        claire_ticket, amelie, "C'est bien la carte 4970 1012 3456 7893 qui est réactivée, bonne journée !"
    )
    story.show(f"posts on X since: {len(x.brand_posts) - before}")
    story.notes(claire_ticket, notes_before)

    story.say("Jean-Pierre gives Marc a phone number: fine in a DM, and a disguised insult is caught too")
    dms_before, notes_before = len(x.dms), len(zd.notes(marc_ticket))
    await story.agent_answers(marc_ticket, jp, "Appelez notre service virements au 01 23 45 67 89.")
    await story.agent_answers(marc_ticket, jp, "Quelle m3rde ce retard, désolé.")
    for dm in x.dms[dms_before:]:
        story.show(f"DM sent on X to {dm['to']}: «{dm['text']}»")
    story.notes(marc_ticket, notes_before)

    story.say("Our own posts come back from X as events: dropped (echo suppression)")
    answer = await story.from_x(x.echo_of(x.brand_posts[-1].id))
    story.show(f"dropped: {answer['dropped']}")

    story.say("Summary")
    states = await story.runtime.store.jobs_by_state()
    story.show(
        f"tickets: {len(zd.tickets)}, posts on X: {len(x.brand_posts)}, DMs: {len(x.dms)}, jobs: {states}"
    )
    violations = story.sandbox.violations
    checked = (
        "checked against the vendors' OpenAPI specs" if story.sandbox.checks_contracts else "specs not found"
    )
    story.show(f"requests to X and Zendesk {checked}: {len(violations)} violation(s)")
    if violations or states.get("dead"):
        raise SystemExit("demo failed: see above")


async def run_demo(vendor_dir: Path | None) -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sav-bridge-demo-") as tmp:
        settings = demo_settings(Path(tmp))
        sandbox = Sandbox(settings, vendor_dir)
        runtime = await Runtime.start(settings, transport=sandbox.transport())
        runtime.start_workers()
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, runtime), "127.0.0.1", port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        print(f"sav-bridge demo: gateway on http://127.0.0.1:{port}, SQLite at {settings.database_url}, "
              "sandboxes for X (@MaBanque) and Zendesk")  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await play(Story(runtime, sandbox, client))
        finally:
            server.should_exit = True
            await serving
            await runtime.close()
    print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo(None)))
