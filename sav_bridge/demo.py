"""`make demo`: the gateway on SQLite and the built-in sandboxes, playing a short customer-care story.

It runs the real thing: uvicorn on a loopback port, the outbox workers, signed webhooks from the fake
X and the helpdesk's. Each step prints what reached the helpdesk and what went out on X. The helpdesk's
side of the story (its account, its agents' replies, how a ticket reads) is its plugin's `DemoStage`,
registered in the entry-point group `sav_bridge.demos`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

import httpx
import uvicorn

from sav_bridge.app import create_app
from sav_bridge.channels.x.signing import SIGNATURE_HEADER, sign
from sav_bridge.config import Settings, load_settings
from sav_bridge.console.sandbox import mint
from sav_bridge.errors import ConfigError, SavBridgeError, UnknownHelpdesk
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Customer, Sandbox
from sav_bridge.sandbox.base import FakeVendor

DEMO_GROUP = "sav_bridge.demos"

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

CARD_REPLY = "C'est bien la carte 4970 1012 3456 7893 qui est réactivée, bonne journée !"


class DemoStage(Protocol):
    """A helpdesk plugin's side of the demo, around its sandbox fake."""

    #: The helpdesk's name as the story prints it ("Acme Desk").
    vendor: ClassVar[str]
    #: The plugin's configuration section for the demo, as `SAV_BRIDGE_<PLUGIN>__<KEY>` variables.
    environment: ClassVar[Mapping[str, str]]

    def __init__(self, fake: FakeVendor) -> None: ...

    def add_agent(self, name: str, email: str) -> str: ...

    def ticket_ids(self) -> list[str]:
        """Every ticket, oldest first."""
        ...

    def ticket_line(self, ticket_id: str) -> str:
        """One line saying the ticket's number, state, subject, requester and tags."""
        ...

    def last_customer_message(self, ticket_id: str) -> str: ...

    def notes(self, ticket_id: str) -> list[str]:
        """The ticket's internal notes, oldest first."""
        ...

    def agent_replies(self, ticket_id: str, agent: str, text: str) -> tuple[dict[str, str], bytes]:
        """`agent` answers the customer publicly; the webhook request the helpdesk then sends the gateway
        (its query string, for a vendor that puts its token there, in an optional `webhook_query`)."""
        ...


def demo_stage(helpdesk: str | None) -> tuple[str, type[DemoStage]]:
    """The plugin named `helpdesk` (default: the only one with a demo) and its stage."""
    found = {point.name: point for point in entry_points(group=DEMO_GROUP)}
    if helpdesk is None and len(found) > 1:
        names = ", ".join(sorted(found))
        raise SavBridgeError(f"demo: several plugins have a demo ({names}); name one with --helpdesk")
    name = helpdesk or (next(iter(found)) if len(found) == 1 else "")
    if name not in found:
        raise UnknownHelpdesk(name, list(found))
    stage: type[DemoStage] = found[name].load()
    return name, stage


