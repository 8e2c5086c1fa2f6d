"""What `sav-bridge jobs …` and `sav-bridge quarantine …` do, on the configured database, as tables or JSON."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TextIO

from sav_bridge import logs
from sav_bridge.config import Settings, load_settings
from sav_bridge.egress import AllowList, outbound_client
from sav_bridge.metrics import Metrics
from sav_bridge.ops.jobs import JobOps, Refused, iso, job_filter, span
from sav_bridge.ops.quarantine import QuarantineOps
from sav_bridge.ops.scrub import Scrubber
from sav_bridge.store import Store, open_store
from sav_bridge.store.job_admin import Change, JobAdmin
from sav_bridge.store.quarantine_admin import QuarantineAdmin

#: Characters of the error (and reason) column in a table; `show` prints them whole.
ERROR_COLUMN = 60
Action = Callable[[int], Awaitable[dict[str, Any]]]


def run(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    settings = load_settings(args.config, environ)
    logs.configure(settings.log_level, settings.secrets())
    return asyncio.run(_run(args, settings, out, err))


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    store = await open_store(settings.database_url)
    scrub = Scrubber(settings.secrets())
    try:
        if args.command == "jobs":
            return await _jobs(args, JobOps(store, scrub), out, err)
        return await _quarantine(args, settings, store, scrub, out, err)
    finally:
        await store.close()


def _shown(value: Any, as_json: bool, as_text: Callable[[], None], out: TextIO) -> int:
    """What `list` and `show` print: the JSON document, or the readable form."""
    if as_json:
        print(json.dumps(value, indent=2, ensure_ascii=False), file=out)
    else:
        as_text()
    return 0


def _refused(refused: Refused, err: TextIO) -> int:
    print(f"sav-bridge: {refused.message}", file=err)
    return 2 if refused.status == 400 else 1


# -- jobs ------------------------------------------------------------------------------------------
async def _jobs(args: argparse.Namespace, ops: JobOps, out: TextIO, err: TextIO) -> int:
    try:
        if args.action == "list":
            where = job_filter(args.state, args.kind, args.conversation, args.older_than, args.limit,
                               ops.store.clock())  # fmt: skip
            jobs, more = await ops.list(where)
            return _shown({"jobs": jobs, "more": more}, args.json, lambda: _job_table(jobs, more, out), out)
        if args.action == "show":
            detail = await ops.show(args.id)
            return _shown(detail, args.json, lambda: _job_detail(detail, out), out)
    except Refused as refused:
        return _refused(refused, err)
    change = Change(_actor(args.actor), _address(), getattr(args, "reason", "") or "")
    act: Action = {
        "retry": lambda i: ops.retry(i, change),
        "replay": lambda i: ops.replay(i, change, args.force),
        "skip": lambda i: ops.skip(i, change),
    }[args.action]
    ids = await _chosen(args.ids, args.all_dead, args.yes, args.action, "dead job",
                        lambda: JobAdmin(ops.store.db, ops.store.clock).dead_ids(args.kind), err)  # fmt: skip
    return 1 if ids is None else await _each(ids, act, out, err)


def _job_table(jobs: list[dict[str, Any]], more: bool, out: TextIO) -> None:
    if not jobs:
        print("no job matches", file=out)
        return
    rows = [["ID", "KIND", "STATE", "ATT", "AGE", "NEXT", "ORDERING KEY", "LAST ERROR"]]
    for job in jobs:
        rows.append([str(job["id"]), job["kind"], job["state"], str(job["attempts"]), span(job["age_seconds"]),
                     _next(job), job["ordering_key"], _cut(job["last_error"] or "", ERROR_COLUMN)])  # fmt: skip
    _table(rows, out)
    if more:
        print(f"… more jobs match: narrow the filters or raise --limit (showing {len(jobs)})", file=out)


def _next(job: dict[str, Any]) -> str:
    if job["held_by"] is not None:
        return f"held by {job['held_by']}"
    if job["state"] == "running":
        return "running"
    due = job["due_in_seconds"]
    if due is None:
        return "-"
    return "now" if due <= 0 else f"in {span(due)}"


def _effect_line(effect: dict[str, Any]) -> str:
    """A result as the id it recorded; an intent as what a read-back looks for, and since when."""
    value = effect["value"]
    if effect["type"] == "result" or not isinstance(value, dict):
        shown = value.get("id") if isinstance(value, dict) and "id" in value else value
        return f"{json.dumps(shown, ensure_ascii=False)}  (recorded {effect['recorded_at']})"
    first = iso(value.get("first_at")) if isinstance(value.get("first_at"), int | float) else "?"
    refused = ", X refused a resend as a duplicate" if value.get("duplicate") else ""
    return (f"to {value.get('target')}, first sent {first}, read-backs missed {value.get('misses', 0)}{refused}: "
            "no result recorded, the next run reads X back")  # fmt: skip


def _job_detail(job: dict[str, Any], out: TextIO) -> None:
    archived = " · archived" if job.get("archived") else ""
    print(f"job {job['id']} · {job['kind']} · {job['state']}{archived}", file=out)
    fields = [
        ("idempotency key", job["idempotency_key"]),
        ("ordering key", job["ordering_key"]),
        ("ticket", job["ticket"] or "-"),
        ("attempts", f"{job['attempts']} (lease token {job['lease_token']})"),
        ("created", f"{job['created_at']} ({span(job['age_seconds'])} ago)"),
        ("updated", job["updated_at"]),
        ("next attempt", _next(job) if job["state"] in ("pending", "running") else "-"),
        ("last error", job["last_error"] or "-"),
    ]
    if job["holds"]:
        fields.append(("holds", ", ".join(f"{h['id']} {h['kind']} ({h['state']})" for h in job["holds"])))
    for name, value in fields:
        print(f"  {name:<17}{value}", file=out)
    print(f"effects: {job['effects_note']}", file=out)
    for effect in job["effects"]:
        print(f"  {effect['type']:<7}{effect['key']}  {_effect_line(effect)}", file=out)
    if not job["effects"]:
        print("  (none recorded)", file=out)
    print("payload (texts, addresses and secrets masked):", file=out)
    for line in json.dumps(job["payload"], indent=2, ensure_ascii=False).splitlines():
        print(f"  {line}", file=out)
    print("history:", file=out)
    for entry in job["history"]:
        reason = f": {entry['reason']}" if entry["reason"] else ""
        print(f"  {entry['at']}  {entry['actor']} ({entry['address']})  {entry['action']}{reason}", file=out)
    if not job["history"]:
        print("  (nobody acted on it)", file=out)


# -- quarantine ------------------------------------------------------------------------------------
async def _quarantine(
    args: argparse.Namespace, settings: Settings, store: Store, scrub: Scrubber, out: TextIO, err: TextIO
) -> int:
    from sav_bridge.helpdesks import build_helpdesk, load_helpdesk

    # The plugin only parses here: its client may reach no host at all (sav_bridge.egress).
    async with outbound_client(settings, allowed=AllowList()) as http:
        helpdesk = build_helpdesk(load_helpdesk(settings.helpdesk), settings, http, store.clock)
        ops = QuarantineOps(store, Metrics(), scrub, settings.x.account_id, helpdesk)
        try:
            if args.action == "list":
                if not 1 <= args.limit <= 1000:
                    raise Refused(400, "--limit is 1 to 1000")
                rows, more = await ops.list(args.source, args.limit)
                listing = {"quarantine": rows, "more": more}
                return _shown(listing, args.json, lambda: _quarantine_table(rows, more, out), out)
            if args.action == "show":
                detail = await ops.show(args.id)
                return _shown(detail, args.json, lambda: _quarantine_detail(detail, out), out)
        except Refused as refused:
            return _refused(refused, err)
        change = Change(_actor(args.actor), _address())
        ids = await _chosen(args.ids, args.all, args.yes, "replay", "quarantined body",
                            lambda: QuarantineAdmin(store.db, store.clock).ids(args.source), err, "--all")  # fmt: skip
        return 1 if ids is None else await _each(ids, lambda i: ops.replay(i, change), out, err)


def _quarantine_table(rows: list[dict[str, Any]], more: bool, out: TextIO) -> None:
    if not rows:
        print("the quarantine is empty", file=out)
        return
    table = [["ID", "SOURCE", "RECEIVED", "SIZE", "DIGEST", "REASON"]]
    for row in rows:
        table.append([str(row["id"]), row["source"], row["received_at"], str(row["size"]), row["digest"][:12],
                      _cut(row["reason"], ERROR_COLUMN)])  # fmt: skip
    _table(table, out)
    if more:
        print(f"… more bodies are kept: raise --limit (showing {len(rows)})", file=out)


def _quarantine_detail(row: dict[str, Any], out: TextIO) -> None:
    print(f"quarantined body {row['id']} · {row['source']} · {row['size']} bytes", file=out)
    for name in ("digest", "received_at", "reason"):
        print(f"  {name.replace('_', ' '):<12}{row[name]}", file=out)
    print("body (texts, addresses and secrets masked):", file=out)
    shown = (
        row["body"] if row["body_format"] == "text" else json.dumps(row["body"], indent=2, ensure_ascii=False)
    )
    for line in str(shown).splitlines():
        print(f"  {line}", file=out)
    for entry in row["history"]:
        print(
            f"  replayed {entry['at']} by {entry['actor']} ({entry['address']}): {entry['detail']}", file=out
        )


# -- shared ------------------------------------------------------------------------------------------
async def _chosen(
    ids: Sequence[int],
    every: bool,
    yes: bool,
    verb: str,
    what: str,
    find: Callable[[], Awaitable[list[int]]],
    err: TextIO,
    every_flag: str = "--all-dead",
) -> list[int] | None:
    """The ids to act on: those named, or with `every_flag` all found once confirmed with `--yes`
    (None, after saying why, when nothing may be done)."""
    if ids and every:
        print(f"sav-bridge: name ids or use {every_flag}, not both", file=err)
        return None
    if not every:
        if not ids:
            print(f"sav-bridge: name the ids to {verb}, or use {every_flag}", file=err)
            return None
        return list(ids)
    found = await find()
    if not found:
        print(f"no {what} to {verb}", file=err)
    elif not yes:
        listed = ", ".join(map(str, found[:20])) + (", …" if len(found) > 20 else "")
        print(
            f"sav-bridge: nothing done: add --yes to {verb} these {len(found)} {what}(s): {listed}", file=err
        )
        return None
    return found


async def _each(ids: Sequence[int], act: Action, out: TextIO, err: TextIO) -> int:
    """Act on each id in turn, a line each as it goes, then a count; 1 if any was refused (or, for a
    quarantined body, still could not be read)."""
    refused = 0
    for index, item in enumerate(ids, start=1):
        prefix = f"[{index}/{len(ids)}] " if len(ids) > 1 else ""
        try:
            done = await act(item)
        except Refused as exc:
            refused += 1
            print(f"{prefix}refused: {exc.message}", file=err, flush=True)
            continue
        if done.get("read") == "none":  # a quarantined body today's parser cannot read either
            refused += 1
            print(f"{prefix}{done['message']}", file=err, flush=True)
        else:
            print(f"{prefix}{done['message']}", file=out, flush=True)
    if len(ids) > 1:
        print(f"{len(ids) - refused} done, {refused} refused", file=out)
    return 1 if refused else 0


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out)


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _actor(given: str | None) -> str:
    if given and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _address() -> str:
    return f"cli@{socket.gethostname()}"
