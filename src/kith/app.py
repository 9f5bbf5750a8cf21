"""Process startup: every port wired, every job declared, then the ASGI app and the workers.

The only module besides the `kith` command and the demo that knows all three sides. Every
process (`kith serve`, `kith worker`, any CLI command, the demo) calls `start()` first, so that
a mailing sent anywhere resyncs its community groups and checks for duplicate mailings, the
scheduler anywhere can sync, pull and make lists, and a worker can run every side's jobs.
A port left empty stops the process here rather than letting a send skip its guard.
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

import kith.marketing.mailings.jobs  # noqa: F401  (declares its jobs, as runs does)
from kith.clock import utcnow
from kith.community.app import create_community_app
from kith.community.live_lists import keep_lists_current
from kith.config import Settings, get_settings
from kith.connection.activity import pull_for_marketing
from kith.connection.client import check_connection
from kith.connection.drift import DRIFT_PASS_SECONDS, check_drift
from kith.connection.duplicates import check_duplicates
from kith.connection.lists import provide_community_list
from kith.connection.live import sync_live_groups
from kith.connection.runs import sync_for_marketing
from kith.connection.web.groups import router as connection_pages
from kith.db import Database
from kith.errors import KithError
from kith.jobs import TICK_SECONDS, JobQueue, Periodic, Worker
from kith.marketing.app import create_marketing_app
from kith.marketing.bounces.mailbox import poll_mailbox
from kith.marketing.ports import ports
from kith.marketing.scheduler import run_tick
from kith.marketing.workers import WorkerRegistry
from kith.web.errors import install_error_handlers


class StartupFailed(KithError):
    """The process cannot start as configured."""


def start(settings: Settings) -> None:
    """Fill marketing's ports with the connection, for the databases of `settings`."""
    ports.sync_group = partial(sync_for_marketing, settings=settings)
    ports.check_duplicates = partial(check_duplicates, settings=settings)
    ports.provide_community_list = partial(provide_community_list, settings=settings)
    ports.pull_activity = partial(pull_for_marketing, settings=settings)
    if missing := ports.missing():
        raise StartupFailed(f"cannot start: marketing's ports {', '.join(missing)} are not wired")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The one ASGI app `kith serve` runs: the community at /community, marketing at /marketing."""
    settings = settings or get_settings()
    start(settings)
    return assemble_app(settings)


def assemble_app(settings: Settings) -> FastAPI:
    """The app's routes and pages, with marketing's ports left as they are (create_app wires
    them): what the tests walking every page read the routes from."""
    app = FastAPI(title="Kith", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)  # a path under neither side: 404 in the usual form
    app.mount("/community", create_community_app(Database(settings.community_url), settings))
    marketing = create_marketing_app(
        Database(settings.marketing_url), settings, connection_check=check_connection
    )
    marketing.include_router(connection_pages)
    app.mount("/marketing", marketing)
    return app


def create_worker(
    settings: Settings, *, workers: int = 1, tick_seconds: float = TICK_SECONDS
) -> Worker:
    """A job worker that also ticks (`kith tick`) every `tick_seconds`, keeps the community's
    live lists current every `KITH_LIST_PASS_SECONDS`, syncs the live groups whose lists changed
    every `KITH_LIVE_SYNC_SECONDS` and checks those due for a drift check every minute. Each
    step asks the next to run at once when it changed something (a list's members, a group's),
    so that what a member does reaches the group, and a campaign enrolls them, within seconds
    rather than at the next intervals. It takes in the bounce mailbox, if one is set, every
    `KITH_BOUNCE_MAILBOX_SECONDS`."""
    start(settings)
    queue = JobQueue(settings)
    marketing, community = queue.context.marketing, queue.context.community

    tick = Periodic("tick", tick_seconds, lambda: run_tick(marketing, settings, now=utcnow()))

    def follow_live_groups() -> None:
        runs = sync_live_groups(marketing, settings, now=utcnow())
        if any(run.added for run in runs if run.status == "completed"):
            tick.soon()

    live = Periodic("live syncs", settings.live_sync_seconds, follow_live_groups)

    def keep_lists() -> None:
        report = keep_lists_current(
            community, now=utcnow(), retention=settings.list_changes_retention
        )
        if report.added or report.removed:
            live.soon()

    return Worker(
        queue,
        heartbeat=WorkerRegistry(marketing),
        periodic=[
            tick,
            Periodic("lists", settings.list_pass_seconds, keep_lists),
            live,
            Periodic(
                "bounce mailbox",
                settings.bounce_mailbox_seconds,
                lambda: poll_mailbox(marketing, settings, clock=utcnow),
            ),
            Periodic(
                "drift checks",
                DRIFT_PASS_SECONDS,
                lambda: check_drift(marketing, settings, now=utcnow()),
            ),
        ],
        workers=workers,
    )
