"""Customers' media and links on X, downloaded within limits; the brand's images uploaded to X.

What X says about media (field names from X's data dictionary and the API v2 spec):

- Account Activity posts (v1.1 objects): `extended_entities.media[]` (inside `extended_tweet` for a long
  post) with `media_url_https`, `type` (`photo`, `video`, `animated_gif`), `expanded_url` (the media's
  public page), `url` (the t.co link X appends to the text) and, for videos and GIFs,
  `video_info.variants[] {bitrate, content_type, url}` and `video_info.duration_millis`.
- X Activity API and API v2 posts: `attachments.media_keys`, resolved in `includes.media[]
  {media_key, type, url, preview_image_url, duration_ms, variants[] {bit_rate, content_type, url}}`; the
  media's own link is the `entities.urls[]` item that carries its `media_key`.
- DMs, in both envelopes: `message_create.message_data.attachment {type: "media", media: {...}}`, a
  v1.1 media object whose `media_url_https` is on ton.twitter.com and is served only to a request
  signed with the brand's OAuth 1.0a keys (X's "Retrieving media" guide: a bearer token is not enough).
  Such a media is `private`: the gateway downloads it, and its URL is never shown to anyone (X's own
  page for it is the conversation, which only the two participants can see).
- Links: `entities.urls[] {url, expanded_url}` (DMs: `message_data.entities.urls`); the text shows t.co.

Every function that reads a body is pure; `XMedia` does the I/O: downloads (a size limit, a type
checked by the bytes themselves, never by what the sender declared) and uploads (`POST /2/media/upload`,
one request with the image base64-encoded in JSON, as X's spec defines it).
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from sav_bridge.channels.x import fields as f
from sav_bridge.channels.x.client import X_ERRORS
from sav_bridge.config import MediaSettings
from sav_bridge.errors import Paused, PermanentError
from sav_bridge.http import VendorErrors, json_body, raise_for_vendor, send, transport_errors
from sav_bridge.model import Attachment, Media, MediaVariant

MEDIA_ERRORS = VendorErrors(name="x media", retry_after_headers=("retry-after",))
KINDS = frozenset({"photo", "video", "animated_gif"})
#: Hosts X serves public media from (photos and stills on pbs, videos and GIFs on video).
PUBLIC_HOSTS = ("pbs.twimg.com", "video.twimg.com")
#: Hosts X serves DM media from, to a request authorised as a participant of the conversation.
PRIVATE_HOSTS = ("ton.twitter.com",)
#: X's limits for an image attached to a post or DM with a one-request upload.
UPLOAD_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
UPLOAD_MAX_BYTES = 5 * 1024 * 1024
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
}
KIND_NAMES = {"photo": "photo", "video": "video", "animated_gif": "GIF"}
#: A download's refusal, for the agent. On ton.twitter.com a 401 is a DM media deleted or expired.
REFUSALS = {
    401: "X refused it to the brand (deleted, expired or not shared)",
    403: "X refused access",
    404: "no longer on X",
    410: "no longer on X",
}
#: Why a DM's media is not attached when the gateway has no OAuth 1.0a keys (x.auth: oauth2 alone).
NO_DM_ACCESS = "X gives a DM's media only to OAuth 1.0a access, which this gateway is not set up with"
_TCO = re.compile(r"https?://t\.co/[A-Za-z0-9]+")


class MediaRefused(Exception):
    """This media will not be attached, whatever we try again: `reason` says why, for the agent."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# -- reading what X says ----------------------------------------------------------------------------
def v1_media(tweet: Mapping[str, Any]) -> tuple[Media, ...]:
    """The media of an Account Activity (v1.1) post, from `extended_entities` (X's complete list)."""
    extended = f.obj(tweet.get("extended_tweet"))
    holder = f.obj(extended.get("extended_entities")) or f.obj(tweet.get("extended_entities"))
    return tuple(m for m in (_v1_item(item, False) for item in f.optional_list(holder.get("media"))) if m)


def dm_media(message_data: Mapping[str, Any]) -> tuple[Media, ...]:
    """The media of a DM (`message_data.attachment`): private to the conversation."""
    attachment = f.obj(message_data.get("attachment"))
    if attachment.get("type") != "media":
        return ()
    found = _v1_item(attachment.get("media"), True)
    return (found,) if found else ()


def _v1_item(item: Any, private: bool) -> Media | None:
    if not isinstance(item, dict):
        return None
    url = _https(item.get("media_url_https"))
    kind = item.get("type")
    if url is None or kind not in KINDS:
        return None
    info = f.obj(item.get("video_info"))
    variants = tuple(
        MediaVariant(v_url, _str(v.get("content_type")), _int(v.get("bitrate")))
        for v in f.optional_list(info.get("variants"))
        if isinstance(v, dict) and (v_url := _https(v.get("url")))
    )
    return Media(
        kind=str(kind),
        url=url,
        private=private,
        page_url=None if private else _https(item.get("expanded_url")),
        variants=variants,
        duration_ms=_int(info.get("duration_millis")),
    )


