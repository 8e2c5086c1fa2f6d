"""Durable state: SQLite by default, PostgreSQL for several replicas, one interface."""

from __future__ import annotations

import time

from sav_bridge.store.database import POOL_SIZE, open_database
from sav_bridge.store.migrations import migrate
from sav_bridge.store.repository import Clock, Intent, Job, NewJob, Store

__all__ = ["Intent", "Job", "NewJob", "Store", "open_store"]


async def open_store(url: str, clock: Clock = time.time, pool_size: int = POOL_SIZE) -> Store:
    """Open the database named by `url` and bring its schema up to date (`store.migrations`)."""
    db = await open_database(url, pool_size)
    try:
        await migrate(db, url)
    except BaseException:
        await db.close()
        raise
    return Store(db, clock)
