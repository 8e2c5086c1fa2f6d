"""X's media: the files customers attach, and the brand's uploads.

- Public media are served to anyone on pbs.twimg.com (photos, video stills) and video.twimg.com (video
  and GIF encodings); a DM's media only on ton.twitter.com, to a request signed as the brand with OAuth
  1.0a (X's docs: "must be accessed by signing a request with the user's access token using OAuth 1.0A";
  a bearer token is refused), else 401.
- `POST /2/media/upload` as X's spec defines it (`MediaUploadRequest`: `media` base64-encoded in a JSON
  body, `media_category` from its enum; answer `data.id`, `media_key`, `size`, `expires_after_secs`,
  `image`); an image over 5 MB or bytes that are not an image are refused (400). A media id is usable
  by the account that uploaded it, once, for `expires_after_secs` (a day), in the category it was
  uploaded for (`tweet_*` in a post, `dm_*` in a DM): `media_problem()` tells the write routes.

`MediaFile` describes what a customer attaches; `Envelopes` turns it into the fields X puts in webhook
bodies, through `v1_entity()` and `v2_include()`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from sav_bridge.channels.x.media import UPLOAD_MAX_BYTES, sniff
from sav_bridge.sandbox.base import FakeVendor
from sav_bridge.sandbox.x.base import FakeXBase

if TYPE_CHECKING:
    from sav_bridge.sandbox.x import FakeX

PUBLIC_HOSTS = ("pbs.twimg.com", "video.twimg.com")
PRIVATE_HOST = "ton.twitter.com"
HOSTS = (*PUBLIC_HOSTS, PRIVATE_HOST)
EXPIRES_AFTER = 86_400
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


@dataclass
class MediaFile:
    """A file a customer attaches: a photo's bytes, or a video's encodings as (bit rate, bytes)."""

    kind: str = "photo"
    data: bytes = b""
    variants: list[tuple[int, bytes]] = field(default_factory=list)
    duration_ms: int = 10_000
    #: What X's `type`/`content_type` fields declare; the bytes may say otherwise.
    content_type: str = "image/jpeg"


@dataclass
class Uploaded:
    id: str
    owner: str
    category: str
    content_type: str
    size: int
    expires_at: float
    used: bool = False


@dataclass
class Served:
    """A media as X describes it in a body: its URLs, registered with the media hosts."""

    id: str
    key: str
    kind: str
    url: str
    tco: str
    variants: list[dict[str, Any]]
    duration_ms: int


class Media(FakeXBase):
    """The media part of `FakeX`: files on X's media hosts and the upload endpoint."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Files X serves, by URL (no query), with the content type X declares for them.
        self.files: dict[str, tuple[bytes, str]] = {}
        self.uploads: dict[str, Uploaded] = {}
        #: Media ids attached to the brand's posts and DMs, by post or DM event id.
        self.attached: dict[str, list[str]] = {}

    # -- customers' media ------------------------------------------------------------------------
    def serve(self, item: MediaFile, private: bool = False, dm_id: str = "") -> Served:
        media_id = self.next_id()
        key = ("3_" if item.kind == "photo" else "16_" if item.kind == "animated_gif" else "7_") + media_id
        tco = f"https://t.co/m{media_id[-8:]}"
        ext = ".png" if item.content_type == "image/png" else ".jpg"
        if private:
            url = f"https://{PRIVATE_HOST}/1.1/ton/data/dm/{dm_id}/{media_id}/R{media_id[-6:]}{ext}"
        elif item.kind == "photo":
            url = f"https://pbs.twimg.com/media/P{media_id[-10:]}{ext}"
        else:
            url = f"https://pbs.twimg.com/ext_tw_video_thumb/{media_id}/pu/img/still.jpg"
        still = item.data if item.kind == "photo" else b"\xff\xd8\xff\xe0still"
        self.files[url] = (still, item.content_type if item.kind == "photo" else "image/jpeg")
        variants: list[dict[str, Any]] = []
        if item.kind != "photo":
            host = f"https://{PRIVATE_HOST}/1.1/ton/data/dm/{dm_id}" if private else "https://video.twimg.com"
            variants.append({"content_type": "application/x-mpegURL", "url": f"{host}/{media_id}/pl.m3u8"})
            for bit_rate, data in item.variants:
                variant_url = f"{host}/{media_id}/vid/{bit_rate}/v.mp4"
                self.files[variant_url] = (data, "video/mp4")
                variants.append({"bit_rate": bit_rate, "content_type": "video/mp4", "url": variant_url})
        return Served(media_id, key, item.kind, url, tco, variants, item.duration_ms)

    @staticmethod
    def v1_entity(served: Served, page: str) -> dict[str, Any]:
        """The media object of v1.1 bodies (`extended_entities.media[]`, a DM's `attachment.media`)."""
        entity: dict[str, Any] = {
            "id": int(served.id),
            "id_str": served.id,
            "media_url_https": served.url,
            "media_url": served.url,
            "url": served.tco,
            "display_url": "pic.x.com/" + served.tco.rsplit("/", 1)[1],
            "expanded_url": page,
            "type": served.kind,
        }
        if served.variants:
            entity["video_info"] = {
                "duration_millis": served.duration_ms,
                "variants": [
                    {k.replace("bit_rate", "bitrate"): v for k, v in variant.items()}
                    for variant in served.variants
                ],
            }
        return entity

    @staticmethod
    def v2_include(served: Served) -> dict[str, Any]:
        """The item of `includes.media` in X Activity API and v2 bodies."""
        item: dict[str, Any] = {"media_key": served.key, "type": served.kind}
        if served.kind == "photo":
            item["url"] = served.url
        else:
            item |= {
                "preview_image_url": served.url,
                "duration_ms": served.duration_ms,
                "variants": served.variants,
            }
        return item

    # -- uploads ---------------------------------------------------------------------------------
    def _upload_media(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        try:
            data = base64.b64decode(body["media"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            return self.problem(400, "invalid-request", "media must be base64-encoded in a JSON body")
        category = body["media_category"]
        kind = sniff(data)
        if category.endswith("_image") and kind not in IMAGE_TYPES:
            return self.problem(400, "invalid-request", "InvalidMedia: the file is not a supported image")
        if category.endswith("_image") and len(data) > UPLOAD_MAX_BYTES:
            return self.problem(400, "invalid-request", "InvalidMedia: images are limited to 5 MB")
        media_id = self.next_id()
        self.uploads[media_id] = Uploaded(
            media_id, self.account_id, category, kind or "", len(data), self.clock() + EXPIRES_AFTER
        )
        self.files[f"upload:{media_id}"] = (data, kind or "")
        answer = {
            "id": media_id,
            "media_key": f"3_{media_id}",
            "size": len(data),
            "expires_after_secs": EXPIRES_AFTER,
            "image": {"image_type": kind or "", "w": 1, "h": 1},
        }
        return httpx.Response(200, json={"data": answer})

    def media_problem(self, media_ids: list[str], dm: bool) -> str | None:
        """Why X would refuse to attach these media ids to a post (or a DM), or None when it would not."""
        for media_id in media_ids:
            upload = self.uploads.get(media_id)
            if upload is None or upload.owner != self.account_id:
                return f"media id {media_id} does not exist"
            if upload.expires_at <= self.clock():
                return f"media id {media_id} has expired"
            if upload.used:
                return f"media id {media_id} is already used"
            if upload.category.startswith("dm_") != dm:
                return f"media id {media_id} was uploaded as {upload.category}"
        return None

    def attach(self, write_id: str, media_ids: list[str]) -> None:
        for media_id in media_ids:
            self.uploads[media_id].used = True
        if media_ids:
            self.attached[write_id] = list(media_ids)

    def attached_bytes(self, write_id: str) -> list[bytes]:
        """What a post or DM of the brand shows: the bytes of the images attached to it."""
        return [self.files[f"upload:{m}"][0] for m in self.attached.get(write_id, [])]


class MediaHosts(FakeVendor):
    """pbs.twimg.com, video.twimg.com and ton.twitter.com, serving the files of a `FakeX`."""

    name = "x media"

    def __init__(self, x: FakeX) -> None:
        super().__init__()
        self.x = x
        self.route("GET", r"/.+", self._serve)

    def authorised(self, request: httpx.Request) -> bool:
        if request.url.host != PRIVATE_HOST:
            return True
        # X's "Retrieving media" guide: only a request signed with OAuth 1.0a, never a bearer token.
        signed = request.headers.get("authorization", "").startswith("OAuth ")
        return signed and self.x.authorised(request)

    def _serve(self, request: httpx.Request, match: re.Match[str], body: Any) -> httpx.Response:
        found = self.x.files.get(f"https://{request.url.host}{request.url.path}")
        if found is None:
            return httpx.Response(404, text="Not Found")
        data, content_type = found
        return httpx.Response(200, content=data, headers={"content-type": content_type})
