"""Zendesk files: a customer's media uploaded and named in the comment's `uploads`; an agent's files read
from `attachments[]` and downloaded with the plugin's credentials, never sent to another host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sav_bridge_zendesk import ZendeskHelpdesk
from sav_bridge_zendesk.sandbox import FakeZendesk, vendor_contracts

from sav_bridge.errors import PermanentError
from sav_bridge.model import Attachment, AttachmentRef, Conversation, MessageKind, SocialMessage, SocialUser

pytestmark = pytest.mark.asyncio

URL = "https://mabanque.zendesk.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
CLAIRE = SocialUser("2100000000000000001", "claire_dupont", "Claire Dupont")
MSG = SocialMessage("x", "1500000000000000001", "1900000000000000001", MessageKind.DM, CLAIRE, "voici",
                    "", "x:dm:1500000000000000001:2100000000000000001")  # fmt: skip


@pytest.fixture
async def zendesk(vendor_dir: Path | None) -> AsyncIterator[tuple[FakeZendesk, ZendeskHelpdesk, list[str]]]:
    fake = FakeZendesk("api@mabanque.fr", "token", "secret", vendor_contracts(vendor_dir), url=URL)
    elsewhere: list[str] = []

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host != "mabanque.zendesk.com":
            elsewhere.append(request.headers.get("authorization", ""))
            return httpx.Response(200, content=b"GIF89a elsewhere", headers={"content-type": "image/gif"})
        return fake.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(route)) as client:
        yield fake, ZendeskHelpdesk(client, URL, "api@mabanque.fr", "token", "secret", 300), elsewhere
    assert fake.violations == []


async def test_customer_files_are_uploaded_and_attached_to_the_comment(
    zendesk: tuple[FakeZendesk, ZendeskHelpdesk, list[str]],
) -> None:
    fake, helpdesk, _ = zendesk
    conv = Conversation(MSG.thread_key, "x", MSG.audience, CLAIRE)
    ticket = await helpdesk.open_ticket(
        conv, MSG, "x.message:dm:1", attachments=[Attachment("r.png", "image/png", PNG)]
    )
    await helpdesk.add_customer_message(
        ticket, MSG, "x.message:dm:2", attachments=[Attachment("s.png", "image/png", PNG[:20])]
    )
    assert fake.attachments(ticket.id) == [("r.png", "image/png", PNG), ("s.png", "image/png", PNG[:20])]
    [upload, _] = fake.calls("POST", "/api/v2/uploads")
    assert upload.url.params["filename"] == "r.png" and upload.headers["content-type"] == "image/png"


async def test_an_agents_files_are_listed_and_downloaded_with_the_plugins_credentials(
    zendesk: tuple[FakeZendesk, ZendeskHelpdesk, list[str]],
) -> None:
    fake, helpdesk, elsewhere = zendesk
    conv = Conversation(MSG.thread_key, "x", MSG.audience, CLAIRE)
    ticket = await helpdesk.open_ticket(conv, MSG, "x.message:dm:1")
    agent = fake.add_agent("Amélie", "amelie@mabanque.fr")
    fake.agent_comment(ticket.id, agent, "Voici", files=[("plan.png", "image/png", PNG)])
    [reply] = await helpdesk.agent_replies(ticket)
    [ref] = reply.attachments
    assert (ref.filename, ref.content_type, ref.size) == ("plan.png", "image/png", len(PNG))
    assert (await helpdesk.download_attachment(ref, 1024)).data == PNG
    with pytest.raises(PermanentError, match="larger than"):
        await helpdesk.download_attachment(ref, 10)
    # a file hosted elsewhere is fetched without Zendesk's credentials
    outside = AttachmentRef("9", "x.gif", "image/gif", 16, "https://cdn.example.net/x.gif")
    assert (await helpdesk.download_attachment(outside, 1024)).data.startswith(b"GIF89a")
    assert elsewhere == [""]


async def test_an_attachment_is_private_to_authenticated_requests(
    zendesk: tuple[FakeZendesk, ZendeskHelpdesk, list[str]],
) -> None:
    fake, helpdesk, _ = zendesk
    conv = Conversation(MSG.thread_key, "x", MSG.audience, CLAIRE)
    ticket = await helpdesk.open_ticket(conv, MSG, "k", attachments=[Attachment("r.png", "image/png", PNG)])
    url = fake.comments[int(ticket.id)][0]["attachments"][0]["content_url"]
    assert fake.handle(httpx.Request("GET", url)).status_code == 401
