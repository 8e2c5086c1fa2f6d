"""Unhappy customers first: a score for each incoming message, from signals a person can check.

No black box: the score is the sum of the points of the signals below, and each signal that fired is
one short line the agent reads in the ticket's note ("priority high: 3 messages in 10 minutes;
'inadmissible'; 48k followers").

| signal | points |
|---|---|
| several messages in a short time: `burst.messages` (3) or more in `burst.minutes` (10) | 2, +0.5 a message past it, at most 3 |
| an escalation word or phrase ("inadmissible", "avocat", "refund", "lawyer", …), each | 1.5, at most 3 words counted |
| negative tone, from the lexicon of the message's language (`_tone`), when below -0.25 | 2.5 × the tone's strength (up to 2.5) |
| written in capitals: 70 % of at least 12 letters (handles, hashtags and links left out) | 1 |
| repeated punctuation: "!!!", "???", "?!" | 0.5 |
| a public post by an account with `influencer_followers` (10,000) followers or more | 1.5; 2.5 at ten times that |

Capitals and "!!!" are enthusiasm, not anger, in a message whose tone is positive (+0.25 or more: "MERCI
POUR LE REMBOURSEMENT !!!"): there they count for nothing. Escalation words are left out of the French
tone (they are counted once, as escalation words). Negative tone alone never reaches `high` (3), by
design: a lexicon can misread one message, so it takes a second signal to raise a ticket.

Levels: `thresholds.high` (3) and `thresholds.urgent` (6). A message at `high` or above gets the
`tags.unhappy` tag (sav_unhappy); the influencer signal also tags `tags.influencer` (sav_influencer),
whatever the score. Escalation words are matched case and accents aside, as whole words (an entry ending
in `*` also matches longer words); `escalation_words.fr` or `.en` replaces the built-in list of that
language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sav_bridge.care import _config
from sav_bridge.care._tone import Tone, tone
from sav_bridge.care._words import Phrases, fold
from sav_bridge.errors import ConfigError
from sav_bridge.model import TicketUpdate

KEY = "care.mood"

#: Points of each signal (module docstring).
BURST_POINTS, BURST_EXTRA, BURST_MAX = 2.0, 0.5, 3.0
ESCALATION_POINTS, ESCALATION_MAX_WORDS = 1.5, 3
TONE_POINTS, TONE_BELOW = 2.5, -0.25
CAPS_POINTS, CAPS_SHARE, CAPS_MIN_LETTERS = 1.0, 0.7, 12
PUNCTUATION_POINTS = 0.5
INFLUENCER_POINTS, BIG_INFLUENCER_POINTS, BIG_INFLUENCER_TIMES = 1.5, 2.5, 10
#: A tone at least this positive makes capitals and "!!!" enthusiasm.
ENTHUSIASM_ABOVE = 0.25

ESCALATION_WORDS: Mapping[str, tuple[str, ...]] = {
    "fr": (
        "inadmissible", "inacceptable", "intolérable", "scandale", "scandaleux", "scandaleuse", "honteux",
        "honteuse", "c'est une honte", "lamentable", "rembours*", "avocat", "avocats", "plainte",
        "porter plainte", "tribunal", "procès", "justice", "résilier", "résiliation", "résilie", "ufc",
        "que choisir", "60 millions", "médiateur", "dgccrf", "arnaque", "arnaquer", "arnaqueurs", "escroc",
        "escrocs", "escroquerie", "voleurs", "ras le bol", "j'en ai marre", "plus jamais",
    ),
    "en": (
        "unacceptable", "outrageous", "disgrace", "disgraceful", "shameful", "ridiculous", "worst", "refund*",
        "cancel", "cancelling", "canceling", "lawyer", "lawyers", "attorney", "sue", "suing", "lawsuit",
        "complaint", "file a complaint", "ombudsman", "scam", "scammers", "rip off", "ripoff", "fed up",
        "never again", "close my account",
    ),
}  # fmt: skip

_REPEATED = re.compile(r"[!?‼⁉]*(?:[!?]{3}|\?!|!\?|[‼⁉][!?‼⁉])[!?‼⁉]*")
_NOT_WORDS = re.compile(r"https?://\S+|[@#]\w+")


@dataclass(frozen=True)
class Mood:
    """How unhappy a message reads, and why.

    `level` is None (no raise), "high" or "urgent"; `reasons` are short lines for the agent, with the
    points each was worth in `points` (same order)."""

    score: float
    level: str | None
    tags: tuple[str, ...]
    reasons: tuple[str, ...]
    points: tuple[float, ...] = ()

    def update(self) -> TicketUpdate:
        """What this mood asks of the ticket: its level as priority (never lowered) and its tags."""
        return TicketUpdate(priority=self.level, tags=self.tags)

    def note(self) -> str:
        """The line for the ticket's internal note: "priority high: 3 messages in 10 minutes; 'inadmissible'"."""
        head = f"priority {self.level}" if self.level else f"mood score {self.score:g}"
        return f"{head}: {'; '.join(self.reasons)}" if self.reasons else head


