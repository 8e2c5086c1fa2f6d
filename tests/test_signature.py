"""Agent initials and the collision rule."""

from __future__ import annotations

import pytest

from sav_bridge.config import SignatureSettings
from sav_bridge.model import AgentReply, TicketRef
from sav_bridge.signature import Signer, base_initials


@pytest.mark.parametrize(
    ("name", "initials"),
    [("Amélie Jourdain", "AJ"), ("Jean-Pierre Martin", "JPM"), ("support", "S"), ("Éloïse  d'Arc", "ED"),
     ("Ana María de la Cruz", "AMD"), ("", "?")],
)  # fmt: skip
def test_initials_from_names(name: str, initials: str) -> None:
    assert base_initials(name) == initials


def reply(agent_id: str, name: str, email: str | None = None) -> AgentReply:
    return AgentReply(TicketRef("zendesk", "1"), "c1", "hi", agent_id, name, email)


async def test_overrides_and_collisions_are_stable() -> None:
    owners: dict[str, str] = {}

    async def claim(initials: str, agent: str) -> str:
        return owners.setdefault(initials, agent)

    signer = Signer(SignatureSettings(" ^{initials}", {"boss@x.fr": "DG"}), claim)
    assert await signer.initials(reply("1", "Alain Jacob")) == "AJ"
    assert await signer.initials(reply("2", "Amélie Jourdain")) == "AJo"
    assert await signer.initials(reply("3", "Anne Jo")) == "AJ2"
    assert await signer.initials(reply("2", "Amélie Jourdain")) == "AJo"
    assert await signer.initials(reply("9", "Directrice", "boss@x.fr")) == "DG"
    assert signer.suffix("AJ") == " ^AJ"
