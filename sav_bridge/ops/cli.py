"""`sav-bridge jobs …` and `sav-bridge quarantine …`: their arguments (`ops.commands` runs them).

Exit codes: 0 every action done (or listed); 1 one or more refused (each says why on stderr: no such
id, a state that does not allow it, a bulk action without `--yes`); 2 the configuration or the command
is wrong; 3 the database cannot be reached. A running gateway's workers pick replayed jobs up at their
next look (`workers.poll_seconds`); nothing needs restarting.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import TextIO

COMMANDS = ("jobs", "quarantine")
#: The states `--state` takes (`store.job_admin.STATES`, not imported: the command line starts fast).
STATES = ("pending", "running", "done", "dead", "skipped")


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    jobs = commands.add_parser(
        "jobs", help="the outbox's jobs: list, show, retry, replay, skip (dead letters)"
    )
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="jobs, newest first, with their state and last error")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--kind", help="x.message, helpdesk.ticket_changed, reply.publish, helpdesk.note")
    listing.add_argument("--conversation", metavar="ORDERING_KEY", help="the jobs of one conversation")
    listing.add_argument(
        "--older-than", metavar="AGE", help="created at least this long ago: 90s, 30m, 2h, 3d"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    show = actions.add_parser("show", help="one job: payload (scrubbed), effects recorded, history")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    for name, text in (
        ("retry", "run dead or waiting jobs now, attempts kept"),
        ("replay", "put dead (or skipped) jobs back to pending, same idempotency key, attempts from 1"),
        ("skip", "never run these dead jobs: their conversations go on"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("ids", type=int, nargs="*", metavar="ID")
        action.add_argument("--all-dead", action="store_true", help="every dead job (of --kind)")
        action.add_argument("--kind", help="with --all-dead: only jobs of this kind")
        action.add_argument("--yes", action="store_true", help="confirm --all-dead")
        action.add_argument("--actor", help="who acts, for the administration log (default: your login)")
        if name == "replay":
            action.add_argument("--force", action="store_true",
                                help="also done jobs: they reconcile with what they recorded, never write twice")  # fmt: skip
        if name == "skip":
            action.add_argument("--reason", required=True, help="why, for the administration log")

    quarantine = commands.add_parser(
        "quarantine", help="signed bodies that could not be parsed: list, show, replay"
    )
    q_actions = quarantine.add_subparsers(dest="action", required=True)
    q_list = q_actions.add_parser("list", help="kept bodies, newest first (never their content)")
    q_list.add_argument("--source", help="x, x:mentions, x:dm_events or the helpdesk's name")
    q_list.add_argument("--limit", type=int, default=50)
    q_list.add_argument("--json", action="store_true")
    q_show = q_actions.add_parser("show", help="one body, secrets and texts masked")
    q_show.add_argument("id", type=int)
    q_show.add_argument("--json", action="store_true")
    q_replay = q_actions.add_parser(
        "replay", help="read bodies again with today's parser and accept them (never twice)"
    )
    q_replay.add_argument("ids", type=int, nargs="*", metavar="ID")
    q_replay.add_argument("--all", action="store_true", help="every kept body (of --source)")
    q_replay.add_argument("--source", help="with --all: only bodies of this source")
    q_replay.add_argument("--yes", action="store_true", help="confirm --all")
    q_replay.add_argument("--actor", help="who acts, for the administration log (default: your login)")


def run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    from sav_bridge.ops.commands import run as run_command

    return run_command(args, environ, out, err)
