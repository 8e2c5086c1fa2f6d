"""How a social message reads in a helpdesk: its subject and its text with where it came from.

Every helpdesk plugin shows a message the same way, so agents moving between tools read the same thing;
vendors differ only in markup (HTML or plain text), which each plugin adds itself.
"""

from __future__ import annotations

from sav_bridge.model import MessageKind, SocialMessage

SUBJECT_LENGTH = 80


def subject(text: str) -> str:
    """The first words of `text` on one line, cut at `SUBJECT_LENGTH` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_LENGTH else line[: SUBJECT_LENGTH - 1].rstrip() + "…"


def source_line(msg: SocialMessage) -> str:
    """Who wrote it and where: a DM, or a post with its link on X."""
    who = f"@{msg.author.screen_name}" if msg.author.screen_name else f"user {msg.author.id}"
    if msg.kind is MessageKind.DM:
        return f"DM on X from {who}"
    return f"Post on X from {who}: https://x.com/{msg.author.screen_name or 'i/web'}/status/{msg.id}"


def message_text(msg: SocialMessage) -> str:
    """The customer's words, then the source line."""
    return f"{msg.text}\n\n— {source_line(msg)}"
