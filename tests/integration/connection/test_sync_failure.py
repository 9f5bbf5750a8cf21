"""A sync whose community server dies mid-stream: the old membership stays, the run fails.

The community runs as a real `kith serve` process, killed (SIGKILL) while the connection is
reading its member stream.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kith.connection.incoming as incoming_module
from kith.community.credentials import create_credential
from kith.community.ingest import import_members
from kith.config import Settings
from kith.db import Database
from kith.encryption import SecretBox
from kith.marketing.groups.target_groups import get_group
from tests.integration.cli.test_system import kith_serve
from tests.support.community_world import NOW, add_member
from tests.support.connection_world import World
from tests.support.import_files import MEMBERS_HEADER, csv_rows, member_line

MEMBERS = 40_000  # four chunks of the community's stream: more than one in flight at a time


@pytest.fixture
def community_process(
    community_db: Database, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KITH_")}
    env |= {
        "KITH_COMMUNITY_DB_URL": community_db.url,
        "KITH_DATA_DIR": str(tmp_path / "served"),
        "KITH_SECRET_KEY": "community-process",
    }
    with kith_serve(env, "--no-jobs") as (process, base):
        yield process, f"{base}/community"


def test_a_server_killed_mid_stream_leaves_the_old_membership_and_a_failed_run(
    community_db: Database,
    marketing_db: Database,
    settings: Settings,
    community_process: tuple[subprocess.Popen[bytes], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, base_url = community_process
    lines = (member_line(f"m{n:05}", f"L{n:05}", f"p{n}@example.org") for n in range(MEMBERS))
    with community_db.bulk_transaction() as session:
        import_members(session, csv_rows(MEMBERS_HEADER, *lines), now=NOW)
    with community_db.transaction() as session:
        add_member(session, "admin", is_super_admin=True, email="admin@example.org")
        issued = create_credential(session, name="Marketing", by="admin", now=NOW)
    world = World(community_db, marketing_db, settings, SecretBox.from_settings(settings), base_url)
    world.configure(
        url=base_url, iam_key=issued.credential.iam_key, password=issued.password, active=True
    )
    world.subscribers(*((f"p{n}@example.org", f"L{n:05}", "subscribed") for n in range(MEMBERS)))
    key = world.list("Informz All", {"field": "contact_key", "op": "starts_with", "value": "m"})
    world.refresh()
    assert world.sync("All").members == MEMBERS
    # A sync that completed now would take a quarter out of the group. Its stream is three
    # chunks (30,000 members), more than the sockets between the two processes hold, so the
    # server cannot have sent all of it when it is killed.
    world.change_criteria(
        key,
        {
            "all": [
                {"field": "contact_key", "op": "starts_with", "value": "m"},
                {"not": {"field": "contact_key", "op": "starts_with", "value": "m0"}},
            ]
        },
    )

    original = incoming_module.staged_row

    def kill_the_server_early(position: int, member: dict[str, Any], platform: bool) -> Any:
        if position == 100:
            process.kill()
            process.wait(timeout=10)
        return original(position, member, platform)

    monkeypatch.setattr(incoming_module, "staged_row", kill_the_server_early)
    failed = world.sync("All")

    assert process.returncode is not None  # the server really died mid-stream
    assert failed.status == "failed"
    assert failed.error is not None and "community API" in failed.error
    assert failed.members is None and failed.in_list is None
    assert len(world.group_remote_ids("All")) == MEMBERS
    with marketing_db.session() as session:
        group = get_group(session, "All")
    assert (group.sync_status, group.sync_error) == ("failed", failed.error)
