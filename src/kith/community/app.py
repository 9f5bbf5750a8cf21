"""The community FastAPI app, served alone or mounted at /community."""

from __future__ import annotations

from fastapi import FastAPI

from kith.clock import utcnow
from kith.community.api import router as api_router
from kith.community.api.auth import require_both_headers
from kith.community.web import install_pages
from kith.config import Settings
from kith.db import Database
from kith.web.errors import install_error_handlers


def create_community_app(db: Database, settings: Settings) -> FastAPI:
    app = FastAPI(title="Kith community", version="0.1.0")
    app.state.db = db
    app.state.settings = settings
    # The API reads the time from here, so tests can move it instead of sleeping.
    app.state.clock = utcnow
    install_error_handlers(app)
    app.include_router(api_router)
    install_pages(app)
    generate_openapi = app.openapi
    app.openapi = lambda: require_both_headers(generate_openapi())  # type: ignore[method-assign]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
