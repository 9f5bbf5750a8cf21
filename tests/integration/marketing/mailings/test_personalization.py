"""What the mailing editor offers and says: the fields seen on subscribers for its picker, and
every problem of a mailing's templates at once, each at its line."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from kith.db import Database
from kith.marketing.mailings.personalization import personalization_fields
from kith.marketing.mailings.templates import InvalidTemplate, check_templates
from kith.marketing.models import Subscriber
from kith.marketing.subscriber_import import import_subscribers
from tests.support.import_files import NOW, csv_rows


def test_the_picker_offers_the_fields_seen_on_any_subscriber(marketing_db: Database) -> None:
    with marketing_db.transaction() as session:
        import_subscribers(
            session,
            csv_rows(
                "email,remote_id,first_name,last_name,status,member_type,chapter",
                "ann@example.org,R1,Ann,,,Fellow,",
                "bo@example.org,R2,Bo,,,,North",
                "cy@example.org,R3,Cy,,,,",
            ),
            now=NOW,
        )
        session.execute(
            update(Subscriber)
            .where(Subscriber.remote_id == "R2")
            .values(community={"thread_started_30d": 2, "last_login_at": None})
        )

    with marketing_db.session() as session:
        offered = personalization_fields(session)

    assert offered == [
        "first_name",
        "last_name",
        "email",
        "remote_id",
        "score",
        "grade",
        "fields.chapter",
        "fields.member_type",
        "community.last_login_at",
        "community.thread_started_30d",
        "mailing.name",
        "unsubscribe_url",
    ]


def test_every_problem_of_subject_and_bodies_is_reported_each_at_its_line() -> None:
    html = "<p>Hi {{ frist_name }}</p>\n<p>{{ email._x }}</p>\n<p>{{ lsat_name }}</p>"

    with pytest.raises(InvalidTemplate) as refused:
        check_templates("News for {{ chapter }}", html, "Bye {% if %}")

    assert [(problem.part, problem.line) for problem in refused.value.problems] == [
        ("subject", 1),
        ("html", 1),
        ("html", 2),
        ("html", 3),
        ("text", 1),
    ]
    assert (
        str(refused.value)
        .splitlines()[0]
        .startswith("subject, line 1, column 13: unknown field 'chapter'")
    )
    assert "html, line 3, column 7: unknown field 'lsat_name'" in str(refused.value)
