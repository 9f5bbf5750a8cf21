"""The demo's scoring and reports: pull the community's activity, score every subscriber with a
demo model (grades A, B and C become groups in the Scoring folder), and write the
community-activity report as an HTML page with its charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kith.config import Settings
from kith.connection.activity import ActivityPulled, pull_activity
from kith.db import Database
from kith.demo.marketing import BOARD
from kith.encryption import SecretBox
from kith.marketing.reports.community import community_report
from kith.marketing.reports.render import render_html
from kith.marketing.scoring.compute import apply_model

DEMO_MODEL: dict[str, Any] = {
    "rules": [
        {
            "name": "discussions",
            "activity": ["thread_started", "discussion_reply"],
            "points": 5,
            "cap": 50,
            "within_days": 90,
        },
        {
            "name": "events",
            "activity": ["event_registration", "event_attended"],
            "points": 4,
            "cap": 20,
            "within_days": 90,
        },
        {"name": "logins", "activity": "login", "points": 1, "cap": 10, "within_days": 30},
        {"name": "library", "activity": "library_entry", "points": 3, "cap": 15},
        {"name": "opens", "mailing": "open", "points": 2, "cap": 10, "within_days": 90},
        {"name": "clicks", "mailing": "click", "points": 3, "cap": 15, "within_days": 90},
        {"name": "board", "group": BOARD, "points": 10},
    ],
    "grades": [
        {"grade": "A", "min_score": 40},
        {"grade": "B", "min_score": 15},
        {"grade": "C", "min_score": 1},
    ],
}
REPORT_FILE = Path("reports") / "community-activity.html"


@dataclass(frozen=True)
class ScoringDemo:
    """What to print: the pull, subscribers per grade (None: below every grade), the page."""

    pulled: ActivityPulled
    model_version: int
    grades: dict[str | None, int]
    report_path: Path

    def summary(self) -> str:
        grades = ", ".join(f"{grade or 'no grade'}: {n}" for grade, n in self.grades.items())
        return (
            f"Scored {sum(self.grades.values())} subscribers with scoring model version "
            f"{self.model_version} ({grades}); grade groups are in the folder Scoring."
        )


def score_demo(marketing: Database, settings: Settings, *, now: datetime) -> ScoringDemo:
    """Pull the community's activity, set the demo model, score, write the report page.

    The community must be served and entered in Integration Settings (call it inside
    kith.demo.connection.community_online, after the syncs and mailings).
    """
    pulled = pull_activity(marketing, SecretBox.from_settings(settings), now=now)
    with marketing.transaction() as session:
        recomputed = apply_model(session, DEMO_MODEL, now=now)
    with marketing.session() as session:
        report = community_report(session, now=now)
    path = settings.data_dir / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return ScoringDemo(pulled, recomputed.version, recomputed.grades, path)
