"""The sync benchmark's steps, each run by bench.phases in a process of its own.

- sync_setup (not timed): a credential and the List Builder list in the community; the
  Integration Settings, Active, and the list's group (a refresh) on the marketing side.
- kith_sync: `request_sync` + `execute_sync`, as a worker runs them, reading the list over HTTP
  from the community served by bench.serve (with `delta`, as the live pass runs them: only the
  list's changes); the CPU the community spent meanwhile is reported.
- floor_sync: the same list's rows (with `cursor`, its changes after it) read from the
  community database with the raw driver, and as many membership rows written into the
  floor's marketing database with plain executemany.
- churn (not timed): 1% of the members get another legacy contact key or lose theirs; `later`,
  another 1%, and the community's pass brings the list's change log up to date.
- sync_check (not timed): who should be in the group, by hand-written SQL over the raw rows.
"""

from __future__ import annotations

import cProfile
import resource
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from bench.generate import legacy_key
from bench.measure import AnonymousMemory, process_cpu_seconds
from bench.raw import RawDatabase
from kith.clock import utcnow
from kith.config import Settings
from kith.emails import InvalidEmail, normalize_email

Config = dict[str, Any]

LIST_NAME = "Informz All Members"
GROUP_NAME = "All Members"
# Every member: each has a contact key. So the list holds the members without a legacy key too,
# and the sync meets every outcome the online-community edition has.
LIST_CRITERIA = {"field": "contact_key", "op": "is_not_empty"}
# What the community API sends of a member with details=false, and what the floor reads
MEMBER_COLUMNS = (
    "contact_key, legacy_contact_key, email, first_name, last_name, company, title, "
    "member_type, joined_at, last_login_at"
)
FETCH = 10_000
CHURN_EVERY = 100  # 1% of the members


def sync_setup(config: Config) -> dict[str, Any]:
    """The credential, the list, the Integration Settings and the group, through kith's own
    services; returns the group's name and id and the list's key."""

    from kith.community.credentials import create_credential
    from kith.community.lists import create_list
    from kith.connection.client import client_for
    from kith.connection.refresh import refresh_groups
    from kith.db import Database
    from kith.marketing.integration import configure_integration

    now = utcnow()
    community = Database(config["community_url"])
    with community.transaction() as session:
        admin = super_admin(session)
        issued = create_credential(session, name="Marketing (bench)", by=admin, now=now)
        iam_key = issued.credential.iam_key
        list_key = create_list(
            session, name=LIST_NAME, criteria=LIST_CRITERIA, by=admin, now=now
        ).list_key
    community.dispose()
    marketing = Database(config["marketing_url"])
    box = _box(config)
    with marketing.transaction() as session:
        configure_integration(
            session,
            box=box,
            now=now,
            url=config["base_url"],
            iam_key=iam_key,
            password=issued.password,
            active=True,
        )
    with marketing.transaction() as session, client_for(session, box) as client:
        report = refresh_groups(session, client, now=now)
        group_id = session.scalar(_group_id_query(GROUP_NAME))
    marketing.dispose()
    groups = [added["group"] for added in report.added]
    if groups != [GROUP_NAME]:
        raise SystemExit(f"the refresh added {groups}, expected [{GROUP_NAME!r}]")
    return {"group": GROUP_NAME, "group_id": group_id, "list_key": list_key}


def super_admin(session: Any) -> str:
    """The contact key of the generated community's first Super Admin, who issues credentials
    and makes lists."""
    from sqlalchemy import select

    from kith.community.models import Member

    admin = session.scalar(
        select(Member.contact_key).where(Member.is_super_admin).order_by(Member.id).limit(1)
    )
    if admin is None:
        raise SystemExit("the generated community has no Super Admin")
    return str(admin)


