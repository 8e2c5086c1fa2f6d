"""The posting decisions as compliance staff read them: filtered, paginated, exportable as CSV.

Entries never carry a reply's text, only its hash: a blocked card number is not kept, so it cannot leak
from here. The CSV neutralises cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from sav_bridge.runtime import Runtime

FIELDS = ("id", "at", "ticket", "comment", "agent_id", "agent_name", "audience", "action", "rules",
          "policy_version", "text_sha256")  # fmt: skip
#: Rows read per request at most while filtering on what the database cannot (action, rule, agent).
SCAN = 5000
FILTERS = ("since", "until", "action", "rule", "agent", "version")
#: How a cell a spreadsheet would run as a formula begins (OWASP's list).
FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: Decisions one CSV export holds at most (narrow it with `since` and `until` beyond).
MAX_EXPORT = 100_000


def unix_time(value: str | None) -> float | None:
    """A Unix time from the query string (None when absent); `ValueError` for anything else."""
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"not a Unix time: {value[:20]!r}") from None
    if not abs(number) < 1e12:  # also NaN and infinities
        raise ValueError(f"not a Unix time: {value[:20]!r}")
    return number


def count_or_none(raw: object) -> int | None:
    """A non-negative id or count from a path or query parameter; None for anything else."""
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 12 else None


@dataclass(frozen=True)
class AuditPage:
    entries: list[dict[str, Any]]
    #: The `before` of the next page; None on the last one.
    next_before: int | None


def entry(row: Mapping[str, Any]) -> dict[str, Any]:
    detail = json.loads(row["detail"])
    helpdesk, _, rest = str(row["subject"]).partition(":")
    ticket, _, comment = rest.partition(":")
    agent = detail.get("agent") or {}
    rules = sorted({str(f.get("rule")) for f in detail.get("findings", []) if isinstance(f, dict)})
    return {"id": row["id"], "at": row["at"], "ticket": f"{helpdesk}:{ticket}", "comment": comment,
            "agent_id": agent.get("id"), "agent_name": agent.get("name"), "audience": detail.get("audience"),
            "action": detail.get("action"), "rules": rules, "policy_version": row["policy_version"],
            "text_sha256": detail.get("text_sha256")}  # fmt: skip


async def read(runtime: Runtime, params: Mapping[str, str], limit: int | None = None) -> AuditPage:
    """Decisions newest first: `since`/`until` (Unix times), `action`, `rule`, `agent`, `version`,
    `limit` (≤ 500), `before` (an id: the next page). `ValueError` for a time that is not one. A request
    reads `SCAN` rows at most, so a filtered page may hold fewer than `limit` and still have a next one."""
    since, until = unix_time(params.get("since")), unix_time(params.get("until"))
    before = count_or_none(params.get("before"))
    limit = limit or min(max(count_or_none(params.get("limit")) or 100, 1), 500)
    version = params.get("version") or None
    if version is not None and "\x00" in version:  # no version is named so, and PostgreSQL refuses NUL
        return AuditPage([], None)
    rows = await runtime.store.audit_page("policy", since, until, version, before, SCAN)
    action, rule, agent = params.get("action"), params.get("rule"), params.get("agent")
    entries = [
        e for e in map(entry, rows)
        if (not action or e["action"] == action) and (not rule or rule in e["rules"])
        and (not agent or agent in (e["agent_id"], e["agent_name"]))
    ][:limit]  # fmt: skip
    if len(entries) == limit:
        return AuditPage(entries, entries[-1]["id"])
    return AuditPage(entries, rows[-1]["id"] if len(rows) == SCAN else None)


async def read_all(runtime: Runtime, params: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every decision the filters keep, from `before` on, for an export: `MAX_EXPORT` at most."""
    query: dict[str, str] = dict(params)
    entries: list[dict[str, Any]] = []
    while len(entries) < MAX_EXPORT:
        page = await read(runtime, query, min(500, MAX_EXPORT - len(entries)))
        entries += page.entries
        if page.next_before is None:
            break
        query["before"] = str(page.next_before)
    return entries


def as_csv(entries: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for e in entries:
        row = [";".join(e[f]) if f == "rules" else e[f] for f in FIELDS]
        writer.writerow(["'" + v if isinstance(v, str) and v.startswith(FORMULA) else v for v in row])
    return out.getvalue()


def csv_download(entries: list[dict[str, Any]], headers: Mapping[str, str] | None = None) -> Response:
    """The entries as the CSV file a browser saves (the API's `?format=csv` and the page's export)."""
    disposition = {"Content-Disposition": 'attachment; filename="sav-bridge-audit.csv"'}
    return Response(
        as_csv(entries), media_type="text/csv; charset=utf-8", headers={**(headers or {}), **disposition}
    )
