"""Agent signatures: "Merci de votre patience ! ^AJ", the social-care convention.

Initials come from the helpdesk agent's name; config overrides win. Two agents never share a
signature: the second "Amélie Jourdain" after "Alain Jacob" signs "AJo" (next letters of the last
name), and that choice is remembered so an agent's signature never changes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Mapping

from sav_bridge.config import SignatureSettings
from sav_bridge.model import AgentReply


def base_initials(name: str) -> str:
    """'Amélie Jourdain' -> 'AJ', 'Jean-Pierre Martin' -> 'JPM', 'support' -> 'S'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = [p for word in ascii_name.split() for p in word.split("-") if p[:1].isalnum()]
    return "".join(p[0].upper() for p in parts[:3]) or "?"


def candidates(name: str) -> list[str]:
    """Initials in order of preference, for the collision rule."""
    base = base_initials(name)
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    last = next((w for w in reversed(ascii_name.split()) if w[:1].isalnum()), "")
    longer = [base + last[1:i].lower() for i in range(2, min(len(last), 4) + 1)]
    return [base, *longer, *(f"{base}{n}" for n in range(2, 10))]


class Signer:
    """Finds each agent's initials; `claim(initials, agent_key)` returns the owner after claiming."""

    def __init__(self, settings: SignatureSettings, claim: Callable[[str, str], Awaitable[str]]) -> None:
        self._format = settings.format
        self._overrides: Mapping[str, str] = settings.overrides
        self._claim = claim

    async def initials(self, reply: AgentReply) -> str:
        for key in (reply.agent_id, reply.agent_email):
            if key and key in self._overrides:
                return self._overrides[key]
        agent_key = f"{reply.ticket.helpdesk}:{reply.agent_id}"
        for option in candidates(reply.agent_name):
            if await self._claim(option, agent_key) == agent_key:
                return option
        return base_initials(reply.agent_name)

    def suffix(self, initials: str) -> str:
        return self._format.format(initials=initials)
