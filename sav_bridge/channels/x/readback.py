"""Recognising one of our own writes among what X gives back when read.

X does not return a post's text exactly as it was sent: every URL (bare domains included) becomes a
`https://t.co/…` link, and post text comes HTML-escaped (`&amp;`, `&lt;`, `&gt;`). So an intent keeps,
besides the SHA-256 of the exact text, the digest of a *comparable* form: Unicode NFC, each URL found
by X's own extractor (twitter-text, the library X counts characters with) replaced by one placeholder,
white space collapsed. A text read back matches when its comparable form, taken as given or
HTML-unescaped, has that digest; both are tried because DM text is not escaped and an agent may type
"&amp;" literally. A match also needs the same target (the post answered, or the DM's participant)
within the intent's time window, so two replies differing only in a link cannot be confused in practice.
A post with an image comes back with one more t.co link at the end of its text, pointing at the image,
and a reply with the @names it answers in front of its text: the text is also tried without them.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass

from sav_bridge.channels.x.text_parser import extract_urls_with_indices

_URL = "\x00url\x00"
_SPACES = re.compile(r"\s+")
_MEDIA_LINK = re.compile(r"\s*https://t\.co/[A-Za-z0-9]+\s*$")
#: X starts a reply's text with the @names it answers ("@claire_d Merci…", `display_text_range` then
#: starting after them): they were not in the text we sent.
_REPLY_MENTIONS = re.compile(r"^(?:@[A-Za-z0-9_]{1,15}\s+)+")


@dataclass(frozen=True)
class Written:
    """A post or DM event of the brand as X returns it: `target` is the post it answers (posts) or the
    participant it was sent to (DMs)."""

    id: str
    text: str
    target: str | None


def comparable(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    for url in sorted(extract_urls_with_indices(text), key=lambda u: u["indices"][0], reverse=True):
        start, end = url["indices"]
        text = text[:start] + _URL + text[end:]
    return _SPACES.sub(" ", text).strip()


def match_digest(text: str) -> str:
    """The digest an intent keeps to recognise `text` once X has rewritten its links and escapes."""
    return hashlib.sha256(comparable(text).encode()).hexdigest()


def is_match(written: Written, target: str, digest: str) -> bool:
    if written.target != target:
        return False
    texts = {written.text, html.unescape(written.text)}
    texts |= {_MEDIA_LINK.sub("", text) for text in texts}
    texts |= {_REPLY_MENTIONS.sub("", text) for text in texts}
    return digest in {match_digest(text) for text in texts}


def find(written: list[Written], target: str, digest: str) -> str | None:
    """The id of the write that answers `target` with the text of `digest`, oldest first, if any."""
    hits = [w.id for w in written if is_match(w, target, digest)]
    return min(hits, key=lambda i: (len(i), i)) if hits else None
