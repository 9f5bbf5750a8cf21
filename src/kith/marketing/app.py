"""The marketing FastAPI app, served alone or mounted at /marketing."""

from __future__ import annotations

from fastapi import FastAPI

from kith.config import Settings
from kith.db import Database
from kith.web.errors import install_error_handlers


def create_marketing_app(db: Database, settings: Settings) -> FastAPI:
    app = FastAPI(title="Kith marketing", version="0.1.0")
    app.state.db = db
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
