"""Operator commands: create or migrate the databases, serve the web apps."""

from __future__ import annotations

import signal
import threading

import typer

from kith.app import create_app, create_worker
from kith.cli.context import community_db, console, marketing_db
from kith.config import get_settings
from kith.migrate import upgrade


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("serve")(serve)
    app.command("worker")(worker)


def init() -> None:
    """Create or migrate both databases (safe to run again)."""
    for side, db in (("community", community_db()), ("marketing", marketing_db())):
        before, after = upgrade(db, side)
        state = "up to date" if before == after else f"migrated {before or 'empty'} -> {after}"
        console.print(f"{side}: {db.engine.url.render_as_string()} ({state})", highlight=False)
        db.dispose()


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    jobs: bool = typer.Option(
        True, "--jobs/--no-jobs", help="Run background jobs (syncs) in this process too."
    ),
) -> None:
    """Serve the community app at /community and the marketing app at /marketing."""
    import uvicorn

    console.print(f"Kith on http://{host}:{port}/community and http://{host}:{port}/marketing")
    worker = create_worker(get_settings()) if jobs else None
    if worker is not None:
        worker.start()
    try:
        uvicorn.run(create_app(), host=host, port=port, log_level="info")
    finally:
        if worker is not None:
            worker.stop()


def worker(
    workers: int = typer.Option(2, "--workers", help="Jobs run at the same time (threads)."),
) -> None:
    """Run background jobs (syncs) until interrupted; run as many as you like, anywhere."""
    running = create_worker(get_settings(), workers=workers)
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    running.start()
    console.print(f"Worker {running.name} running {workers} job threads; Ctrl-C stops it.")
    stop.wait()
    running.stop()
    console.print("Worker stopped.")
