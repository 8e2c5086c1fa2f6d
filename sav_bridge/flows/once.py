"""One reply, one post: each write to X is announced in the store before it is sent.

    effect recorded?  ── yes ─▶ done, nothing sent
          │ no
    intent recorded?  ── yes ─▶ read X back (billed) ── found ─▶ record it: done, nothing sent
          │ no                                   └── not found: it never happened
          ▼
    prepare (upload the reply's image, if any)
          ▼
    record intent ─▶ send ─┬─ answer ─▶ record the id, drop the intent
                           ├─ 403 duplicate content ─▶ read back ── found ─▶ record it
                           │                                     └── not found ─▶ PermanentError
                           ├─ refused (4xx, 429) or never sent (no connection) ─▶ drop the intent, raise
                           └─ lost (timeout, reset, 5xx, crash) ─▶ intent stays for the retry

A lost answer is thus never followed by a blind second send, and reads are made only after one.
`prepare` (uploading the reply's image) runs only when a send follows, before the intent: it makes
nothing the customer sees, and a retry prepares again rather than reuse what may have expired.
The text is never altered to get past X's duplicate check: a genuine duplicate goes to the agent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sav_bridge.channels.x.readback import match_digest
from sav_bridge.errors import PermanentError, RetryableError
from sav_bridge.http import NotSent
from sav_bridge.store import Store

#: X may take a few seconds to show a new post or DM to readers; a read sooner could miss it.
READ_BACK_AFTER = 10.0
#: Margin for the difference between our clock and X's when reading back from an intent's time.
CLOCK_SKEW = 120.0
#: Statuses after which X has certainly not acted on a write.
REFUSED_STATUS = frozenset({429})
DUPLICATE_DETAIL = "duplicate content"

#: (target, match digest, since epoch) → the id of the matching write on X, or None.
Find = Callable[[str, str, float], Awaitable[str | None]]


@dataclass(frozen=True)
class Write:
    """One post or DM: `key` names its result in the store, `target` is the post it answers or the
    DM's participant, `send` makes it and returns its id, `find` looks for it on X."""

    key: str
    target: str
    text: str
    send: Callable[[], Awaitable[str]]
    find: Find
    what: str = "reply"
    prepare: Callable[[], Awaitable[None]] | None = None


async def write_once(store: Store, write: Write) -> str:
    """Make `write` happen at most once, whatever failed before; return its id on X."""
    done = await store.effect(write.key)
    if done is not None:
        return str(done)
    intent = await store.intent(write.key)
    if intent is not None:
        wait = intent.at + READ_BACK_AFTER - store.clock()
        if wait > 0:
            raise RetryableError("x", f"{write.what} may have been sent; reading it back soon", None, wait)
        try:
            found = await write.find(intent.target, intent.match_sha256, intent.first_at - CLOCK_SKEW)
        except PermanentError as exc:
            raise PermanentError(
                "x", f"X's answer to this {write.what} was lost and reading X back failed ({exc.detail})"
            ) from exc
        if found is not None:
            return str(await store.complete_intent(write.key, found))
    if write.prepare is not None:
        await write.prepare()
    digest = match_digest(write.text)
    exact = hashlib.sha256(write.text.encode()).hexdigest()
    intent = await store.record_intent(write.key, write.target, exact, digest)
    try:
        sent = await write.send()
    except PermanentError as exc:
        if exc.status != 403 or DUPLICATE_DETAIL not in exc.detail.lower():
            await store.drop_intent(write.key)
            raise
        found = await write.find(write.target, digest, intent.first_at - CLOCK_SKEW)
        if found is None:
            await store.drop_intent(write.key)
            raise PermanentError(
                "x",
                f"X refused this {write.what} as a duplicate of an earlier post of the brand, and it is not "
                "among the brand's answers in this conversation; X never accepts the same text twice, "
                "so reword it",
                403,
            ) from exc
        return str(await store.complete_intent(write.key, found))
    except RetryableError as exc:
        if exc.status in REFUSED_STATUS or isinstance(exc, NotSent):
            await store.drop_intent(write.key)  # X certainly did nothing: the retry need not read back
        raise
    return str(await store.complete_intent(write.key, sent))
