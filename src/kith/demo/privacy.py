"""The demo's request for a person's data: what `kith marketing subscribers export-data` gives for
the subscriber who bounced, section by section. Erasing is left to the reader (`kith marketing
subscribers erase`), so that the rest of the demo's data stays to browse."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kith.config import Settings
from kith.db import Database
from kith.marketing.mailings.outbox import outbox_folder
from kith.marketing.personal_data import export_subscriber


@dataclass(frozen=True)
class PrivacyDemo:
    email: str
    sections: dict[str, int]  # each section of the export and how many records it holds


def privacy_demo(marketing: Database, settings: Settings, email: str) -> PrivacyDemo:
    with marketing.session() as session:
        document = export_subscriber(session, email, outbox=outbox_folder(settings.data_dir))
    return PrivacyDemo(
        email, {name: _records(value) for name, value in document.items() if name != "side"}
    )


def _records(section: Any) -> int:
    if isinstance(section, list):
        return len(section)
    return 0 if section is None else 1
