"""What X says about media and links, in both envelopes and in DMs, read into the `SocialMessage`.

Bodies are the vendor's own samples with media added in the shapes X documents (v1.1
`extended_entities`, v2 `attachments.media_keys` + `includes.media`, DM `message_data.attachment`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sav_bridge.channels.x.access import AccessPaused
from sav_bridge.channels.x.events import parse_body
from sav_bridge.channels.x.media import MediaRefused, XMedia, candidates, sniff
from sav_bridge.config import MediaSettings
from sav_bridge.model import Media, MediaVariant, SocialMessage

Sample = Callable[[str], Any]
BRAND = "1111111111111111111"
PHOTO = "https://pbs.twimg.com/media/GqPhoto1.jpg"
TON = "https://ton.twitter.com/1.1/ton/data/dm/954491830116155396/954491820000000000/oP5p359h.jpg"


@pytest.fixture
def sample(vendor_file: Callable[[str], Path]) -> Sample:
    return lambda name: json.loads(vendor_file(f"x/samples/{name}").read_text())


def v1_video(tco: str) -> dict[str, Any]:
    return {
        "id_str": "1900000000000000009",
        "media_url_https": "https://pbs.twimg.com/ext_tw_video_thumb/1900000000000000009/pu/img/still.jpg",
        "url": tco,
        "expanded_url": "https://x.com/claire/status/1900000000000000010/video/1",
        "type": "video",
        "video_info": {
            "duration_millis": 10_000,
            "variants": [
                {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/v/pl.m3u8"},
                {
                    "bitrate": 2_176_000,
                    "content_type": "video/mp4",
                    "url": "https://video.twimg.com/v/720.mp4",
                },
                {"bitrate": 256_000, "content_type": "video/mp4", "url": "https://video.twimg.com/v/180.mp4"},
            ],
        },
    }


def aaa_tweet(text: str, **extra: Any) -> dict[str, Any]:
    tweet = {
        "id_str": "1900000000000000010",
        "text": text,
        "user": {"id_str": "2222222222222222222", "screen_name": "claire", "name": "Claire"},
        "entities": {"urls": [], "user_mentions": [{"id_str": BRAND, "screen_name": "brand"}]},
        **extra,
    }
    return {"for_user_id": BRAND, "tweet_create_events": [tweet]}


def only(body: Any) -> SocialMessage:
    [msg] = parse_body(body, BRAND).messages
    return msg


def test_account_activity_photo_and_link_are_read_and_the_text_shows_the_link_expanded() -> None:
    photo = {"media_url_https": PHOTO, "url": "https://t.co/MEDIA1", "type": "photo",
             "expanded_url": "https://x.com/claire/status/1900000000000000010/photo/1"}  # fmt: skip
    body = aaa_tweet(
        "@brand my card is broken, see https://t.co/LINK1 https://t.co/MEDIA1",
        extended_entities={"media": [photo]},
    )
    body["tweet_create_events"][0]["entities"]["urls"] = [
        {
            "url": "https://t.co/LINK1",
            "expanded_url": "https://example.com/order/42",
            "display_url": "example.com/o…",
        }
    ]
    msg = only(body)
    assert msg.text == "@brand my card is broken, see https://example.com/order/42"
    assert msg.links == ("https://example.com/order/42",)
    assert msg.media == (
        Media("photo", PHOTO, False, "https://x.com/claire/status/1900000000000000010/photo/1"),
    )


def test_account_activity_long_post_reads_media_from_extended_tweet() -> None:
    body = aaa_tweet("@brand the start of a long post… https://t.co/x", truncated=True)
    body["tweet_create_events"][0]["extended_tweet"] = {
        "full_text": "@brand the whole long post https://t.co/VID1",
        "entities": {"urls": [], "user_mentions": [{"id_str": BRAND}]},
        "extended_entities": {"media": [v1_video("https://t.co/VID1")]},
    }
    msg = only(body)
    assert msg.text == "@brand the whole long post"
    [video] = msg.media
    assert video.kind == "video" and video.duration_ms == 10_000
    assert [v.bit_rate for v in video.variants] == [None, 2_176_000, 256_000]


def test_activity_api_media_keys_resolve_in_includes_media(sample: Sample) -> None:
    body = sample("xaa__post.mention.create.json")
    payload = body["data"]["payload"]
    payload["text"] = "hey @ExampleUser look https://t.co/abc https://t.co/pic"
    payload["attachments"] = {"media_keys": ["3_1", "7_2"]}
    payload["entities"]["urls"] = [
        {"start": 22, "end": 38, "url": "https://t.co/abc", "expanded_url": "https://shop.example/p/9"},
        {"start": 39, "end": 55, "url": "https://t.co/pic", "expanded_url": "https://x.com/OtherUser/status/1/photo/1",
         "media_key": "3_1"},
    ]  # fmt: skip
    body["data"]["includes"]["media"] = [
        {"media_key": "3_1", "type": "photo", "url": PHOTO},
        {"media_key": "7_2", "type": "video", "preview_image_url": "https://pbs.twimg.com/v/still.jpg",
         "duration_ms": 4000, "variants": [
             {"bit_rate": 632000, "content_type": "video/mp4", "url": "https://video.twimg.com/v/320.mp4"},
             {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/v/pl.m3u8"}]},
    ]  # fmt: skip
    msg = only(body)
    assert msg.text == "hey @ExampleUser look https://shop.example/p/9"
    assert msg.links == ("https://shop.example/p/9",)
    photo, video = msg.media
    assert (photo.kind, photo.url, photo.private) == ("photo", PHOTO, False)
    assert photo.page_url == "https://x.com/OtherUser/status/2080765813578191303/photo/1"
    assert video.variants[0] == MediaVariant("https://video.twimg.com/v/320.mp4", "video/mp4", 632000)


@pytest.mark.parametrize("envelope", ["aaa", "xaa"])
def test_dm_media_is_private_and_its_link_leaves_the_text(sample: Sample, envelope: str) -> None:
    dm_media = {"id_str": "954491820000000000", "media_url_https": TON, "url": "https://t.co/DMPIC",
                "type": "photo", "expanded_url": "https://x.com/messages/media/954491830116155396"}  # fmt: skip
    if envelope == "aaa":
        body = sample("aaa__direct_message_events.json")
        event, account = body["direct_message_events"][0], "4337869213"
    else:
        body = sample("xaa__dm.received.json")
        event, account = (
            body["data"]["payload"]["direct_message_events"][0],
            body["data"]["filter"]["user_id"],
        )
    event["message_create"]["message_data"] = {
        "text": "here is the receipt https://t.co/DMPIC",
        "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
        "attachment": {"type": "media", "media": dm_media},
    }
    [msg] = parse_body(body, account).messages
    assert msg.text == "here is the receipt"
    assert msg.media == (Media("photo", TON, private=True),)
    assert "x.com/messages" not in json.dumps(msg.to_json())


def test_a_message_with_media_survives_the_job_payload() -> None:
    body = aaa_tweet(
        "@brand video https://t.co/VID1", extended_entities={"media": [v1_video("https://t.co/VID1")]}
    )
    msg = only(body)
    assert SocialMessage.from_json(json.loads(json.dumps(msg.to_json()))) == msg


def test_video_variant_is_the_best_mp4_that_fits() -> None:
    video = Media("video", "https://pbs.twimg.com/still.jpg", variants=(
        MediaVariant("https://video.twimg.com/pl.m3u8", "application/x-mpegURL"),
        MediaVariant("https://video.twimg.com/1080.mp4", "video/mp4", 10_000_000),
        MediaVariant("https://video.twimg.com/720.mp4", "video/mp4", 2_000_000),
        MediaVariant("https://video.twimg.com/180.mp4", "video/mp4", 256_000),
    ), duration_ms=20_000)  # fmt: skip
    # 20 s: 1080p is 25 MB, 720p 5 MB, 180p 640 KB
    assert candidates(video, 10_000_000) == [
        "https://video.twimg.com/720.mp4",
        "https://video.twimg.com/180.mp4",
        "https://video.twimg.com/1080.mp4",
    ]
    assert candidates(video, 100_000) == ["https://video.twimg.com/180.mp4"]


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"<html><body>not found</body></html>", None),
        (b"%PDF-1.7", None),
    ],
)
def test_type_is_read_from_the_bytes(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


class PausedAuth(httpx.Auth):
    """A gated auth whose gate is shut: it raises before anything is sent."""

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise AccessPaused("x", "waiting for X access to be restored", 401, 60.0, 1.0)
        yield request  # pragma: no cover


async def test_a_pause_met_while_fetching_a_dm_media_refuses_that_media_and_holds_nothing() -> None:
    sent: list[httpx.Request] = []

    def serve(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=b"\xff\xd8\xff\xe0 a jpeg")

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        media = XMedia(http, "https://api.x.com", None, MediaSettings(), dm_auth=PausedAuth())
        with pytest.raises(MediaRefused) as refused:
            await media.download(Media("photo", TON, private=True))
    assert refused.value.reason == "the gateway's access to X is paused" and sent == []