@dataclass(frozen=True)
class MoodScorer:
    """`care.mood`, read once; `score` is pure and costs a regex pass and one lexicon look-up per message."""

    high: float = 3.0
    urgent: float = 6.0
    burst_messages: int = 3
    burst_minutes: float = 10.0
    influencer_followers: int = 10_000
    unhappy_tag: str = "sav_unhappy"
    influencer_tag: str = "sav_influencer"
    escalation: Mapping[str, Phrases] | None = None

    @classmethod
    def from_config(cls, raw_mood: Mapping[str, Any] | None) -> MoodScorer:
        """Defaults where a key is absent; ConfigError naming the key (`care.mood.thresholds.high`)."""
        known = ("thresholds", "burst", "influencer_followers", "tags", "escalation_words")
        raw = _config.section(raw_mood, KEY, known)
        thresholds = _config.section(raw.get("thresholds"), f"{KEY}.thresholds", ("high", "urgent"))
        high = _config.number(thresholds.get("high", cls.high), f"{KEY}.thresholds.high", 0.5)
        urgent = _config.number(thresholds.get("urgent", cls.urgent), f"{KEY}.thresholds.urgent", 0.5)
        if urgent < high:
            raise ConfigError(f"{KEY}.thresholds.urgent", "must be at least thresholds.high")
        burst = _config.section(raw.get("burst"), f"{KEY}.burst", ("messages", "minutes"))
        messages = _config.number(burst.get("messages", cls.burst_messages), f"{KEY}.burst.messages", 2, True)
        minutes = _config.number(burst.get("minutes", cls.burst_minutes), f"{KEY}.burst.minutes", 1)
        followers = raw.get("influencer_followers", cls.influencer_followers)
        followers = _config.number(followers, f"{KEY}.influencer_followers", 1, True)
        tags = _config.section(raw.get("tags"), f"{KEY}.tags", ("unhappy", "influencer"))
        unhappy = _config.text(tags.get("unhappy", cls.unhappy_tag), f"{KEY}.tags.unhappy")
        influencer = _config.text(tags.get("influencer", cls.influencer_tag), f"{KEY}.tags.influencer")
        words = _config.section(
            raw.get("escalation_words"), f"{KEY}.escalation_words", tuple(ESCALATION_WORDS)
        )
        escalation = {
            language: _phrases(words.get(language), f"{KEY}.escalation_words.{language}", default)
            for language, default in ESCALATION_WORDS.items()
        }
        return cls(high, urgent, int(messages), minutes, int(followers), unhappy, influencer, escalation)

    def score(
        self, text: str, language: str, recent_messages: int, followers: int | None, public: bool
    ) -> Mood:
        """Score one customer message. `recent_messages`: this customer's messages in this conversation
        within `burst_minutes`, this one included; `followers`: the author's, when known; `public`: a post
        (mention or reply), not a DM."""
        signals: list[tuple[str, float]] = []
        tags: list[str] = []
        if recent_messages >= self.burst_messages:
            points = min(BURST_POINTS + BURST_EXTRA * (recent_messages - self.burst_messages), BURST_MAX)
            signals.append((f"{recent_messages} messages in {self.burst_minutes:g} minutes", points))
        words = [text[w.start : w.end].lower() for w in self._escalation(language).find(fold(text))]
        signals += [(f"'{word}'", ESCALATION_POINTS) for word in words[:ESCALATION_MAX_WORDS]]
        read = tone(text, language, leave_out=words)
        if read is not None and read.polarity <= TONE_BELOW:
            signals.append((_tone_reason(read), round(TONE_POINTS * min(-read.polarity, 1.0), 1)))
        if read is None or read.polarity < ENTHUSIASM_ABOVE:
            signals += _emphasis(text)
        if public and followers is not None and followers >= self.influencer_followers:
            big = followers >= BIG_INFLUENCER_TIMES * self.influencer_followers
            points = BIG_INFLUENCER_POINTS if big else INFLUENCER_POINTS
            signals.append((f"{_count(followers)} followers", points))
            tags.append(self.influencer_tag)
        score = round(sum(points for _, points in signals), 2)
        level = "urgent" if score >= self.urgent else "high" if score >= self.high else None
        if level:
            tags.insert(0, self.unhappy_tag)
        return Mood(score, level, tuple(tags), tuple(r for r, _ in signals), tuple(p for _, p in signals))

    def _escalation(self, language: str) -> Phrases:
        phrases = self.escalation or _builtin()
        return phrases.get(language) or Phrases(())


def _phrases(value: Any, key: str, default: tuple[str, ...]) -> Phrases:
    if value is None:
        return Phrases(default)
    entries = _config.texts(value, key)
    for i, entry in enumerate(entries):
        if not any(c.isalnum() for c in entry):
            raise ConfigError(f"{key}[{i}]", "must hold a letter or a digit")
    return Phrases(entries)


_BUILTIN: dict[str, Phrases] = {}


def _builtin() -> Mapping[str, Phrases]:
    if not _BUILTIN:
        _BUILTIN.update({language: Phrases(words) for language, words in ESCALATION_WORDS.items()})
    return _BUILTIN


def _tone_reason(read: Tone) -> str:
    words = ", ".join(repr(w) for w in read.negative_words[:3])
    return f"negative tone ({read.lexicon} {_signed(read.polarity)}{': ' + words if words else ''})"


def _emphasis(text: str) -> list[tuple[str, float]]:
    """Capitals and repeated punctuation, the written raised voice."""
    found = [("all caps", CAPS_POINTS)] if _shouting(text) else []
    repeated = _REPEATED.search(text)
    return found + ([(f"'{repeated.group()}'", PUNCTUATION_POINTS)] if repeated else [])


def _shouting(text: str) -> bool:
    letters = [c for c in _NOT_WORDS.sub(" ", text) if c.isalpha()]
    if len(letters) < CAPS_MIN_LETTERS:
        return False
    return sum(c.isupper() for c in letters) >= CAPS_SHARE * len(letters)


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def _count(followers: int) -> str:
    """48200 → "48k", 1250000 → "1.2M": how people say follower counts."""
    if followers >= 1_000_000:
        return f"{followers / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
    if followers >= 10_000:
        return f"{followers // 1000}k"
    if followers >= 1000:
        return f"{followers / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return str(followers)
