"""The connection's benchmark: Sync Target Group over HTTP, a full sync, a resync after 1%
churn, and a delta resync after another 1% churn, each next to its floor.

It runs after the community and subscriber imports, on kith's own databases: the community
(served by bench.serve, a uvicorn process of its own on loopback) and the marketing side (the
imported subscribers). A List Builder list holds every member; a refresh makes its group; the
group is synced as a worker syncs it (bench.sync_phases). Then 1% of the members change their
legacy contact key or lose it, and the group is synced again in full. Then another 1% change,
the community's pass brings the list's change log up to date (as its own pass would, every
KITH_LIST_PASS_SECONDS; not timed), and the group is synced as the live pass syncs it: a delta
reading only the changes. After each sync the group must hold exactly the subscribers
hand-written SQL says it should, or the run fails (exit 1).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import REPO, Databases, Figure, child_environment, run_phase, say

FULL_SYNC = "full sync over HTTP"
RESYNC = "resync after 1% churn"
DELTA = "delta resync after 1% churn"
# The targets, for a list of 1,000,000 members
SYNC_TARGETS = {FULL_SYNC: 15.0, RESYNC: 5.0, DELTA: 1.0}
SYNC_RSS_TARGETS_MB = {FULL_SYNC: 500.0, RESYNC: 500.0, DELTA: 200.0}
FULL_SIZE_MEMBERS = 1_000_000
FLOOR_SYNC = {
    "sqlite": "sqlite3: read the list's rows, executemany as many membership rows",
    "postgresql": "psycopg: read the list's rows, executemany (pipelined) the membership rows",
}
FLOOR_DELTA = {
    "sqlite": "sqlite3: read the list's changes, executemany as many membership rows",
    "postgresql": "psycopg: read the list's changes, executemany (pipelined) the membership rows",
}
SECRET_KEY = "kith-bench-connection"  # encrypts the stored password; nothing to protect here
STARTUP_SECONDS = 60


@dataclass
class CommunityServer:
    """The community app in its own process: where it listens, and what it used once stopped."""

    base_url: str
    pid: int
    peak_rss_mb: float = 0.0
    peak_anonymous_mb: float = 0.0
    cpu_seconds: float = 0.0


def measure_sync(
    community: Databases, marketing: Databases, *, members: int, profile_dir: Path | None = None
) -> tuple[list[Figure], dict[str, Any]]:
    phases: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kith-bench-sync-") as folder:
        common = {
            "backend": community.backend,
            "community_url": community.kith_url,
            "community_raw": community.kith_raw,
            "marketing_url": marketing.kith_url,
            "marketing_raw": marketing.kith_raw,
            "floor_url": marketing.floor_url,
            "floor_raw": marketing.floor_raw,
            "data_dir": folder,
            "secret_key": SECRET_KEY,
            "members": members,
        }
        with community_server(community, Path(folder)) as server:
            common |= run_phase("sync_setup", {**common, "base_url": server.base_url})
            common["server_pid"] = server.pid
            for name, step in ((FULL_SYNC, "full"), (RESYNC, "resync"), (DELTA, "delta")):
                delta: dict[str, Any] = {}
                if step != "full":
                    later = step == "delta"  # other members, and the list's pass run ahead
                    churn = "churn" if not later else "delta churn"
                    phases[churn] = churned = run_phase("churn", {**common, "later": later})
                    say(
                        f"  {churn}: {churned['changed']:,} members changed "
                        f"({churned['rekeyed']:,} took another legacy key, {churned['cleared']:,}"
                        f" lost theirs)"
                        + (
                            f"; the community's pass took {churned['pass_seconds']:.2f} s"
                            if later
                            else ""
                        )
                    )
                    if later:
                        delta = {"delta": True, "cursor": churned["cursor"]}
                profile = str(profile_dir / f"sync-{step}.prof") if profile_dir else None
                kith = run_phase("kith_sync", {**common, **delta, "profile": profile})
                phases[f"{name} (kith)"] = kith
                say(
                    f"  {name}: kith {kith['seconds']:.2f} s ({kith['in_list']:,} in the list, "
                    f"{kith['members']:,} members, +{kith['added']:,} -{kith['removed']:,}; CPU "
                    f"{kith['cpu_seconds']:.1f} s syncing, {kith['server_cpu_seconds']:.1f} s "
                    f"serving; peak RSS {kith['peak_rss_mb']:.0f} MB, "
                    f"{kith['peak_anonymous_mb']:.0f} MB anonymous)"
                )
                phases[f"{name} (check)"] = run_phase("sync_check", common)
                phases[f"{name} (floor)"] = floor = run_phase(
                    "floor_sync",
                    {**common, **delta, "write": kith["added"], "delete": kith["removed"]},
                )
                say(
                    f"    floor {floor['seconds']:.2f} s (reading {floor['read_seconds']:.2f} s, "
                    f"writing {floor['write_seconds']:.2f} s)"
                )
        phases["community server"] = {
            "peak_rss_mb": server.peak_rss_mb,
            "peak_anonymous_mb": server.peak_anonymous_mb,
            "cpu_seconds": server.cpu_seconds,
        }
    say(
        f"  community server: peak RSS {server.peak_rss_mb:.0f} MB "
        f"({server.peak_anonymous_mb:.0f} MB anonymous), CPU {server.cpu_seconds:.1f} s"
    )
    return [
        sync_figure(
            name, phases, server, backend=community.backend, full_size=members >= FULL_SIZE_MEMBERS
        )
        for name in (FULL_SYNC, RESYNC, DELTA)
    ], phases


def sync_figure(
    name: str, phases: dict[str, Any], server: CommunityServer, *, backend: str, full_size: bool
) -> Figure:
    kith, floor = phases[f"{name} (kith)"], phases[f"{name} (floor)"]
    return Figure(
        name,
        kith["seconds"],
        floor["seconds"],
        (FLOOR_DELTA if name == DELTA else FLOOR_SYNC)[backend],
        kith["peak_rss_mb"],
        floor["peak_rss_mb"],
        SYNC_TARGETS[name],
        {
            "in_list": kith["in_list"],
            "members": kith["members"],
            "added": kith["added"],
            "removed": kith["removed"],
            "skipped": kith["skipped"],
            "cpu_seconds": kith["cpu_seconds"],
            "peak_anonymous_mb": kith["peak_anonymous_mb"],
            "community_cpu_seconds": kith["server_cpu_seconds"],
            "community_peak_rss_mb": server.peak_rss_mb,
            "community_peak_anonymous_mb": server.peak_anonymous_mb,
            "floor_read_seconds": floor["read_seconds"],
            "floor_write_seconds": floor["write_seconds"],
        },
        target_rss_mb=SYNC_RSS_TARGETS_MB[name],
        full_size=full_size,
    )


def check_sync(phases: dict[str, Any]) -> list[str]:
    """Each sync against the hand-written answer; every disagreement, as a message."""
    problems = []
    for name in (FULL_SYNC, RESYNC, DELTA):
        kith, expected = phases[f"{name} (kith)"], phases[f"{name} (check)"]
        floor = phases[f"{name} (floor)"]
        if kith["status"] != "completed":
            problems.append(f"{name}: the run ended {kith['status']}: {kith['error']}")
            continue
        if kith["mode"] != ("delta" if name == DELTA else "full"):
            problems.append(f"{name}: the run was a {kith['mode']} sync")
        floor_read = expected["in_list"] if name != DELTA else floor["rows"] or -1
        if kith["in_list"] != expected["in_list"] or floor["rows"] != floor_read:
            problems.append(
                f"{name}: kith read {kith['in_list']:,} members, the floor {floor['rows']:,}, "
                f"the list has {expected['in_list']:,}"
            )
        if not kith["members"] == expected["held"] == expected["expected"]:
            problems.append(
                f"{name}: kith reports {kith['members']:,} members and the group holds "
                f"{expected['held']:,}; hand-written SQL expects {expected['expected']:,}"
            )
        if expected["missing"] or expected["extra"]:
            problems.append(
                f"{name}: the group lacks {expected['missing']:,} subscribers it should hold "
                f"and holds {expected['extra']:,} it should not"
            )
        if kith["in_list"] != kith["members"] + sum(kith["skipped"].values()):
            problems.append(f"{name}: in_list is not members + skipped: {kith}")
    return problems


@contextmanager
def community_server(community: Databases, folder: Path) -> Iterator[CommunityServer]:
    """Serve kith's community database in a child process (bench.serve) for the block."""
    config, ready, result = folder / "serve.json", folder / "ready.json", folder / "served.json"
    config.write_text(
        json.dumps(
            {"kith_url": community.kith_url, "data_dir": str(folder), "secret_key": SECRET_KEY}
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", str(config), str(ready), str(result)],
        cwd=REPO,
        env=child_environment(),
        stdin=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the community server (bench.serve) did not start")
            time.sleep(0.05)
        server = CommunityServer(json.loads(ready.read_text())["base_url"], process.pid)
        yield server
    finally:
        if process.stdin is not None:
            process.stdin.close()
        process.wait(timeout=60)
    served = json.loads(result.read_text())
    server.peak_rss_mb, server.cpu_seconds = served["peak_rss_mb"], served["cpu_seconds"]
    server.peak_anonymous_mb = served["peak_anonymous_mb"]
