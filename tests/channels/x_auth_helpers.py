"""What the X authentication tests share: OAuth 2.0 settings, a customer's reply round, replicas."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from sav_bridge.runtime import Runtime
from tests.harness import CLAIRE, Gateway, start_gateway

CLIENT_ID = "x-oauth2-client-id-for-tests"
CLIENT_SECRET = "x-oauth2-client-secret-for-tests"
SECRETS_KEY = Fernet.generate_key().decode()
SEED_REFRESH_TOKEN = "seed-refresh-token-from-the-environment"


def oauth2_env(seed: bool = True, **extra: str) -> dict[str, str]:
    env = {
        "SAV_BRIDGE_X__AUTH": "oauth2",
        "SAV_BRIDGE_X__CLIENT_ID": CLIENT_ID,
        "SAV_BRIDGE_X__CLIENT_SECRET": CLIENT_SECRET,
        "SAV_BRIDGE_SECRETS_KEY": SECRETS_KEY,
        "SAV_BRIDGE_PUBLIC_URL": "https://care.mabanque.fr",
    }
    if seed:
        env["SAV_BRIDGE_X__REFRESH_TOKEN"] = SEED_REFRESH_TOKEN
    return {**env, **extra}


async def start_oauth2_gateway(database_url: str, vendor_dir: Path | None, seed: bool = True) -> Gateway:
    return await start_gateway(database_url, vendor_dir, **oauth2_env(seed))


async def replica(gw: Gateway) -> Runtime:
    """A second gateway process on the same database, X fake and clock."""
    return await Runtime.start(gw.settings, transport=gw.sandbox.transport(), clock=gw.clock)


async def reply_round(gw: Gateway, n: int) -> int:
    """A customer mentions the brand and an agent answers: returns the ticket id (the reply is queued)."""
    before = set(gw.zendesk.tickets)
    body = gw.x.customer_post(CLAIRE, f"@MaBanque question numéro {n} : ma carte ?")
    assert (await gw.post_x(body)).status_code == 200
    await gw.drain()
    (ticket_id,) = set(gw.zendesk.tickets) - before
    agent = gw.zendesk.add_agent(f"Agent {n}", f"agent{n}@mabanque.fr")
    gw.zendesk.agent_comment(ticket_id, agent, f"Bonjour, c'est réglé (réponse {n}).")
    await gw.ring(ticket_id)
    return ticket_id
