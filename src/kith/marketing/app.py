"""The marketing FastAPI app, served alone or mounted at /marketing."""

from __future__ import annotations

from fastapi import FastAPI

from kith.clock import utcnow
from kith.config import Settings
from kith.db import Database
from kith.marketing.api import router as api_router
from kith.marketing.api.integration import ConnectionCheck
from kith.marketing.public import router as public_router
from kith.marketing.web import install_pages
from kith.web.errors import install_error_handlers


def create_marketing_app(
    db: Database, settings: Settings, *, connection_check: ConnectionCheck | None = None
) -> FastAPI:
    """The app; `connection_check` is the connection's test call (marketing cannot import it)."""
    app = FastAPI(title="Kith marketing", version="0.1.0")
    app.state.db = db
    app.state.settings = settings
    # The API reads the time from here, so tests can move it instead of sleeping.
    app.state.clock = utcnow
    app.state.connection_check = connection_check
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(public_router)
    install_pages(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
