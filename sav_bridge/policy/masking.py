"""What a finding may show of what it found, in a note, the audit log or the posted text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sav_bridge.model import Finding

MASK = "•"


def preview(kind: str, value: str) -> str:
    """A value as it may appear in a note or the audit log: never the whole of it."""
    if kind == "email":
        local, _, domain = value.partition("@")
        name, _, tld = domain.rpartition(".")
        return f"{local[:1]}{MASK * 3}@{name[:1]}{MASK * 3}.{tld}"
    if kind == "iban":
        return f"{MASK * 4} {value[-4:]}"  # its last four characters, letters too ("MT…001S")
    return mask_number(value)


def hide_word(word: str) -> str:
    """A listed term as a note may show it: first and last letters ("m•••e")."""
    return word if len(word) <= 2 else word[0] + MASK * (len(word) - 2) + word[-1]


def mask_number(value: str) -> str:
    """The last four digits of a long number, the rest hidden."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) >= 6:
        return f"{MASK * 4} {''.join(digits[-4:])}"
    return MASK * 4


def visible_tail(characters: int, keep: int) -> int:
    """How many of a reference's last letters and digits stay visible: `keep`, at most half of them."""
    return max(0, min(keep, characters // 2))


def mask_reference(value: str, keep: int) -> str:
    """A reference as a note may show it: its last letters and digits ("••••8841")."""
    characters = [c for c in value if c.isalnum()]
    tail = visible_tail(len(characters), keep)
    return MASK * 4 + "".join(characters[len(characters) - tail :])


def redact(text: str, findings: Iterable[Finding], keep: Mapping[str, int] | None = None) -> str:
    """Mask every letter and digit of the spans, keeping the last four characters of an IBAN, the last
    four digits of other long numbers, or for the rules in `keep` (rule id → count) that many of the
    last letters and digits of a reference."""
    chars = list(text)
    for finding in findings:
        span = range(finding.start, finding.end)
        if keep and finding.rule in keep:
            characters = [i for i in span if chars[i].isalnum()]
            kept = set(characters[len(characters) - visible_tail(len(characters), keep[finding.rule]) :])
            for i in characters:
                if i not in kept:
                    chars[i] = MASK
            continue
        if finding.category == "iban":
            visible = set([i for i in span if chars[i].isalnum()][-4:])
        else:
            digits = [i for i in span if chars[i].isdigit()]
            visible = set(digits[-4:]) if len(digits) >= 8 else set()
        for i in span:
            if chars[i].isalnum() and i not in visible:
                chars[i] = MASK
    return "".join(chars)
