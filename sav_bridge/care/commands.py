"""`sav-bridge care check "text"`: what care would make of one customer message, nothing sent or stored.

It shows the language taken (guessed from the words unless `--language` says), the mood score with each
signal and its points, each routing rule tried and why it matched or not, and the ticket update that
results (routing's, with the mood's priority and tags added). It reads `care.mood`, `care.routing` and
`care.default_language` from the configuration file and needs none of the X or helpdesk secrets: a
care-team lead can try rules on the file before it goes live. Exit 0; 2 when the configuration is wrong.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from sav_bridge.care._config import CHANNELS, LANGUAGES
from sav_bridge.errors import ConfigError

if TYPE_CHECKING:  # imported when the command runs: every other command starts without them
    from sav_bridge.care.mood import Mood
    from sav_bridge.model import TicketUpdate


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    care = commands.add_parser("care", help="social care: try a message against the mood and routing rules")
    actions = care.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="show the mood score, the routing rules that match and why, and the ticket update (nothing sent)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("text", help="a customer's message")
    check.add_argument("--language", choices=LANGUAGES, help="the customer's language (default: guessed)")
    check.add_argument(
        "--channel", choices=CHANNELS, default="mention", help="how it came (default: mention)"
    )
    check.add_argument("--followers", type=int, metavar="N", help="the author's followers")
    check.add_argument("--recent", type=int, metavar="N", default=1,
                       help="the customer's messages in the burst window, this one included (default 1)")  # fmt: skip
    check.add_argument("--account", default="", metavar="ID", help="the brand account it was sent to")
    check.add_argument("--customer-tag", action="append", default=[], dest="customer_tags", metavar="TAG",
                       help="a tag the customer has (repeat for several)")  # fmt: skip
    check.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    check.add_argument(
        "--config", default=argparse.SUPPRESS, help="YAML configuration (default: $SAV_BRIDGE_CONFIG)"
    )
    report = actions.add_parser(
        "report",
        help="first-response times, answered within the hour / 24 hours, moved to DM (from the database)",
    )
    report.add_argument("--since", required=True, type=_day, metavar="YYYY-MM-DD",
                        help="conversations opened from this day (UTC)")  # fmt: skip
    report.add_argument("--until", type=_day, metavar="YYYY-MM-DD",
                        help="up to this day, excluded (default: now)")  # fmt: skip
    report.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    report.add_argument(
        "--config", default=argparse.SUPPRESS, help="YAML configuration (default: $SAV_BRIDGE_CONFIG)"
    )


def _day(value: str) -> float:
    """A `--since`/`--until` day as epoch seconds (midnight UTC), or argparse's clear refusal."""
    from datetime import UTC, datetime

    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day written YYYY-MM-DD") from None


def run(args: argparse.Namespace, care: Mapping[str, Any], out: TextIO) -> int:
    """`care check`, on the configuration's validated `care` mapping (empty: built-in mood, no routing);
    `care report` on the configured database."""
    if args.action == "report":
        return _report(args, care, out)
    from sav_bridge.care.mood import MoodScorer
    from sav_bridge.care.routing import Routing, merge

    scorer = MoodScorer.from_config(care.get("mood"))
    routing = Routing.from_config(care.get("routing"))
    default = care.get("default_language", "fr")
    if default not in LANGUAGES:
        raise ConfigError("care.default_language", f"must be one of {', '.join(LANGUAGES)}")
    language = args.language or _guess(args.text, default)
    mood = scorer.score(args.text, language, args.recent, args.followers, public=args.channel != "dm")
    tried = routing.trace(args.text, language, args.channel, args.account, args.customer_tags)
    update = merge(routing.route(args.text, language, args.channel, args.account, args.customer_tags).update,
                   mood.update())  # fmt: skip
    trace = [(rule.name, why) for rule, why in tried]
    untried = [rule.name for rule in routing.rules[len(tried) :]]
    if args.json:
        json.dump(
            _document(language, args.language is None, mood, trace, untried, update),
            out,
            ensure_ascii=False,
            indent=2,
        )
        out.write("\n")
        return 0
    guessed = " (guessed from the words; --language to set it)" if args.language is None else ""
    out.write(f"language: {language}{guessed}\n")
    out.write(f"mood: score {mood.score:g}, {'priority ' + mood.level if mood.level else 'no priority raised'}"
              f" (high from {scorer.high:g}, urgent from {scorer.urgent:g})\n")  # fmt: skip
    for reason, points in zip(mood.reasons, mood.points, strict=True):
        out.write(f"  +{points:g}  {reason}\n")
    out.write("routing:\n" if routing.rules else "routing: no rules (care.routing)\n")
    for name, why in trace:
        out.write(f"  {'match' if why else 'no   '}  {name}{': ' + why if why else ''}\n")
    for name in untried:
        out.write(f"  -      {name}: not tried (an earlier rule matched and does not continue)\n")
    out.write(f"ticket update: {_describe(update)}\n")
    return 0


def care_section(config: str | None, environ: Mapping[str, str]) -> Mapping[str, Any]:
    """The `care` mapping of the configuration file (and SAV_BRIDGE_CARE__… variables), without asking for
    the X or helpdesk secrets that the gateway's own loading requires."""
    from sav_bridge.config import configured_care

    return configured_care(config, environ)


def _guess(text: str, default: str) -> str:
    from sav_bridge.care.ack import customer_language

    return customer_language(text, default)


def _describe(update: TicketUpdate) -> str:
    parts = [f"priority {update.priority}"] if update.priority else []
    parts += [
        f"{kind} {value}" for kind in ("group", "brand", "assignee") if (value := getattr(update, kind))
    ]
    parts += [f"tags {', '.join(update.tags)}"] if update.tags else []
    parts += [f"field {name} = {value}" for name, value in update.fields.items()]
    return "; ".join(parts) or "nothing"


def _document(
    language: str, guessed: bool, mood: Mood, trace: Sequence[tuple[str, str | None]], untried: Sequence[str],
    update: TicketUpdate,
) -> dict[str, Any]:  # fmt: skip
    return {
        "language": language,
        "language_guessed": guessed,
        "mood": {
            "score": mood.score,
            "level": mood.level,
            "tags": list(mood.tags),
            "signals": [{"reason": r, "points": p} for r, p in zip(mood.reasons, mood.points, strict=True)],
            "note": mood.note(),
        },
        "routing": [
            {"rule": name, "tried": True, "matched": why is not None, "why": why} for name, why in trace
        ]
        + [{"rule": name, "matched": False, "why": None, "tried": False} for name in untried],
        "update": {
            "priority": update.priority,
            "group": update.group,
            "brand": update.brand,
            "assignee": update.assignee,
            "tags": list(update.tags),
            "fields": dict(update.fields),
        },
    }


def _report(args: argparse.Namespace, care: Mapping[str, Any], out: TextIO) -> int:
    import asyncio
    import os
    import time

    from sav_bridge.care import report
    from sav_bridge.care.hours import OfficeHours
    from sav_bridge.config import configured_database_url
    from sav_bridge.store import open_store

    hours = OfficeHours.from_config(care.get("hours"))
    until = args.until if args.until is not None else time.time()
    url = configured_database_url(getattr(args, "config", None), os.environ)

    async def read() -> report.Report:
        store = await open_store(url)
        try:
            return report.build(await store.care.opened_between(args.since, until), hours, args.since, until)
        finally:
            await store.close()

    result = asyncio.run(read())
    if args.json:
        json.dump(result.as_json(), out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        out.write(result.table() + "\n")
    return 0
