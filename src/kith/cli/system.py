"""Operator commands: create or migrate the databases, serve the web apps."""

from __future__ import annotations

import typer

from kith.cli.context import community_db, console, marketing_db
from kith.migrate import upgrade


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("serve")(serve)


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
) -> None:
    """Serve the community app at /community and the marketing app at /marketing."""
    import uvicorn

    from kith.web.app import create_app

    console.print(f"Kith on http://{host}:{port}/community and http://{host}:{port}/marketing")
    uvicorn.run(create_app(), host=host, port=port, log_level="info")
