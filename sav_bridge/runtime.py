"""Wiring: build the store, HTTP client, X client, helpdesk plugin, flows and workers from `Settings`.

Everything with I/O is created here and passed down, so tests build a `Runtime` with a sandbox
transport and a fixed clock instead of patching anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import httpx

from sav_bridge import retention
from sav_bridge.channels.x.auth import XAccess, x_access
from sav_bridge.channels.x.billing import Budget, Meter
from sav_bridge.channels.x.client import XClient
from sav_bridge.channels.x.health import Health, health_probes
from sav_bridge.channels.x.media import XMedia
from sav_bridge.channels.x.poll import Poller
from sav_bridge.config import Settings
from sav_bridge.egress import AllowList, outbound_client
from sav_bridge.flows import (
    JOB_NOTE,
    JOB_PUBLISH_REPLY,
    JOB_SOCIAL_MESSAGE,
    JOB_TICKET_CHANGED,
    InboundFlow,
    OutboundFlow,
    scrub_reply,
)
from sav_bridge.flows.paused import noting_pauses
from sav_bridge.helpdesks import Helpdesk, build_helpdesk, load_helpdesk
from sav_bridge.metrics import Metrics
from sav_bridge.outbox import DeadHandler, Outbox
from sav_bridge.policy import Policy
from sav_bridge.policy.live import LivePolicy, PolicyFile
from sav_bridge.signature import Signer
from sav_bridge.store import Job, Store, open_store
from sav_bridge.store.ingest import JOBS_ENQUEUED
from sav_bridge.throttle import Throttle

if TYPE_CHECKING:
    from sav_bridge.care.wiring import CareParts
    from sav_bridge.worker_process import WorkerProcess

USER_AGENT = "sav-bridge/0.1 (+https://github.com/sav-bridge)"
#: What a process runs (`start_workers`): everything, the HTTP side of a replica whose workers run in a
#: process of their own (`workers.process: separate`), or that process.
Role = Literal["all", "http", "work"]

log = logging.getLogger(__name__)


def start_care(
    settings: Settings,
    store: Store,
    helpdesk: Helpdesk,
    x: XClient,
    metrics: Metrics,
    live: LivePolicy,
    clock: Callable[[], float],
) -> CareParts | None:
    """Social care when the configuration has a `care` section; its libraries (holidays, babel, the tone
    lexicons) are imported only then, so a gateway without care does not carry them."""
    if not settings.care_raw:
        return None
    from sav_bridge.care.settings import CareSettings
    from sav_bridge.care.wiring import build_care

    return build_care(CareSettings.from_raw(settings.care_raw), store, helpdesk, x, metrics, live, clock)


def dead_letter_handler(handlers: Mapping[str, DeadHandler]) -> DeadHandler:
    """One `on_dead` for the outbox that tells whoever cares about that kind of job."""

    async def on_dead(job: Job, error: str) -> None:
        handler = handlers.get(job.kind)
        if handler is not None:
            await handler(job, error)

    return on_dead


@dataclass
class Runtime:
    settings: Settings
    store: Store
    http: httpx.AsyncClient
    helpdesk: Helpdesk
    x: XClient
    metrics: Metrics
    outbox: Outbox
    clock: Callable[[], float]
    policy: LivePolicy
    poller: Poller | None = None
    #: The brand's access to X (`x.auth`): the pause all replicas share, OAuth 2.0's token keeper.
    access: XAccess | None = None
    #: The X channel's health alerts (`channels.x.health`), evaluated by a periodic task.
    health: Health | None = None
    #: The hosts `http` may reach (`sav_bridge.egress`); the console admits its provider's endpoints.
    egress: AllowList | None = None
    #: Social care's parts (`care` section), None when it is off.
    care: CareParts | None = None
    #: The workers' own process, when this runtime serves HTTP and they run apart (`sav_bridge.worker_process`).
    apart: WorkerProcess | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _deadline: float | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        policy: Policy | PolicyFile | None = None,
        store: Store | None = None,
        policy_on_demand: bool = False,
    ) -> Runtime:
        """Open the store and the clients; `policy` is loaded from `settings.policy_path` unless given, and
        `store` opened from `settings.database_url` unless given (tests: a database that fails).
        `policy_on_demand`: the policy in force is compiled when first used (`policy.live`), for an HTTP
        process whose workers run in a process of their own."""
        store = store if store is not None else await open_store(settings.database_url, clock)
        if policy is None:
            read = PolicyFile.read if policy_on_demand else Policy.from_file
            policy = read(settings.policy_path)
        live = await LivePolicy.start(store.policies, policy, on_demand=policy_on_demand)
        egress = AllowList.from_settings(settings)
        http = outbound_client(
            settings,
            transport,
            timeout=settings.x.timeout_seconds,
            headers={"User-Agent": USER_AGENT},
            allowed=egress,
        )
        # Shared rate limits and parks on the wire; a park this process saw is counted on the runtime's clock.
        Throttle.from_settings(settings, store.destinations, monotonic=clock).attach(http)
        helpdesk = build_helpdesk(load_helpdesk(settings.helpdesk), settings, http, clock)
        metrics = Metrics()
        access = await x_access(settings, store, http, metrics)
        x = XClient(http, settings.x.api_url, access.auth, settings.x.account_id)
        x.meter = Meter(store, metrics, settings.x.prices, Budget.from_settings(settings.x.budget))
        poller = Poller(settings.x, x, store, metrics, x.meter, clock)
        signer = Signer(
            settings.signature, lambda initials, agent: store.claim_effect(f"initials:{initials}", agent)
        )
        media = XMedia(http, settings.x.api_url, x.auth, settings.x.media, dm_auth=access.media)
        care = start_care(settings, store, helpdesk, x, metrics, live, clock)
        inbound = InboundFlow(store, helpdesk, metrics, media, care.pipeline if care else None)
        outbound = OutboundFlow(
            store, helpdesk, x, signer, metrics, live.decide, live.explain, settings.x.screen_name, media
        )
        handlers = {
            JOB_SOCIAL_MESSAGE: inbound.deliver,
            JOB_TICKET_CHANGED: outbound.ticket_changed,
            JOB_PUBLISH_REPLY: noting_pauses(outbound.publish, store),
            JOB_NOTE: outbound.note,
            **(care.handlers() if care else {}),
        }
        outbox = Outbox(
            store,
            handlers,
            settings.workers,
            metrics,
            on_dead=dead_letter_handler(
                {
                    JOB_SOCIAL_MESSAGE: inbound.on_dead,
                    JOB_PUBLISH_REPLY: outbound.on_dead,
                    **(care.dead_handlers() if care else {}),
                }
            ),
            scrubbers={JOB_PUBLISH_REPLY: scrub_reply},
            destinations={
                JOB_SOCIAL_MESSAGE: settings.helpdesk,
                JOB_TICKET_CHANGED: settings.helpdesk,
                JOB_NOTE: settings.helpdesk,
                JOB_PUBLISH_REPLY: "x",
                **(care.destinations(settings.helpdesk) if care else {}),
            },
        )
        probes = health_probes(settings, store, http, access.keep_fresh if access.keeper else None)
        vault = access.keeper.vault if access.keeper else None
        health = Health(store, metrics, settings.x, clock, probes, vault)
        x.meter.on_change = health.check  # the budget alert in /readyz as soon as polling stops
        return cls(
            settings,
            store,
            http,
            helpdesk,
            x,
            metrics,
            outbox,
            clock,
            live,
            poller,
            access=access,
            health=health,
            egress=egress,
            care=care,
        )

    def start_workers(self, role: Role = "all") -> None:
        """The background tasks of `role`: the outbox workers, X polling and the retention purge ("work"),
        the health checks ("http"), or all of them; the policy is followed in either. With `apart` set,
        "http" also starts that process, which runs the "work" side."""
        work = role != "http"
        if role == "http" and self.apart is not None:
            self.apart.start(self)
            self.metrics.other = lambda: self.apart.metrics if self.apart else None
        for _ in range(self.settings.workers.count if work else 0):
            self._tasks.append(asyncio.create_task(self.outbox.run(self._stop)))
        if (
            work and self.settings.workers.count
        ):  # jobs enqueued on any replica wake these workers (PostgreSQL)
            listen = self.store.db.listen(JOBS_ENQUEUED, self.outbox.wake, self._stop)
            self._tasks.append(asyncio.create_task(listen))
        if work and self.poller is not None and self.settings.workers.count:
            self._tasks.append(asyncio.create_task(self.poller.run(self._stop)))
        if role != "work" and self.health is not None:
            self._tasks.append(asyncio.create_task(self.health.run(self._stop)))
        self._tasks.append(asyncio.create_task(self.policy.follow(self._stop)))
        if work and self.care is not None and self.settings.workers.count:
            self._tasks.append(asyncio.create_task(self.care.watch.run(self._stop)))
        if work:
            self._tasks.append(
                asyncio.create_task(retention.run(self.store, self.settings.retention, self._stop))
            )

    def begin_shutdown(self, deadline: float) -> None:
        """SIGTERM: workers finish the job in hand and claim no other, the poller and the checks stop;
        `close` then waits for them until `deadline` (`time.monotonic()`) at most."""
        self._deadline = deadline
        self._stop.set()
        if self.apart is not None:
            self.apart.begin_shutdown()

    async def close(self) -> None:
        """Stop the workers after their current job, waiting `server.shutdown_grace_seconds` at most (or
        until the deadline `begin_shutdown` set); a job still running then is cut short and its lease
        given back, so another replica takes it at once."""
        self._stop.set()
        deadline = self._deadline or time.monotonic() + self.settings.shutdown_grace_seconds
        if self.apart is not None:
            await self.apart.stop(deadline)
        if self._tasks:
            _, running = await asyncio.wait(self._tasks, timeout=max(0.0, deadline - time.monotonic()))
            for task in running:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if released := await self.outbox.release():
                log.warning("shutdown: %s job(s) cut short, their leases given back", released)
        if self.poller is not None:
            await self.poller.release()
        await self.http.aclose()
        await self.store.close()
