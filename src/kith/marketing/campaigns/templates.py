"""Ready-made campaigns: `welcome` (new members) and `recognition` (a first thread started).

A template makes everything its campaign needs: the community lists (named with the Informz
prefix, so that they become community groups; made through the connection's port, since
marketing does not reach the community itself), the mailings, then the campaign, inactive.
Running a template again reuses lists and groups that exist and refuses a second campaign of
the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from kith.db import Database
from kith.errors import Conflict, InvalidInput
from kith.marketing.campaigns.definition import create_campaign
from kith.marketing.campaigns.models import Campaign
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.ports import ports

POSTED = ["thread_started", "discussion_reply"]


@dataclass(frozen=True)
class TemplateMailing:
    name: str
    subject: str
    html: str


@dataclass(frozen=True)
class Template:
    """A campaign whose groups are `{role: (list name, criteria)}` and whose steps name the
    roles (`"$activation"`, `"$posted"`) and mailings by their names."""

    campaign: str
    describe: str  # what it does, in a sentence, for the pages that offer it
    mode: str
    lists: dict[str, tuple[str, dict[str, Any]]]
    mailings: tuple[TemplateMailing, ...]
    steps: list[dict[str, Any]]


WELCOME = Template(
    campaign="Welcome new members",
    describe=(
        "Members who joined in the last 7 days get a welcome; 3 days later, those who posted "
        "are thanked and the others invited to join the conversation."
    ),
    mode="both",
    lists={
        "activation": (
            "Informz Joined In The Last 7 Days",
            {"field": "joined_at", "op": "within_days", "value": 7},
        ),
        "posted": (
            "Informz Posted In The Last 10 Days",
            {"activity": POSTED, "min": 1, "within_days": 10},
        ),
    },
    mailings=(
        TemplateMailing(
            "Welcome to the community",
            "Welcome, {{ first_name | default('new member') }}!",
            "<p>Hello {{ first_name | default('there') }},</p>"
            "<p>Welcome to the community. Start a discussion or reply to one: "
            "members answer quickly.</p>",
        ),
        TemplateMailing(
            "Thanks for joining the conversation",
            "Thank you for your first posts, {{ first_name | default('friend') }}",
            "<p>Hello {{ first_name | default('there') }},</p>"
            "<p>Thank you for posting in the community in your first days.</p>",
        ),
        TemplateMailing(
            "Join the conversation",
            "{{ first_name | default('Hello') }}, the community would like to hear from you",
            "<p>Hello {{ first_name | default('there') }},</p>"
            "<p>You joined a few days ago: introduce yourself in the discussions.</p>",
        ),
    ),
    steps=[
        {"id": "welcome", "mailing": "Welcome to the community"},
        {"id": "wait-3-days", "wait": {"days": 3}},
        {
            "id": "posted",
            "decide": {"member_of": "$posted"},
            "yes": [{"id": "thank-you", "mailing": "Thanks for joining the conversation"}],
            "no": [{"id": "nudge", "mailing": "Join the conversation"}],
        },
    ],
)

RECOGNITION = Template(
    campaign="Recognize first threads",
    describe="Members who started their first discussion thread this week are thanked.",
    mode="over_time",
    lists={
        "activation": (
            "Informz Started Their First Thread",
            {
                "all": [
                    {"activity": "thread_started", "min": 1, "max": 1},
                    {"activity": "thread_started", "min": 1, "within_days": 7},
                ]
            },
        ),
    },
    mailings=(
        TemplateMailing(
            "Thank you for your first thread",
            "Thank you for starting a discussion, {{ first_name | default('friend') }}",
            "<p>Hello {{ first_name | default('there') }},</p>"
            "<p>You started your first discussion thread: thank you for getting the "
            "community talking.</p>",
        ),
    ),
    steps=[{"id": "thank-you", "mailing": "Thank you for your first thread"}],
)

TEMPLATES = {"welcome": WELCOME, "recognition": RECOGNITION}


def create_from_template(db: Database, name: str, *, now: datetime) -> int:
    """Create the template's lists, groups, mailings and campaign; the campaign's id."""
    template = TEMPLATES.get(name)
    if template is None:
        raise InvalidInput(f"no campaign template is named {name!r}; try {', '.join(TEMPLATES)}")
    with db.session() as session:
        if session.scalar(select(Campaign.id).where(Campaign.name == template.campaign)):
            raise Conflict(f"a campaign is already named {template.campaign!r}")
    provide_list = ports.list_provider()  # campaign templates need community lists
    groups = {
        role: provide_list(db, list_name, criteria, now=now)
        for role, (list_name, criteria) in template.lists.items()
    }
    with db.transaction() as session:
        for mailing in template.mailings:
            create_mailing(
                session,
                MailingDraft(
                    name=mailing.name,
                    subject=mailing.subject,
                    html=mailing.html,
                    include=[groups["activation"]],
                ),
                now=now,
            )
        campaign = create_campaign(
            session,
            {
                "name": template.campaign,
                "activation": {"group": groups["activation"], "mode": template.mode},
                "steps": with_groups(template.steps, groups),
            },
            now=now,
        )
        return campaign.id


def with_groups(value: Any, groups: dict[str, str]) -> Any:
    """The steps with each `"$role"` replaced by the name of that role's group."""
    if isinstance(value, dict):
        return {key: with_groups(item, groups) for key, item in value.items()}
    if isinstance(value, list):
        return [with_groups(item, groups) for item in value]
    if isinstance(value, str) and value.startswith("$"):
        return groups[value[1:]]
    return value