def demo_care(workdir: Path) -> Path:
    """The demo's `care` section: the example's habits, and an announced closure from now until 9:00 the
    day after tomorrow (Paris), so the acknowledgement says when the team is back whatever the hour."""
    now = datetime.now(ZoneInfo("Europe/Paris"))
    back = (now + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    path = workdir / "care.yaml"
    path.write_text(
        DEMO_CARE.format(start=now.strftime("%Y-%m-%dT%H:%M"), end=back.strftime("%Y-%m-%dT%H:%M")),
        encoding="utf-8",
    )
    return path


def demo_settings(workdir: Path, helpdesk: str, stage: type[DemoStage]) -> Settings:
    return load_settings(
        demo_care(workdir),
        {
            "SAV_BRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'sav-bridge.db'}",
            "SAV_BRIDGE_SANDBOX": "true",
            "SAV_BRIDGE_X__CONSUMER_SECRET": SECRET,
            "SAV_BRIDGE_X__ACCOUNT_ID": ACCOUNT,
            "SAV_BRIDGE_X__SCREEN_NAME": "MaBanque",
            "SAV_BRIDGE_X__CONSUMER_KEY": "demo-consumer-key",
            "SAV_BRIDGE_X__ACCESS_TOKEN": "demo-access-token",
            "SAV_BRIDGE_X__ACCESS_TOKEN_SECRET": "demo-access-token-secret",
            "SAV_BRIDGE_HELPDESK": helpdesk,
            **stage.environment,
            "SAV_BRIDGE_WORKERS__POLL_SECONDS": "0.2",
            "SAV_BRIDGE_LOG_LEVEL": "WARNING",
        },
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEMO_CARE = """
care:
  team: {{fr: "L'équipe MaBanque", en: "The MaBanque team"}}
  signature: " ^SAV"
  hours:
    timezone: Europe/Paris
    weekly: {{mon: ["09:00-18:00"], tue: ["09:00-18:00"], wed: ["09:00-18:00"], thu: ["09:00-18:00"],
             fri: ["09:00-18:00"], sat: ["09:00-12:00"], sun: []}}
    holidays: {{country: FR}}
    closures: [{{from: "{start}", to: "{end}", reason: "séminaire d'équipe"}}]
  routing:
    - name: cartes
      when: {{patterns: ['(?i)carte\\s+(?:\\w+\\s+){{0,2}}(?:bloqu|perdu|vol[ée])']}}
      then: {{tags: [cartes], priority: high}}
"""


class Story:
    def __init__(
        self, runtime: Runtime, sandbox: Sandbox, client: httpx.AsyncClient, stage: DemoStage
    ) -> None:
        self.runtime = runtime
        self.sandbox = sandbox
        self.client = client
        self.step = 0
        self.helpdesk = stage
        self.agents: dict[str, str] = {}

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

    def add_agent(self, name: str, email: str) -> str:
        agent = self.helpdesk.add_agent(name, email)
        self.agents[agent] = name
        return agent

    async def agent_answers(self, ticket_id: str, agent: str, text: str) -> None:
        headers, body = self.helpdesk.agent_replies(ticket_id, agent, text)
        self.show(f"agent {self.agents[agent]} writes a public reply in ticket #{ticket_id}")
        path = f"/webhooks/{self.runtime.settings.helpdesk}"
        # A vendor that authenticates in the URL (a token in the query string): the stage's optional
        # `webhook_query`, never printed.
        query = dict(getattr(self.helpdesk, "webhook_query", {}))
        response = await self.client.post(path, content=body, headers=headers, params=query)
        self.show(f"→ {self.helpdesk.vendor} rings POST {path}  ← {response.status_code}")
        await self.idle()

    def ticket_line(self, ticket_id: str) -> str:
        return self.helpdesk.ticket_line(ticket_id)

    def notes(self, ticket_id: str, since: int) -> None:
        for note in self.helpdesk.notes(ticket_id)[since:]:
            self.show("internal note: " + note.replace("\n", " | "))


async def play(story: Story) -> None:
    x, hd = story.sandbox.x, story.helpdesk
    amelie = story.add_agent("Amélie Jourdain", "amelie.jourdain@mabanque.fr")
    jp = story.add_agent("Jean-Pierre Martin", "jp.martin@mabanque.fr")

    story.say("X checks the webhook (CRC)")
    crc = await story.client.get("/webhooks/x", params={"crc_token": "demo-challenge"})
    story.show(f"← {crc.status_code} {crc.text}")

    story.say("@claire_dupont mentions @MaBanque")
    mention = x.customer_post(
        CLAIRE, "@MaBanque Bonjour, ma carte est bloquée depuis ce matin, je ne peux plus payer 😡"
    )
    await story.from_x(mention)
    claire_ticket = hd.ticket_ids()[-1]
    story.show(story.ticket_line(claire_ticket))
    for dm in x.dms:
        story.show(f"acknowledged at once, by DM (the team is away): «{dm['text']}»")
    story.notes(claire_ticket, 0)

    story.say("The same delivery arrives twice (X retries)")
    answer = await story.from_x(mention)
    story.show(f"duplicate absorbed: {answer['duplicates']} duplicate, still {len(hd.ticket_ids())} ticket")

    story.say("@marc_lefevre sends a DM (X Activity API envelope)")
    await story.from_x(x.customer_dm(MARC, "Bonjour, mon virement de 250 € n'est pas arrivé", envelope="xaa"))
    marc_ticket = hd.ticket_ids()[-1]
    story.show(story.ticket_line(marc_ticket))

    story.say("Claire follows up in the same thread, angrier: care raises her ticket and says why")
    tweet_id = mention["tweet_create_events"][0]["id_str"]
    notes_before = len(hd.notes(claire_ticket))
    await story.from_x(
        x.customer_post(
            CLAIRE,
            "@MaBanque TOUJOURS BLOQUÉE ! C'EST INADMISSIBLE, JE VAIS PORTER PLAINTE !!!",
            in_reply_to=tweet_id,
        )
    )
    comment = hd.last_customer_message(claire_ticket)
    story.show(f"comment added to #{claire_ticket} as Claire: «{comment.splitlines()[0]}»")
    story.show(story.ticket_line(claire_ticket))
    story.notes(claire_ticket, notes_before)

    story.say(f"Amélie answers Claire in {hd.vendor}")
    notes_before = len(hd.notes(claire_ticket))
    await story.agent_answers(
        claire_ticket, amelie, "Bonjour Claire, désolés pour ce désagrément, nous regardons tout de suite."
    )
    for post in x.brand_posts:
        story.show(f"reply posted on X (in reply to {post.in_reply_to}): «{post.text}»")
    story.notes(claire_ticket, notes_before)

    story.say("Jean-Pierre answers Marc: the conversation is a DM, so the answer is a DM")
    dms_before, notes_before = len(x.dms), len(hd.notes(marc_ticket))
    await story.agent_answers(
        marc_ticket, jp, "Bonjour Marc, votre virement est en cours, il arrivera demain matin."
    )
    for dm in x.dms[dms_before:]:
        story.show(f"DM sent on X to {dm['to']}: «{dm['text']}»")
    story.notes(marc_ticket, notes_before)

    story.say("Amélie sends a reply too long for one post: a numbered thread, never cut")
    before, notes_before = len(x.brand_posts), len(hd.notes(claire_ticket))
    await story.agent_answers(claire_ticket, amelie, LONG_REPLY)
    for post in x.brand_posts[before:]:
        story.show(f"posted: «{post.text}»")
    story.notes(claire_ticket, notes_before)

    story.say("Amélie pastes a card number: the posting policy blocks it, and tells her why in the ticket")
    before, notes_before = len(x.brand_posts), len(hd.notes(claire_ticket))
    await story.agent_answers(claire_ticket, amelie, CARD_REPLY)
    story.show(f"posts on X since: {len(x.brand_posts) - before}")
    story.notes(claire_ticket, notes_before)

    story.say("Jean-Pierre gives Marc a phone number: fine in a DM, and a disguised insult is caught too")
    dms_before, notes_before = len(x.dms), len(hd.notes(marc_ticket))
    await story.agent_answers(marc_ticket, jp, "Appelez notre service virements au 01 23 45 67 89.")
    await story.agent_answers(marc_ticket, jp, "Quelle m3rde ce retard, désolé.")
    for dm in x.dms[dms_before:]:
        story.show(f"DM sent on X to {dm['to']}: «{dm['text']}»")
    story.notes(marc_ticket, notes_before)

    story.say("Our own posts come back from X as events: dropped (echo suppression)")
    answer = await story.from_x(x.echo_of(x.brand_posts[-1].id))
    story.show(f"dropped: {answer['dropped']}")

    story.say("Compliance staff read the audit and try a reply through the API (sandbox token)")
    auth = {"authorization": f"Bearer {mint(story.runtime.settings, 'sophie.conformite', 'viewer')}"}
    audit = (await story.client.get("/api/v1/audit", headers=auth)).json()["entries"]
    actions = ", ".join(f"{e['action']} ({', '.join(e['rules']) or 'no rule'})" for e in reversed(audit))
    story.show(f"GET /api/v1/audit ← {len(audit)} decisions: {actions}")
    tried = (await story.client.post("/api/v1/decide", json={"text": CARD_REPLY}, headers=auth)).json()
    story.show(f"POST /api/v1/decide ← {tried['action']} under policy {tried['policy_version']}")

    story.say("Summary")
    states = await story.runtime.store.jobs_by_state()
    story.show(
        f"tickets: {len(hd.ticket_ids())}, posts on X: {len(x.brand_posts)}, DMs: {len(x.dms)}, jobs: {states}"
    )
    violations = story.sandbox.violations
    checked = "checked against the vendors' specs" if story.sandbox.checks_contracts else "specs not found"
    story.show(f"requests to X and {hd.vendor} {checked}: {len(violations)} violation(s)")
    if violations or states.get("dead"):
        raise SystemExit("demo failed: see above")


#: Where `sav-bridge demo` keeps its data for `sav-bridge demo --console` (`make demo`, `make console`).
KEPT = Path(".sav-bridge-demo")
CONSOLE_PORT = 8080


async def run_demo(vendor_dir: Path | None, helpdesk: str | None = None, keep: Path | None = None) -> int:
    """Play the story on the plugin `helpdesk` (default: the only one installed with a demo); its data is
    kept in `keep` for the console (None: a temporary folder, removed at the end)."""
    started = time.monotonic()
    name, stage = demo_stage(helpdesk)
    with tempfile.TemporaryDirectory(prefix="sav-bridge-demo-") as tmp:
        workdir = _fresh(keep, name) if keep is not None else Path(tmp)
        settings = demo_settings(workdir, name, stage)
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
              f"sandboxes for X (@MaBanque) and {stage.vendor}")  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                await play(Story(runtime, sandbox, client, stage(sandbox.helpdesk)))
        finally:
            server.should_exit = True
            await serving
            await runtime.close()
        print(f"\nDemo finished in {time.monotonic() - started:.1f} s.")
        if keep is not None:
            print(console_invitation(settings, CONSOLE_PORT))
    return 0


def _fresh(folder: Path, helpdesk: str) -> Path:
    """`folder`, emptied of an earlier demo's database, remembering which plugin this one plays."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("sav-bridge.db*"):
        old.unlink()
    (folder / "helpdesk").write_text(helpdesk, encoding="utf-8")
    return folder


def console_invitation(settings: Settings, port: int) -> str:
    """Where the console of the demo's data answers, and tokens to sign in with (sandbox only)."""
    approver, editor = (
        mint(settings, "sophie.conformite", "approver"),
        mint(settings, "alice.redaction", "editor"),
    )
    return (
        f"\nCompliance console on this demo's data: run `make console`, then open http://127.0.0.1:{port}/console/\n"
        f"Sign in by pasting a demo token (valid 12 h; four eyes: the editor writes, the approver activates):\n"
        f"  approver sophie.conformite: {approver}\n  editor alice.redaction:    {editor}\n"
        f"More: sav-bridge console token --role viewer|editor|approver --sub NAME (sandbox only)."
    )


def console_settings(keep: Path = KEPT) -> Settings:
    """The settings of the demo kept in `keep`, to serve its console; `ConfigError` when none was kept."""
    folder = keep.resolve()
    if not (folder / "helpdesk").is_file():
        raise ConfigError("demo", f"no demo data in {folder}: run `make demo` first")
    name, stage = demo_stage((folder / "helpdesk").read_text(encoding="utf-8").strip())
    return demo_settings(folder, name, stage)


if __name__ == "__main__":
    sys.exit(asyncio.run(run_demo(None)))
