"""Media and links, end to end on the sandboxes: customers' photos, videos and links reach the Zendesk
ticket (a DM's through the brand's authorization only), and an agent's image goes out with the reply,
once, whatever fails in between."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sav_bridge.app import create_app
from sav_bridge.config import load_settings
from sav_bridge.runtime import Runtime
from sav_bridge.sandbox import Fault, MediaFile, Sandbox
from tests.harness import CLAIRE, MARC, Clock, Gateway, gateway_env, start_gateway

pytestmark = pytest.mark.asyncio

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200))
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00"
POST = "/2/tweets"
UPLOAD = "/2/media/upload"


def mp4(size: int, mark: bytes) -> bytes:
    return MP4 + mark + b"\x00" * (size - len(MP4) - len(mark))


@pytest.fixture
async def gw(sqlite_url: str, vendor_dir: Path | None) -> AsyncIterator[Gateway]:
    gateway = await start_gateway(sqlite_url, vendor_dir, SAV_BRIDGE_X__MEDIA__MAX_BYTES="1500000")
    yield gateway
    await gateway.client.aclose()
    await gateway.runtime.close()
    assert gateway.sandbox.violations == [], "requests broke the vendors' OpenAPI contracts"


def zendesk_traffic(gateway: Gateway) -> str:
    """Everything the gateway sent to Zendesk, and everything Zendesk holds."""
    sent = b"".join(bytes(r.url.raw_path) + r.content for r in gateway.zendesk.requests)
    held = json.dumps([gateway.zendesk.tickets, gateway.zendesk.comments], default=str)
    return sent.decode("latin-1") + held


def first_comment(gateway: Gateway) -> str:
    return str(gateway.zendesk.public_comments(gateway.only_ticket())[0]["body"])


# -- customers' media ------------------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
async def test_a_photo_in_a_mention_becomes_a_zendesk_attachment(gw: Gateway, envelope: str) -> None:
    body = gw.x.customer_post(
        CLAIRE, "@MaBanque ma carte est cassée", envelope=envelope, media=[MediaFile(data=JPEG)]
    )
    assert (await gw.post_x(body)).status_code == 200
    assert gw.sandbox.x_media.requests == []  # nothing is downloaded while X's request is open
    await gw.drain()
    [(name, content_type, data)] = gw.zendesk.attachments(gw.only_ticket())
    assert (content_type, data) == ("image/jpeg", JPEG) and name.endswith(".jpg")
    assert first_comment(gw).startswith("@MaBanque ma carte est cassée\n") and "t.co" not in first_comment(gw)


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
async def test_a_video_comes_as_the_best_mp4_under_the_size_limit(gw: Gateway, envelope: str) -> None:
    # 10 s: 2 Mb/s is 2.5 MB (over the 1.5 MB limit), 800 kb/s is 1 MB, 256 kb/s 320 KB
    variants = [
        (2_000_000, mp4(2_500_000, b"hd")),
        (800_000, mp4(1_000_000, b"sd")),
        (256_000, mp4(320_000, b"lo")),
    ]
    video = MediaFile(kind="video", variants=variants, duration_ms=10_000)
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque regardez", envelope=envelope, media=[video]))
    await gw.drain()
    [(name, content_type, data)] = gw.zendesk.attachments(gw.only_ticket())
    assert (content_type, data, name.endswith(".mp4")) == ("video/mp4", variants[1][1], True)
    assert not [r for r in gw.sandbox.x_media.requests if "/vid/2000000/" in r.url.path]


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
async def test_a_dm_photo_is_fetched_as_the_brand_and_its_address_never_reaches_zendesk(
    gw: Gateway, envelope: str
) -> None:
    await gw.post_x(
        gw.x.customer_dm(
            MARC, "voici le reçu", envelope=envelope, media=MediaFile(data=PNG, content_type="image/png")
        )
    )
    await gw.drain()
    [(_, content_type, data)] = gw.zendesk.attachments(gw.only_ticket())
    assert (content_type, data) == ("image/png", PNG)
    [fetch] = gw.sandbox.x_media.requests
    assert fetch.url.host == "ton.twitter.com" and fetch.headers.get("authorization")
    traffic = zendesk_traffic(gw)
    assert "ton.twitter.com" not in traffic and "t.co/" not in traffic
    assert first_comment(gw).startswith("voici le reçu\n")


async def test_dm_media_is_refused_to_a_request_not_authorised_as_the_brand(gw: Gateway) -> None:
    body = gw.x.customer_dm(MARC, "reçu", media=MediaFile(data=PNG))
    url = body["direct_message_events"][0]["message_create"]["message_data"]["attachment"]["media"][
        "media_url_https"
    ]
    assert (await gw.runtime.http.get(url)).status_code == 401


@pytest.mark.parametrize(
    ("media", "reason"),
    [
        (MediaFile(data=b"<html>Bienvenue</html>"), "could not be attached: its type (unknown) is not one"),
        (MediaFile(data=JPEG[:3] + b"\x00" * 2_000_000), "could not be attached: too large"),
        (
            MediaFile(kind="animated_gif", variants=[(0, b"%PDF-1.7 not a gif")]),
            "could not be attached: its type",
        ),
    ],
    ids=["html-declared-as-jpeg", "over-the-limit", "gif-that-is-not-a-video"],
)
async def test_media_that_cannot_be_attached_is_a_line_in_the_comment(
    gw: Gateway, media: MediaFile, reason: str
) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque voyez", media=[media]))
    await gw.drain()
    ticket = gw.only_ticket()
    assert gw.zendesk.attachments(ticket) == []
    comment = first_comment(gw)
    assert comment.startswith("@MaBanque voyez\n") and reason in comment
    assert "See it on X: https://" in comment


async def test_a_media_gone_from_x_is_a_line_and_a_passing_failure_is_retried(gw: Gateway) -> None:
    await gw.post_x(
        gw.x.customer_post(CLAIRE, "@MaBanque deux photos", media=[MediaFile(data=JPEG), MediaFile(data=PNG)])
    )
    _, second = [u for u in gw.x.files if u.startswith("https://pbs.twimg.com/media/")]
    del gw.x.files[second]
    gw.sandbox.x_media.faults.add(Fault("GET", r"/media/.*", status=503))
    await gw.settle()
    ticket = gw.only_ticket()
    assert [data for _, _, data in gw.zendesk.attachments(ticket)] == [JPEG]
    assert "photo 2 could not be attached: no longer on X (HTTP 404)" in first_comment(gw)
    assert len(gw.zendesk.tickets) == 1 and len(gw.zendesk.public_comments(ticket)) == 1


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
async def test_links_are_shown_expanded_in_the_comment(gw: Gateway, envelope: str) -> None:
    text = "@MaBanque le lien https://www.mabanque.fr/aide/opposition ne marche pas"
    await gw.post_x(gw.x.customer_post(CLAIRE, text, envelope=envelope))
    await gw.drain()
    assert first_comment(gw).startswith(text + "\n")


async def test_a_dm_link_is_shown_expanded(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_dm(MARC, "voir https://example.com/commande/42 svp"))
    await gw.drain()
    assert first_comment(gw).startswith("voir https://example.com/commande/42 svp\n")


# -- an agent's image ------------------------------------------------------------------------------


async def answer_with_files(gw: Gateway, ticket_id: int, files: list[tuple[str, str, bytes]]) -> None:
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket_id, agent, "Voici comment faire opposition.", files=files)
    await gw.ring(ticket_id)


async def test_an_agents_image_goes_out_with_the_reply_post(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque comment faire ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    files = [("etapes.png", "image/png", PNG), ("conditions.pdf", "application/pdf", b"%PDF-1.7"),
             ("autre.jpg", "image/jpeg", JPEG)]  # fmt: skip
    await answer_with_files(gw, ticket, files)
    await gw.settle()
    [post] = gw.x.brand_posts
    assert gw.x.attached_bytes(post.id) == [PNG]
    [note] = [n for n in gw.zendesk.notes(ticket) if n.startswith("✅")]
    assert "With the image etapes.png" in note
    assert "conditions.pdf (not an image" in note and "autre.jpg (X takes one image per reply" in note


async def test_an_agents_image_goes_out_with_the_dm(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_dm(MARC, "Bonjour, ma carte ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    await answer_with_files(gw, ticket, [("carte.jpg", "image/jpeg", JPEG)])
    await gw.settle()
    [dm] = gw.x.dms
    assert gw.x.attached_bytes(dm["id"]) == [JPEG]
    assert gw.x.uploads[gw.x.attached[dm["id"]][0]].category == "dm_image"


async def test_a_file_named_like_an_image_that_is_not_one_stays_behind(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque une capture ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    await answer_with_files(gw, ticket, [("capture.png", "image/png", b"MZ\x90\x00 not a png")])
    await gw.settle()
    [post] = gw.x.brand_posts
    assert gw.x.attached_bytes(post.id) == [] and gw.x.calls("POST", UPLOAD) == []
    [note] = [n for n in gw.zendesk.notes(ticket) if n.startswith("✅")]
    assert "capture.png (its content is not an image X takes" in note


@pytest.mark.parametrize(
    "lost", [{"timeout": True}, {"status": 503}], ids=["answer-after-timeout", "503-after-posting"]
)
async def test_a_lost_answer_after_posting_with_an_image_still_makes_one_post(
    gw: Gateway, lost: dict[str, object]
) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque comment faire ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    gw.x.faults.add(Fault("POST", POST, applied=True, **lost))  # type: ignore[arg-type]
    await answer_with_files(gw, ticket, [("etapes.png", "image/png", PNG)])
    await gw.settle()
    [post] = gw.x.brand_posts
    assert gw.x.attached_bytes(post.id) == [PNG]
    assert len(gw.x.calls("POST", UPLOAD)) == 1  # found by reading back: nothing sent or uploaded again
    assert len([n for n in gw.zendesk.notes(ticket) if n.startswith("✅")]) == 1


async def test_a_retry_uploads_again_rather_than_reuse_an_expired_media_id(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque comment faire ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    gw.x.faults.add(Fault("POST", POST, status=503))  # not applied: nothing was posted
    await answer_with_files(gw, ticket, [("etapes.png", "image/png", PNG)])
    await gw.drain()
    gw.clock.advance(2 * 86_400)  # the first upload has expired by the time the job runs again
    await gw.settle()
    [post] = gw.x.brand_posts
    assert gw.x.attached_bytes(post.id) == [PNG]
    assert len(gw.x.calls("POST", UPLOAD)) == 2


# -- a DM's media refused by X -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_a_dm_photo_x_refuses_is_a_line_and_never_pauses_x(gw: Gateway, status: int) -> None:
    gw.sandbox.x_media.faults.add(Fault("GET", r"/1.1/ton/.*", status=status))
    await gw.post_x(gw.x.customer_dm(MARC, "voici le reçu", media=MediaFile(data=PNG)))
    await gw.drain()
    ticket = gw.only_ticket()
    assert gw.zendesk.attachments(ticket) == []
    assert first_comment(gw).startswith("voici le reçu\n\n⚠️ The customer's photo could not be attached: X ")
    assert f"(HTTP {status})" in first_comment(gw) and "ton.twitter.com" not in zendesk_traffic(gw)
    assert await gw.runtime.access.gate.pause() is None  # type: ignore[union-attr]
    # the brand's access is intact: the agent's answer goes out at once
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    gw.zendesk.agent_comment(ticket, agent, "Merci, nous regardons.")
    await gw.ring(ticket)
    await gw.drain()
    assert len(gw.x.dms) == 1


async def test_with_oauth2_alone_a_dm_photo_is_a_line_saying_why(
    sqlite_url: str, vendor_dir: Path | None
) -> None:
    from tests.channels.x_auth_helpers import oauth2_env

    env = gateway_env(sqlite_url, **oauth2_env())
    for key in ("CONSUMER_KEY", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"):
        del env[f"SAV_BRIDGE_X__{key}"]
    settings = load_settings(None, env)
    clock = Clock()
    sandbox = Sandbox(settings, vendor_dir, clock)
    runtime = await Runtime.start(settings, transport=sandbox.transport(), clock=clock)
    app = httpx.ASGITransport(app=create_app(settings, runtime))
    client = httpx.AsyncClient(transport=app, base_url="http://gateway")
    gateway = Gateway(settings, runtime, sandbox, client, clock)
    try:
        await gateway.post_x(gateway.x.customer_dm(MARC, "voici le reçu", media=MediaFile(data=PNG)))
        await gateway.drain()
        assert gateway.zendesk.attachments(gateway.only_ticket()) == []
        assert "X gives a DM's media only to OAuth 1.0a access" in first_comment(gateway)
        assert gateway.sandbox.x_media.requests == [] and gateway.x.refused == []
        assert await gateway.runtime.access.gate.pause() is None  # type: ignore[union-attr]
    finally:
        await gateway.client.aclose()
        await gateway.runtime.close()


# -- the note after a retry says what became of the image -----------------------------------------


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (PNG, "🖼️ With the image etapes.png."),
        (b"MZ\x90\x00 not a png", "etapes.png (its content is not an image"),
    ],
    ids=["sent", "refused"],
)
async def test_the_note_after_a_lost_answer_says_what_became_of_the_image(
    gw: Gateway, data: bytes, line: str
) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque comment faire ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    gw.x.faults.add(Fault("POST", POST, timeout=True, applied=True))
    await answer_with_files(gw, ticket, [("etapes.png", "image/png", data)])
    await gw.settle()  # the retry finds the post on X: nothing is prepared again
    assert len(gw.x.brand_posts) == 1
    [note] = [n for n in gw.zendesk.notes(ticket) if n.startswith("✅")]
    assert line in note


async def test_the_note_of_a_thread_retried_after_its_first_post_names_the_image(gw: Gateway) -> None:
    await gw.post_x(gw.x.customer_post(CLAIRE, "@MaBanque comment faire ?"))
    await gw.drain()
    ticket = gw.only_ticket()
    gw.x.faults.add(Fault("POST", POST, status=503, after=1))  # the second post waits for the job's retry
    agent = gw.zendesk.add_agent("Amélie Jourdain", "amelie@mabanque.fr")
    text = "Voici comment faire opposition depuis l'application, étape par étape. " * 6
    gw.zendesk.agent_comment(ticket, agent, text.strip(), files=[("etapes.png", "image/png", PNG)])
    await gw.ring(ticket)
    await gw.settle()
    posts = gw.x.brand_posts
    assert len(posts) > 1 and gw.x.attached_bytes(posts[0].id) == [PNG]
    [note] = [n for n in gw.zendesk.notes(ticket) if n.startswith("✅")]
    assert "🖼️ With the image etapes.png." in note
