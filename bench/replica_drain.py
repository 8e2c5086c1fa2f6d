"""A backlog drains at the helpdesk's limit across three replicas (issue 11, Concurrency), full size.

`python -m bench.replica_drain [--conversations N] [--database-url URL]` (PostgreSQL: `--database-url` or
`SAV_BRIDGE_TEST_DATABASE_URL`, in a schema of its own, dropped afterwards). It runs the suite's backlog
test (`tests/reliability/test_replicas.py`, `drain_backlog`) at the issue's size: 10,000 conversations,
each opening a Zendesk ticket (two requests), on three in-process replicas sharing one Zendesk sandbox that
enforces 700 requests a minute (429 with `Retry-After` beyond), the gateway configured at 686
(`workers.rate_limits`), on a virtual clock that the replicas' waits move: some 29 minutes of draining
in real seconds. Prints requests per minute Zendesk took, its share of the limit (target >= 95 %) and how
many it refused (target: none), and how long the run took.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

from tests.conftest import PG_ENV, postgres_schema_url
from tests.harness import Gateway
from tests.reliability.test_replicas import PLAN_PER_MINUTE, drain_backlog


async def run(url: str, conversations: int) -> None:
    replicas: list[Gateway] = []
    started = time.monotonic()
    try:
        per_minute, refused = await drain_backlog(url, conversations, replicas)
    finally:
        for gw in replicas:
            await gw.client.aclose()
            await gw.runtime.close()
    took = time.monotonic() - started
    print(
        f"replica_drain: {conversations} conversations on 3 replicas, Zendesk limit {PLAN_PER_MINUTE}/min: "
        f"{per_minute:.0f} requests/min ({per_minute / PLAN_PER_MINUTE:.1%} of the limit), "
        f"{refused} answered 429; {took:.0f} s of real time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--database-url", default=os.environ.get(PG_ENV))
    args = parser.parse_args()
    if not args.database_url:
        print(f"replica_drain: skipped, PostgreSQL only ({PG_ENV} or --database-url)")
        return
    os.environ[PG_ENV] = args.database_url
    schema = postgres_schema_url()
    url = next(schema)
    try:
        asyncio.run(run(url, args.conversations))
    finally:
        next(schema, None)


if __name__ == "__main__":
    sys.exit(main())
