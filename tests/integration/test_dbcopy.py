"""`kith db copy`: an embedded installation (SQLite, built through the services) moved into
fresh PostgreSQL databases row for row, working there afterwards, and a target that holds data
refused with nothing changed."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import MetaData, func, inspect, select
from sqlalchemy.exc import SAWarning
from typer.testing import CliRunner

from kith.cli import app
from kith.cli.db import copy_targets
from kith.community.app import create_community_app
from kith.community.models import Member
from kith.config import Settings, get_settings
from kith.connection.sync import execute_sync, request_sync
from kith.db import Database
from kith.dbcopy import copy_side, copy_sides
from kith.errors import Conflict, InvalidInput
from kith.marketing.groups.members import change_members
from kith.marketing.groups.target_groups import create_group
from kith.marketing.mailings.definition import MailingDraft, create_mailing
from kith.marketing.mailings.sending import SendOptions, request_send, send_mailing_now
from kith.marketing.mailings.smtp_sender import SmtpTransport
from kith.marketing.models import SyncRun, TargetGroup
from kith.migrate import upgrade
from kith.web.loopback import serve_on_loopback
from tests.support.community_world import (
    NOW,
    add_community,
    add_events,
    add_member,
    join,
)
from tests.support.connection_world import World, joined_world
from tests.support.import_files import csv_rows
from tests.support.smtp_sink import SmtpSink

# what COPY's text format must escape, and more than ASCII
AWKWARD = "Tab\there, line\nbreak, back\\slash, \\N, Ünïcødé ✓"


@pytest.fixture
def backend() -> str:
    """The source is an embedded installation: SQLite (the targets are PostgreSQL)."""
    return "sqlite"


@pytest.fixture
def embedded(
    community_db: Database, marketing_db: Database, settings: Settings, smtp_sink: SmtpSink
) -> Iterator[World]:
    """Both sides on SQLite with a bit of everything: members with awkward text, activity,
    memberships, a List Builder list synced (platform edition: created subscribers with their
    Personalizations as JSON, skips), a static group and a mailing sent to it."""
    with joined_world(community_db, marketing_db, settings, edition="platform") as world:
        with community_db.transaction() as session:
            chapter = add_community(session, "Chapter North")
            for n in range(1, 41):
                member = add_member(
                    session,
                    f"m{n:02}",
                    legacy_contact_key=f"L{n:02}" if n % 10 else None,
                    first_name=AWKWARD if n == 1 else f"First {n}",
                    custom_fields={"chapter": AWKWARD, "n": n},
                    joined_at=NOW - timedelta(days=n, microseconds=n),
                    is_super_admin=n == 2,
                )
                join(session, member, chapter, role="moderator" if n == 3 else None)
                add_events(session, member, "login", NOW - timedelta(hours=n), community=chapter)
        world.list("Informz Everyone", {"field": "contact_key", "op": "starts_with", "value": "m"})
        world.refresh()
        assert world.sync("Everyone").status == "completed"
        with marketing_db.transaction() as session:
            group = create_group(session, "Static Readers", now=NOW)
            change_members(session, group, csv_rows("remote_id", "L01", "L02", "L03"), now=NOW)
            mailing = create_mailing(
                session,
                MailingDraft(
                    name="Hello", subject="Hi", html="<p>Hi</p>", include=["Static Readers"]
                ),
                now=NOW,
            )
            request_send(session, mailing.id, SendOptions(), now=NOW)
        sent = send_mailing_now(
            marketing_db,
            settings,
            mailing.id,
            transport=SmtpTransport(smtp_sink.config()),
            clock=lambda: NOW,
        )
        assert sent.status == "sent"
        yield world


@pytest.fixture
def targets(new_postgres_database: Callable[[str], str]) -> dict[str, Database]:
    """Two empty PostgreSQL databases: the community's never migrated, the marketing one
    migrated already (`kith init` run there first), holding only the rows migrations write."""
    databases = {
        side: Database(new_postgres_database(f"copy_{side}")) for side in ("community", "marketing")
    }
    upgrade(databases["marketing"], "marketing")
    return databases


def contents(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order, with times as naive UTC (as SQLite keeps them)."""
    metadata = MetaData()
    with warnings.catch_warnings():  # expression indexes are not reflected: not needed here
        warnings.simplefilter("ignore", SAWarning)
        metadata.reflect(db.engine)
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = connection.execute(select(table).order_by(*table.primary_key.columns))
            tables[table.name] = [tuple(_comparable(value) for value in row) for row in rows]
    return tables


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str) and value[:1] in "{[":  # JSON kept as text by one side
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def copy_both(embedded: World, targets: dict[str, Database]) -> dict[str, dict[str, int]]:
    return {
        side: {item.table: item.rows for item in copy_side(source, targets[side], side)}
        for side, source in (("community", embedded.community), ("marketing", embedded.marketing))
    }