def kith_sync(config: Config) -> dict[str, Any]:
    """One sync of the group, timed from the request to the recorded run.

    With `profile` set, the step runs under cProfile and writes its statistics there.
    """
    from kith.connection.sync import execute_sync, request_sync
    from kith.db import Database
    from kith.marketing.groups.target_groups import get_group

    memory = AnonymousMemory()
    db = Database(config["marketing_url"])
    box = _box(config)
    server_cpu, own_cpu = process_cpu_seconds(config["server_pid"]), _own_cpu()
    profile = cProfile.Profile() if config.get("profile") else None
    started = perf_counter()
    if profile is not None:
        profile.enable()
    with db.session() as session:
        group_id = get_group(session, config["group"]).id
    delta = bool(config.get("delta"))
    requested = request_sync(
        db, group_id, trigger="live" if delta else "manual", now=utcnow(), delta=delta
    )
    run = execute_sync(db, requested.run.id, box=box, clock=utcnow, empty_guard=100)
    if profile is not None:
        profile.disable()
        profile.dump_stats(config["profile"])
    seconds = perf_counter() - started
    result = {
        "seconds": seconds,
        "cpu_seconds": _own_cpu() - own_cpu,
        "server_cpu_seconds": process_cpu_seconds(config["server_pid"]) - server_cpu,
        "status": run.status,
        "mode": run.mode,
        "error": run.error,
        "in_list": run.in_list,
        "members": run.members,
        "added": run.added,
        "removed": run.removed,
        "unchanged": run.unchanged,
        "skipped": run.skipped,
        "peak_anonymous_mb": memory.peak_mb,
    }
    db.dispose()
    return result


def floor_sync(config: Config) -> dict[str, Any]:
    """The list's rows read with the raw driver; `write` membership rows inserted (and, for a
    resync, `delete` removed) with executemany in one transaction of the floor's database."""
    from kith.db import Database
    from kith.marketing.groups.target_groups import create_group

    floor = Database(config["floor_url"])
    with floor.transaction() as session:  # not timed
        group = session.scalar(_group_id_query(GROUP_NAME))
        if group is None:
            group = create_group(session, GROUP_NAME, now=utcnow()).id
    floor.dispose()
    target = RawDatabase(config["backend"], config["floor_raw"])
    held = sorted(
        row[0]
        for row in target.all("SELECT subscriber_id FROM group_members WHERE group_id = ?", [group])
    )
    removed = held[: config["delete"]]
    free = target.all(
        "SELECT id FROM subscribers WHERE id > ? ORDER BY id LIMIT ?",
        [held[-1] if held else 0, config["write"]],
    )
    if len(free) < config["write"]:
        raise SystemExit(
            f"the floor's database has {len(free):,} subscribers to add to the group, "
            f"not {config['write']:,}"
        )
    added_at = target.value(utcnow())
    additions = [(group, id_, added_at) for (id_,) in free]
    deletions = [(group, id_) for id_ in removed]
    source = RawDatabase(config["backend"], config["community_raw"])
    started = perf_counter()
    if config.get("cursor") is None:
        rows = sum(len(chunk) for chunk in _member_rows(source))
    else:
        changes = _change_rows(source, config["list_key"], config["cursor"])
        rows = sum(len(chunk) for chunk in changes)
    read_seconds = perf_counter() - started
    target.begin()
    with closing(target.connection.cursor()) as cursor:
        cursor.executemany(
            target.sql("DELETE FROM group_members WHERE group_id = ? AND subscriber_id = ?"),
            deletions,
        )
        cursor.executemany(
            target.sql(
                "INSERT INTO group_members (group_id, subscriber_id, added_at) VALUES (?, ?, ?)"
            ),
            additions,
        )
    target.commit()
    seconds = perf_counter() - started
    source.close()
    target.close()
    return {
        "seconds": seconds,
        "read_seconds": read_seconds,
        "write_seconds": seconds - read_seconds,
        "rows": rows,
        "written": len(additions),
        "deleted": len(deletions),
    }