def v2_media(post: Mapping[str, Any], includes: Mapping[str, Any], post_url: str) -> tuple[Media, ...]:
    """The media of an API v2 post: `attachments.media_keys` looked up in `includes.media`."""
    keys = [
        k for k in f.optional_list(f.obj(post.get("attachments")).get("media_keys")) if isinstance(k, str)
    ]
    known = {m.get("media_key"): m for m in f.optional_list(includes.get("media")) if isinstance(m, dict)}
    found = []
    for index, key in enumerate(keys, start=1):
        item = f.obj(known.get(key))
        kind = item.get("type")
        variants = tuple(
            MediaVariant(v_url, _str(v.get("content_type")), _int(v.get("bit_rate")))
            for v in f.optional_list(item.get("variants"))
            if isinstance(v, dict) and (v_url := _https(v.get("url")))
        )
        url = (
            _https(item.get("url"))
            or _https(item.get("preview_image_url"))
            or (variants[0].url if variants else None)
        )
        if kind not in KINDS or url is None:
            continue
        private = _host(url) in PRIVATE_HOSTS
        page = None if private else f"{post_url}/{'photo' if kind == 'photo' else 'video'}/{index}"
        found.append(Media(str(kind), url, private, page, variants, _int(item.get("duration_ms"))))
    return tuple(found)


def expand_links(text: str, urls: Any, media_links: Iterable[str] = ()) -> tuple[str, tuple[str, ...]]:
    """`text` with each t.co link replaced by the address it stands for, and those addresses in order.

    The t.co links X appends for attached media (`media_links`, or `entities.urls[]` items with a
    `media_key`) are removed: the media themselves reach the ticket. A t.co link X did not explain is
    left as it is.
    """
    hidden = set(media_links)
    expanded: dict[str, str] = {}
    for item in f.optional_list(urls):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        if item.get("media_key"):
            hidden.add(item["url"])
            continue
        target = item.get("unwound_url") if isinstance(item.get("unwound_url"), str) else None
        target = target or (item.get("expanded_url") if isinstance(item.get("expanded_url"), str) else None)
        if target and _TCO.fullmatch(item["url"]):
            expanded[item["url"]] = f.text(target)
    links: list[str] = []

    def replace(match: re.Match[str]) -> str:
        short = match.group(0)
        if short in hidden:
            return ""
        target = expanded.get(short)
        if target is None:
            return short
        if target not in links:
            links.append(target)
        return target

    new_text = _TCO.sub(replace, text)
    if new_text != text:
        new_text = re.sub(r"[ \t]+$", "", new_text, flags=re.MULTILINE).strip()
    return new_text, tuple(links)


def v1_media_links(tweet: Mapping[str, Any]) -> list[str]:
    """The t.co links X appended to a v1.1 post's text for its media."""
    extended = f.obj(tweet.get("extended_tweet"))
    holders = [f.obj(extended.get("extended_entities")), f.obj(tweet.get("extended_entities")),
               f.obj(extended.get("entities")), f.obj(tweet.get("entities"))]  # fmt: skip
    return [
        m["url"]
        for h in holders
        for m in f.optional_list(h.get("media"))
        if isinstance(m, dict) and isinstance(m.get("url"), str)
    ]


def dm_media_links(message_data: Mapping[str, Any]) -> list[str]:
    media = f.obj(f.obj(message_data.get("attachment")).get("media"))
    return [media["url"]] if isinstance(media.get("url"), str) else []


