"""A campaign read back as its user wrote it (campaign_definition), on SQLite and PostgreSQL:
every kind of step, with ids, groups and mailings by name, so that the web admin's editor can
show it and save it again unchanged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from kith.db import Database
from kith.marketing.campaigns.definition import (
    campaign_definition,
    change_campaign,
    create_campaign,
    current_version,
    get_campaign,
)
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

DEFINITION: dict[str, Any] = {
    "name": "Every kind of step",
    "activation": {"group": "Joined", "mode": "over_time"},
    "starts_at": "2026-07-01T00:00:00+00:00",
    "steps": [
        {"id": "hello", "mailing": "Hello"},
        {"id": "monday", "wait": {"until": {"weekday": "monday", "at": "09:00"}}},
        {
            "id": "posted",
            "decide": {"member_of": "Posted"},
            "yes": [
                {"id": "mark", "profile": {"add_to": "Thanked"}},
                {"id": "a-day", "wait": {"days": 1, "hours": 2}},
                {
                    "id": "read",
                    "decide": {"opened": "Hello"},
                    "yes": [{"id": "tell", "notify": "team@example.org", "subject": "A reader"}],
                    "no": [{"id": "stop", "end": True}],
                },
            ],
            "no": [
                {"id": "first", "wait": {"until": {"day": 1, "at": "08:30"}}},
                {"id": "clicked", "decide": {"clicked": "any"}, "yes": [], "no": []},
            ],
        },
    ],
}


def test_a_campaign_reads_back_as_written_and_saves_again_unchanged(
    marketing_db: Database,
) -> None:
    with marketing_db.transaction() as session:
        for name in ("Joined", "Posted", "Thanked"):
            create_group(session, name, now=NOW)
        draft = MailingDraft(name="Hello", subject="Hi", html="<p>Hi</p>", include=["Joined"])
        create_mailing(session, draft, now=NOW)
        campaign_id = create_campaign(session, copy.deepcopy(DEFINITION), now=NOW).id

    with marketing_db.session() as session:
        written = campaign_definition(session, get_campaign(session, campaign_id))

    assert written == DEFINITION
    with marketing_db.transaction() as session:
        before = current_version(session, get_campaign(session, campaign_id)).steps
        campaign, new_version = change_campaign(session, str(campaign_id), written, now=NOW)
        assert not new_version
        assert current_version(session, campaign).steps == before