def churn(config: Config) -> dict[str, Any]:
    """Every CHURN_EVERY-th member (in id order) changes: half take the Remote ID of an AMS
    contact who is a subscriber but not a member (one leaves the group, one may join), half
    lose their legacy contact key (they leave). `later` changes the members after those and
    takes the Remote IDs after theirs, then runs the community's pass; the group's cursor
    before it is returned, for the floor to read the changes after it."""
    later = bool(config.get("later"))
    community = RawDatabase(config["backend"], config["community_raw"])
    marketing = RawDatabase(config["backend"], config["marketing_raw"])
    ids = [row[0] for row in community.all("SELECT id FROM members ORDER BY id")]
    chosen = ids[CHURN_EVERY // 2 + later :: CHURN_EVERY]
    first_non_member = legacy_key(config["members"])  # members hold the keys before it
    taking = (len(chosen) + 1) // 2
    keys = [
        row[0]
        for row in marketing.all(
            "SELECT remote_id FROM subscribers WHERE remote_id >= ? ORDER BY remote_id "
            "LIMIT ? OFFSET ?",
            [first_non_member, taking, taking if later else 0],
        )
    ]
    list_cursor = marketing.scalar(
        "SELECT list_cursor FROM target_groups WHERE id = ?", [config["group_id"]]
    )
    marketing.close()
    rekeyed = list(zip(keys, chosen[::2], strict=False))
    taken = {id_ for _key, id_ in rekeyed}
    cleared = [id_ for id_ in chosen if id_ not in taken]
    community.begin()
    with closing(community.connection.cursor()) as cursor:
        cursor.executemany(
            community.sql("UPDATE members SET legacy_contact_key = ? WHERE id = ?"), rekeyed
        )
        cursor.executemany(
            community.sql("UPDATE members SET legacy_contact_key = NULL WHERE id = ?"),
            [(id_,) for id_ in cleared],
        )
    community.commit()
    community.close()
    churned = {"changed": len(chosen), "rekeyed": len(rekeyed), "cleared": len(cleared)}
    if not later:
        return churned
    started = perf_counter()
    _keep_lists_current(config)
    return churned | {"cursor": list_cursor, "pass_seconds": perf_counter() - started}


def _keep_lists_current(config: Config) -> None:
    """The community's pass, as its worker runs it every KITH_LIST_PASS_SECONDS."""
    from kith.community.live_lists import keep_lists_current
    from kith.db import Database

    community = Database(config["community_url"])
    keep_lists_current(community, now=utcnow(), retention=timedelta(days=7))
    community.dispose()


def sync_check(config: Config) -> dict[str, Any]:
    """Who should be in the group, answered apart from kith's sync: every member's key and email
    read raw from the community and checked here (email-validator's syntax check, the one rule
    that is not SQL), then the outcome rules as hand-written SQL in the marketing database.

    A member with a key and a valid email is in the group when a subscribed subscriber has its
    key as Remote ID and no other such member with the same email (any case, trimmed) and a
    matching subscriber has a smaller key; an unmatched member never goes before a matched one.
    """
    community = RawDatabase(config["backend"], config["community_raw"])
    rows = []
    for chunk in _member_rows(community, "legacy_contact_key, email"):
        for key, email in chunk:
            text = (email or "").strip()
            rows.append(((key or "").strip() or None, text.lower(), int(_valid(text))))
    community.close()
    marketing = RawDatabase(config["backend"], config["marketing_raw"])
    group = config["group_id"]
    marketing.begin()
    marketing.connection.execute(
        "CREATE TEMPORARY TABLE bench_list "
        "(legacy_key VARCHAR(100), email_key VARCHAR(320), valid INTEGER)"
    )
    _load(marketing, "bench_list", rows)
    marketing.connection.execute("CREATE INDEX bench_list_email ON bench_list (email_key)")
    marketing.connection.execute("CREATE TEMPORARY TABLE bench_expected (id INTEGER PRIMARY KEY)")
    marketing.connection.execute(f"INSERT INTO bench_expected {EXPECTED}")
    found = {
        "expected": "SELECT count(*) FROM bench_expected",
        "held": "SELECT count(*) FROM group_members WHERE group_id = ?",
        "missing": (
            "SELECT count(*) FROM bench_expected e WHERE NOT EXISTS (SELECT 1 FROM group_members"
            " g WHERE g.group_id = ? AND g.subscriber_id = e.id)"
        ),
        "extra": (
            "SELECT count(*) FROM group_members g WHERE g.group_id = ? "
            "AND NOT EXISTS (SELECT 1 FROM bench_expected e WHERE e.id = g.subscriber_id)"
        ),
    }
    counts = {
        name: marketing.scalar(sql, [group] if "?" in sql else []) for name, sql in found.items()
    }
    marketing.connection.execute("ROLLBACK")
    marketing.close()
    return {"in_list": len(rows), **counts}


# The group by the rules (see sync_check), with NOT EXISTS where kith ranks with row_number()
EXPECTED = """
SELECT s.id FROM bench_list m JOIN subscribers s ON s.remote_id = m.legacy_key
WHERE m.valid = 1 AND s.status = 'subscribed'
AND NOT EXISTS (
    SELECT 1 FROM bench_list o JOIN subscribers os ON os.remote_id = o.legacy_key
    WHERE o.email_key = m.email_key AND o.valid = 1 AND o.legacy_key < m.legacy_key
)
"""


def _load(db: RawDatabase, table: str, rows: list[tuple[Any, ...]]) -> None:
    if db.is_sqlite:
        db.connection.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows)
        return
    with db.connection.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _member_rows(db: RawDatabase, columns: str = MEMBER_COLUMNS) -> Iterator[list[Any]]:
    """The list's members (every member with a contact key), in id order, a chunk at a time."""
    sql = f"SELECT {columns} FROM members WHERE contact_key <> '' ORDER BY id"
    if db.is_sqlite:
        cursor = db.connection.execute(sql)
        while chunk := cursor.fetchmany(FETCH):
            yield chunk
        return
    with db.connection.transaction(), db.connection.cursor(name="members") as cursor:
        cursor.itersize = FETCH
        cursor.execute(sql)
        while chunk := cursor.fetchmany(FETCH):
            yield chunk