def test_every_table_arrives_row_for_row(embedded: World, targets: dict[str, Database]) -> None:
    copied = copy_both(embedded, targets)

    for side, source in (("community", embedded.community), ("marketing", embedded.marketing)):
        expected, actual = contents(source), contents(targets[side])
        assert set(actual) == set(expected)
        assert copied[side] == {name: len(rows) for name, rows in expected.items()}
        for name, rows in expected.items():
            assert actual[name] == rows, name
    # the copy carries what matters, not only empty tables
    assert copied["community"]["activity_events"] == 40
    assert copied["marketing"]["deliveries"] == 3
    with targets["community"].session() as session:
        first = session.scalars(select(Member).where(Member.contact_key == "m01")).one()
    assert first.first_name == AWKWARD and first.custom_fields["chapter"] == AWKWARD


def test_the_copied_installation_syncs_and_takes_new_rows(
    embedded: World, targets: dict[str, Database], settings: Settings
) -> None:
    copy_both(embedded, targets)
    community, marketing = targets["community"], targets["marketing"]
    with community.session() as session:
        last_member = session.scalar(select(func.max(Member.id))) or 0
    with marketing.session() as session:
        last_run = session.scalar(select(func.max(SyncRun.id))) or 0
        last_group = session.scalar(select(func.max(TargetGroup.id))) or 0

    with serve_on_loopback(create_community_app(community, settings)) as url:
        moved = World(community, marketing, settings, embedded.box, url)
        moved.configure(url=url)  # the same secret key still opens the stored password
        with community.transaction() as session:
            newcomer = add_member(session, "m99", legacy_contact_key="L99", email="m99@example.org")
        requested = request_sync(marketing, moved.group_id("Everyone"), trigger="manual", now=NOW)
        run = execute_sync(
            marketing, requested.run.id, box=moved.box, clock=lambda: NOW, empty_guard=100
        )
    with marketing.transaction() as session:
        group = create_group(session, "After The Move", now=NOW)

    assert (run.status, run.added, run.created) == ("completed", 1, 1), run.error
    # every sequence moved past the ids copied
    assert (newcomer.id, run.id, group.id) == (last_member + 1, last_run + 1, last_group + 1)


def test_a_target_that_holds_data_is_refused_and_no_side_is_copied(
    embedded: World, targets: dict[str, Database]
) -> None:
    copy_side(embedded.marketing, targets["marketing"], "marketing")
    before = contents(targets["marketing"])

    with pytest.raises(
        Conflict, match=r"marketing target .* already holds data \(in .*subscribers"
    ):
        copy_sides(
            {
                "community": (embedded.community, targets["community"]),
                "marketing": (embedded.marketing, targets["marketing"]),
            }
        )

    assert contents(targets["marketing"]) == before
    assert inspect(targets["community"].engine).get_table_names() == []  # not even migrated


def test_the_command_copies_a_data_dir_and_says_what_to_set(
    embedded: World,
    targets: dict[str, Database],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KITH_COMMUNITY_DB_URL", embedded.community.url)
    monkeypatch.setenv("KITH_MARKETING_DB_URL", embedded.marketing.url)
    get_settings.cache_clear()
    urls = {side: db.url.replace("+psycopg", "") for side, db in targets.items()}
    try:
        result = CliRunner().invoke(
            app,
            ["db", "copy", "--to", urls["community"], "--side", "community", "--json"],
        )
        refused = CliRunner().invoke(
            app, ["db", "copy", "--community-to", urls["community"], "--side", "community"]
        )
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert list(report) == ["community"]
    assert report["community"]["tables"]["members"] == 41  # the admin and m01..m40
    assert refused.exit_code == 1 and "already holds data" in refused.output


def test_a_source_that_is_not_sqlite_is_refused(
    new_postgres_database: Callable[[str], str],
) -> None:
    already = Database(new_postgres_database("already"))
    with pytest.raises(InvalidInput, match=r"already postgresql://.*use pg_dump"):
        copy_side(already, Database("postgresql://127.0.0.1/unused"), "community")
    already.dispose()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (("both", "postgresql:///a", None, None), "--to names one side's database"),
        (("both", None, "postgresql:///a", None), "no target database for the marketing side"),
        (("community", None, None, "postgresql:///b"), "give --community-to"),
        (("both", None, "postgresql:///a", "postgresql:///a"), "need two databases"),
        (("community", "postgresql:///a", "postgresql:///b", None), "two databases for the"),
        (("all", "postgresql:///a", None, None), "--side must be"),
    ],
)
def test_unclear_targets_are_refused_with_the_option_to_give(
    options: tuple[str, str | None, str | None, str | None], error: str
) -> None:
    with pytest.raises(InvalidInput, match=error):
        copy_targets(*options)


def test_targets_name_each_side_once() -> None:
    assert copy_targets("marketing", "postgresql:///m", None, None) == {
        "marketing": "postgresql:///m"
    }
    assert copy_targets("both", None, "postgresql:///c", "postgresql:///m") == {
        "community": "postgresql:///c",
        "marketing": "postgresql:///m",
    }
