"""After an import, SQLite reads per-member activity counts through the (member, time) index."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from kith.community.ingest import import_activity, import_members
from kith.community.saved_criteria import member_ids_query
from kith.db import Database
from kith.migrate import upgrade
from tests.support.community_world import NOW


def rows(text_csv: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text_csv)))


def test_a_negative_activity_test_seeks_the_member_index_after_an_import(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'community.db'}")
    upgrade(db, "community")
    header = "contact_key,legacy_contact_key,email,first_name,last_name,company,title,"
    header += "member_type,joined_at,last_login_at,is_super_admin\n"
    members = header + "".join(f"m{n},,m{n}@example.org,,,,,,,,\n" for n in range(300))
    when = (NOW - timedelta(days=3)).isoformat()
    events = "event_id,contact_key,type,occurred_at,community\n"
    events += "".join(f",m{n % 300},login,{when},\n" for n in range(3000))
    with db.bulk_transaction() as session:
        import_members(session, rows(members), now=NOW)
        import_activity(session, rows(events), now=NOW)
    with db.session() as session:
        query = member_ids_query(
            session, {"activity": "login", "max": 0, "within_days": 90}, now=NOW
        )
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    details = " | ".join(str(row[-1]) for row in plan)
    assert "ix_activity_events_member" in details, details
    assert "ix_activity_events_type_time" not in details, details
    db.dispose()