def _change_rows(db: RawDatabase, list_key: str, cursor: int) -> Iterator[list[Any]]:
    """The list's changes after `cursor`, in order, a chunk at a time (what a delta reads)."""
    sql = db.sql(
        "SELECT c.seq, c.change, c.contact_key, m.legacy_contact_key, m.email FROM list_changes c"
        " JOIN custom_user_lists l ON l.id = c.list_id JOIN members m ON m.id = c.member_id"
        " WHERE l.list_key = ? AND c.seq > ? ORDER BY c.seq"
    )
    if db.is_sqlite:
        rows = db.connection.execute(sql, [list_key, cursor])
        while chunk := rows.fetchmany(FETCH):
            yield chunk
        return
    with db.connection.transaction(), db.connection.cursor(name="changes") as rows:
        rows.itersize = FETCH
        rows.execute(sql, [list_key, cursor])
        while chunk := rows.fetchmany(FETCH):
            yield chunk


def _valid(email: str) -> bool:
    try:
        normalize_email(email)
    except InvalidEmail:
        return False
    return True


def _group_id_query(name: str) -> Any:
    from sqlalchemy import select

    from kith.marketing.groups.target_groups import name_key
    from kith.marketing.models import TargetGroup

    return select(TargetGroup.id).where(TargetGroup.name_key == name_key(name))


def _box(config: Config) -> Any:
    from kith.encryption import SecretBox

    return SecretBox.from_settings(
        Settings(data_dir=Path(config["data_dir"]), secret_key=config["secret_key"])
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
