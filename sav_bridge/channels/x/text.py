"""X's weighted length (CJK and emoji count double, URLs count 23) and splitting into a numbered thread.

A reply too long for one post is never cut: it becomes "text… 1/3 ^AJ", "… 2/3 ^AJ", each part
within the limit with its counter and signature, split at sentence or word boundaries.
"""

from __future__ import annotations

import re

from sav_bridge.channels.x.text_parser import parse_tweet

MAX_WEIGHTED_LENGTH = 280
DM_MAX_LENGTH = 10_000
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def weighted_length(text: str) -> int:
    return int(parse_tweet(text).weightedLength)


def fits(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> bool:
    return weighted_length(text) <= limit


def split_for_thread(body: str, signature: str, limit: int = MAX_WEIGHTED_LENGTH) -> list[str]:
    """Return the posts to publish: one if `body + signature` fits, else a numbered thread."""
    body = body.strip()
    if fits(body + signature, limit):
        return [body + signature]
    for total_guess in (9, 99, 999):
        parts = _pack(body, signature, limit, total_guess)
        if len(parts) <= total_guess:
            total = len(parts)
            return [f"{part} {i}/{total}{signature}" for i, part in enumerate(parts, start=1)]
    raise ValueError("reply is too long to post as a thread")


def _pack(body: str, signature: str, limit: int, total_guess: int) -> list[str]:
    budget_suffix = f" {total_guess}/{total_guess}{signature}"
    pieces = [
        w
        for sentence in _SENTENCE_END.split(body)
        for w in _words_or_sentence(sentence, budget_suffix, limit)
    ]
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip() if current else piece
        if fits(candidate + budget_suffix, limit):
            current = candidate
            continue
        if current:
            parts.append(current)
        current = piece
    if current:
        parts.append(current)
    return parts


def _words_or_sentence(sentence: str, suffix: str, limit: int) -> list[str]:
    """Keep a sentence whole when it fits in one part; otherwise fall back to words, then characters."""
    if fits(sentence + suffix, limit):
        return [sentence]
    out: list[str] = []
    for word in sentence.split():
        while not fits(word + suffix, limit):
            cut = len(word) // 2
            while cut > 1 and not fits(word[:cut] + suffix, limit):
                cut //= 2
            out.append(word[:cut])
            word = word[cut:]
        out.append(word)
    return out
