"""The demo's last hint: how its data dir grows onto PostgreSQL, Redis and several processes
(docs/deployment.md), as commands to paste."""

from __future__ import annotations

from kith.config import Settings

COMMUNITY_URL = "postgresql://postgres@127.0.0.1:5432/kith_community"
MARKETING_URL = "postgresql://postgres@127.0.0.1:5432/kith_marketing"


def scale_out_commands(settings: Settings) -> list[str]:
    """The commands that move the demo's data onto PostgreSQL and run web and workers apart."""
    data_dir = settings.data_dir.resolve()
    databases = f"KITH_COMMUNITY_DB_URL={COMMUNITY_URL} KITH_MARKETING_DB_URL={MARKETING_URL}"
    scaled = f"KITH_DATA_DIR={data_dir} {databases} KITH_QUEUE_URL=redis://127.0.0.1:6379/0"
    return [
        "createdb -h 127.0.0.1 -U postgres kith_community",
        "createdb -h 127.0.0.1 -U postgres kith_marketing",
        f"KITH_DATA_DIR={data_dir} .venv/bin/kith db copy "
        f"--community-to {COMMUNITY_URL} --marketing-to {MARKETING_URL}",
        f"{scaled} .venv/bin/kith serve --no-jobs --port 8000",
        f"{scaled} .venv/bin/kith worker --workers 2   (as many as you like)",
    ]