def _https(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith("https://") and len(value) <= 2048 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


# -- what to fetch ----------------------------------------------------------------------------------
def candidates(media: Media, max_bytes: int) -> list[str]:
    """The URLs worth downloading for `media`, best first.

    A photo is its URL. A video or GIF is its MP4 variants (X also lists an HLS playlist, which is not
    a file), highest bit rate first among those whose size, estimated from bit rate and duration, fits
    `max_bytes`; then the smallest of the others, since an estimate is only an estimate.
    """
    if media.kind == "photo":
        return [media.url]
    mp4 = sorted(
        (v for v in media.variants if (v.content_type or "").lower() == "video/mp4"),
        key=lambda v: v.bit_rate or 0,
        reverse=True,
    )
    fits = [v for v in mp4 if _estimate(v, media.duration_ms) <= max_bytes]
    rest = [v for v in mp4 if v not in fits]
    return [v.url for v in fits] + ([rest[-1].url] if rest else [])


def _estimate(variant: MediaVariant, duration_ms: int | None) -> float:
    if variant.bit_rate is None or duration_ms is None:
        return 0.0
    return variant.bit_rate * duration_ms / 8000


def sniff(data: bytes) -> str | None:
    """The type the bytes show, whatever the sender declared; None when it is none we know."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
    return None


def describe(media: Media) -> str:
    return KIND_NAMES.get(media.kind, "media")


def size_text(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


# -- I/O --------------------------------------------------------------------------------------------
class XMedia:
    """Downloads customers' media from X and uploads the brand's images with the brand's `auth`.

    A DM's media is fetched with `dm_auth`, which must not be the gated `auth`: ton.twitter.com answers
    401 for a DM media deleted or expired, which says nothing about the brand's access and must never
    pause X. Without `dm_auth` (OAuth 2.0 alone), a DM's media is refused with `NO_DM_ACCESS`.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_url: str,
        auth: httpx.Auth | None,
        settings: MediaSettings,
        timeout: float = 30.0,
        dm_auth: httpx.Auth | None = None,
    ) -> None:
        self._client = client
        self._api_url = api_url.rstrip("/")
        self._auth = auth
        self._dm_auth = dm_auth
        self.settings = settings
        self._timeout = httpx.Timeout(timeout)

    async def download(self, media: Media) -> Attachment:
        """The media's bytes, within `x.media.max_bytes` and of an allowed type (sniffed).

        Raises `MediaRefused` when it will never be attached (also a 401 or 403, and a pause of X's
        access: a media is never worth holding the customer's message), `RetryableError` when it may
        work later (5xx, 429, timeouts).
        """
        urls = candidates(media, self.settings.max_bytes)
        if not urls:
            raise MediaRefused("X offers no downloadable file for it")
        if media.private and self._dm_auth is None:
            raise MediaRefused(NO_DM_ACCESS)
        refusal: MediaRefused | None = None
        for url in urls:
            try:
                data = await self._fetch(url, media.private)
            except MediaRefused as exc:
                refusal = refusal or exc
                continue
            kind = sniff(data)
            if kind is None or kind not in self.settings.allowed_types:
                raise MediaRefused(f"its type ({kind or 'unknown'}) is not one the gateway attaches")
            return Attachment(_filename(url, kind), kind, data)
        raise refusal or MediaRefused("no file could be downloaded")

    async def _fetch(self, url: str, private: bool) -> bytes:
        host = _host(url)
        if host not in (PRIVATE_HOSTS if private else PUBLIC_HOSTS):
            raise MediaRefused(f"it is not on X's media servers ({host or 'no host'})")
        limit = self.settings.max_bytes
        try:
            with transport_errors(MEDIA_ERRORS):
                async with self._client.stream(
                    "GET",
                    url,
                    auth=self._dm_auth if private else None,
                    timeout=self._timeout,
                    follow_redirects=True,
                ) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        _refuse_or_retry(response)
                    declared = response.headers.get("content-length", "")
                    if declared.isascii() and declared.isdigit() and int(declared) > limit:
                        raise MediaRefused(
                            f"too large ({size_text(int(declared))}; the limit is {size_text(limit)})"
                        )
                    chunks: list[bytes] = []
                    total = 0
                    async for chunk in response.aiter_bytes():
                        total += len(chunk)
                        if total > limit:
                            raise MediaRefused(f"too large (over {size_text(limit)}, the limit)")
                        chunks.append(chunk)
        except Paused as exc:  # only a gated auth raises it, and a media is not worth waiting for
            raise MediaRefused("the gateway's access to X is paused") from exc
        return b"".join(chunks)

    async def upload(self, image: Attachment, for_dm: bool) -> str:
        """Upload one image for a post (`tweet_image`) or a DM (`dm_image`); return its media id.

        The id expires (`expires_after_secs`, a day in X's docs): use it at once, upload again on retry.
        """
        body = {
            "media": base64.b64encode(image.data).decode("ascii"),
            "media_category": "dm_image" if for_dm else "tweet_image",
        }
        response = await send(
            self._client, X_ERRORS, "POST", f"{self._api_url}/2/media/upload", json=body, auth=self._auth
        )
        data = json_body(response).get("data")
        media_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(media_id, str) or not f.optional_id(media_id):
            raise PermanentError("x", "media upload answered without data.id")
        state = f.obj(data.get("processing_info")).get("state") if isinstance(data, dict) else None
        if state == "failed":
            raise PermanentError("x", "X could not process the image")
        return media_id


def _refuse_or_retry(response: httpx.Response) -> None:
    """A download's failure: retried later when it may pass (5xx, 429), else the media is refused."""
    try:
        raise_for_vendor(response, MEDIA_ERRORS)
    except PermanentError as exc:
        reason = REFUSALS.get(response.status_code, "X refused it")
        raise MediaRefused(f"{reason} (HTTP {response.status_code})") from exc


def _filename(url: str, content_type: str) -> str:
    stem = posixpath.splitext(posixpath.basename(urlsplit(url).path))[0]
    stem = re.sub(r"[^A-Za-z0-9_-]", "", stem)[:60] or "media"
    return stem + EXTENSIONS.get(content_type, "")
