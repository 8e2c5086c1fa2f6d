"""One replica's share of the shared rate-limit test: `python -m tests.reliability.rate_worker URL NAME
PER_SECOND COUNT` sends COUNT requests through `limiter_hook` (to an in-process network), prints
"ready", starts on a line from stdin, then prints the wall-clock time each request left, one a line."""

from __future__ import annotations

import asyncio
import sys
import time

import httpx

from sav_bridge.store.database import open_database
from sav_bridge.store.destinations import Destinations
from sav_bridge.throttle import limiter_hook


async def main(url: str, name: str, per_second: float, count: int) -> None:
    db = await open_database(url)
    sent: list[float] = []

    def network(request: httpx.Request) -> httpx.Response:
        sent.append(time.time())
        return httpx.Response(200)

    destinations = Destinations(db, time.time)
    hook = limiter_hook(destinations, name, per_second, max_wait=3600)
    transport = httpx.MockTransport(network)
    async with httpx.AsyncClient(transport=transport, timeout=5, event_hooks={"request": [hook]}) as client:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for _ in range(count):
            await client.post(f"https://{name}.example/api")
    await db.close()
    print("\n".join(repr(t) for t in sent), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
