"""One measured step of the benchmark, run in a process of its own so its peak RSS is its own.

Usage (by bench.community): python -m bench.phases CONFIG.json RESULT.json
"""

from __future__ import annotations

import csv
import json
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter
from typing import Any

from bench import floors, live_phases, sync_phases
from bench.generate import NOW
from bench.raw import RawDatabase
from bench.standard_lists import by_key, params

Config = dict[str, Any]


def kith_import(config: Config) -> dict[str, Any]:
    """One file through kith's import service, as `kith community ... import FILE` or
    `kith marketing subscribers import FILE` runs it.

    The command (kith.cli.imports.run_import) streams csv.reader rows of the file into the
    service inside one bulk write transaction; so does this, without the progress bar.
    Subscribers are then counted by status (not timed), for the check against the floor.
    """
    from kith.community import ingest
    from kith.db import Database
    from kith.marketing.subscriber_import import import_subscribers

    service = {
        "members": ingest.import_members,
        "memberships": ingest.import_memberships,
        "activity": ingest.import_activity,
        "subscribers": import_subscribers,
    }[config["kind"]]
    db = Database(config["kith_url"])
    with Path(config["file"]).open(newline="", encoding="utf-8-sig") as handle:
        started = perf_counter()
        with db.bulk_transaction() as session:
            report = service(session, csv.reader(handle), now=NOW, strict=False)
        seconds = perf_counter() - started
    db.dispose()
    result = {
        "seconds": seconds,
        "imported": report.imported,
        "updated": report.updated,
        "duplicates": report.duplicates,
        "rejected": len(report.rejected),
        "first_rejections": report.rejected[:5],
    }
    if config["kind"] == "subscribers":
        result["stored"] = _subscribers_by_status(config["backend"], config["kith_raw"])
    return result


def floor_import(config: Config) -> dict[str, Any]:
    db = RawDatabase(config["backend"], config["floor_raw"])
    try:
        result = floors.load(db, config["kind"], Path(config["file"]))
    finally:
        db.close()
    if config["kind"].startswith("subscriber"):
        result["stored"] = _subscribers_by_status(config["backend"], config["floor_raw"])
    return result


def _subscribers_by_status(backend: str, target: str) -> dict[str, int]:
    db = RawDatabase(backend, target)
    try:
        return dict(db.all("SELECT status, count(*) FROM subscribers GROUP BY status"))
    finally:
        db.close()


def kith_list(config: Config) -> dict[str, Any]:
    """A standard list through kith.community.saved_criteria: a count, then the full id list."""
    from kith.community.saved_criteria import count_members, member_ids_query
    from kith.db import Database

    criteria = by_key(config["list"]).criteria
    db = Database(config["kith_url"])
    with db.session() as session:
        count_times, count = _repeat(
            config["repeat"], lambda: count_members(session, criteria, now=NOW)
        )
        ids_times, ids = _repeat(
            config["repeat"],
            lambda: session.scalars(member_ids_query(session, criteria, now=NOW)).all(),
        )
    db.dispose()
    return {
        "count_seconds": min(count_times),
        "ids_seconds": min(ids_times),
        "count_times": count_times,
        "ids_times": ids_times,
        "count": count,
        "ids": len(ids),
        "distinct_ids": len(set(ids)),
    }


def floor_list(config: Config) -> dict[str, Any]:
    """The list's floor on the raw connection, as a count and as ids; then the checking count."""
    standard = by_key(config["list"])
    db = RawDatabase(config["backend"], config["kith_raw"])
    types = db.names("activity_types")
    communities = db.names("communities")
    floor_values = params(standard.key, kind="floor", types=types, communities=communities)
    count_times, count = _repeat(
        config["repeat"], lambda: db.scalar(standard.floor_sql(ids=False), floor_values)
    )
    ids_times, ids = _repeat(
        config["repeat"], lambda: db.all(standard.floor_sql(ids=True), floor_values)
    )
    check_values = params(standard.key, kind="check", types=types, communities=communities)
    chapter = (
        "json_extract(m.custom_fields, '$.chapter')"
        if db.is_sqlite
        else "(m.custom_fields ->> 'chapter')"
    )
    check_sql = standard.check_sql().replace("{chapter}", chapter)
    started = perf_counter()
    expected = db.scalar(check_sql, check_values)
    check_seconds = perf_counter() - started
    db.close()
    return {
        "count_seconds": min(count_times),
        "ids_seconds": min(ids_times),
        "count_times": count_times,
        "ids_times": ids_times,
        "floor_count": count,
        "floor_ids": len(ids),
        "expected_count": expected,
        "check_seconds": check_seconds,
    }


def _repeat(times: int, work: Callable[[], Any]) -> tuple[list[float], Any]:
    """Run `work` several times; every duration, and the last result."""
    durations = []
    result = None
    for _ in range(times):
        started = perf_counter()
        result = work()
        durations.append(perf_counter() - started)
    return durations, result


PHASES: dict[str, Callable[[Config], dict[str, Any]]] = {
    "kith_import": kith_import,
    "floor_import": floor_import,
    "kith_list": kith_list,
    "floor_list": floor_list,
    "sync_setup": sync_phases.sync_setup,
    "kith_sync": sync_phases.kith_sync,
    "floor_sync": sync_phases.floor_sync,
    "churn": sync_phases.churn,
    "sync_check": sync_phases.sync_check,
    "live_setup": live_phases.live_setup,
    "live_groups": live_phases.live_groups,
    "live_floor": live_phases.live_floor,
}


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB.

    Linux's VmHWM belongs to the process image since its exec; ru_maxrss (and hence
    RUSAGE_CHILDREN in the parent) also counts the parent's RSS at fork, which would charge
    the generator's memory to every phase.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    result = PHASES[config["phase"]](config)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(sys.argv[2]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
