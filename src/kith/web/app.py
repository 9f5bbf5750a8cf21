"""The one ASGI app `kith serve` runs: the community app at /community, marketing at /marketing."""

from __future__ import annotations

from fastapi import FastAPI

from kith.community.app import create_community_app
from kith.config import Settings, get_settings
from kith.connection.client import check_connection
from kith.connection.web.groups import router as connection_pages
from kith.db import Database
from kith.marketing.app import create_marketing_app
from kith.wiring import wire


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    wire(settings)
    app = FastAPI(title="Kith", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/community", create_community_app(Database(settings.community_url), settings))
    marketing = create_marketing_app(
        Database(settings.marketing_url), settings, connection_check=check_connection
    )
    marketing.include_router(connection_pages)
    app.mount("/marketing", marketing)
    return app
