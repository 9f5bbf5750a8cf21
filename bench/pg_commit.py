"""What one settlement's commit costs PostgreSQL: the floor under a send's bookkeeping there.

A send settles each message in a transaction of its own (kith.marketing.mailings.sending says
why). This times the same work with nothing of kith's around it: single-row UPDATEs of a table
shaped like `deliveries`, one per transaction, over one psycopg connection in autocommit mode,
and reports per UPDATE the wall time, the client's CPU and the server backend's CPU (read from
/proc, so the server must run on this machine), with `synchronous_commit` on and then off.

    .venv/bin/python -m bench.pg_commit [--updates 10000]
"""

from __future__ import annotations

import argparse
import os
from time import perf_counter, process_time

import psycopg

from bench.mailings import DEFAULT_POSTGRES_URL
from bench.measure import process_cpu_seconds

TABLE = "kith_bench_commits"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000, help="UPDATEs a mode (10,000)")
    args = parser.parse_args(argv)
    url = os.environ.get("KITH_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    with psycopg.connect(url, autocommit=True) as connection:
        prepare(connection, 2 * args.updates)
        try:
            backend = connection.execute("SELECT pg_backend_pid()").fetchone()
            assert backend is not None
            for offset, mode in enumerate(("on", "off")):
                connection.execute(f"SET synchronous_commit = {mode}")
                first = offset * args.updates + 1
                measure(connection, backend[0], range(first, first + args.updates), mode)
        finally:
            connection.execute(f"DROP TABLE {TABLE}")


def prepare(connection: psycopg.Connection, rows: int) -> None:
    """The table, with `deliveries`' kind of columns and index, holding `rows` claimed rows."""
    connection.execute(
        f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, mailing_id int, email text, "
        "status text, detail text, attempts int, message_id text, settled_at timestamptz)"
    )
    connection.execute(f"CREATE INDEX ON {TABLE} (mailing_id, status)")
    connection.execute(
        f"INSERT INTO {TABLE} (mailing_id, email, status) "
        "SELECT 1, 'member' || n || '@example.org', 'sending' FROM generate_series(1, %s) n",
        (rows,),
    )
    connection.execute(f"VACUUM ANALYZE {TABLE}")


def measure(connection: psycopg.Connection, backend: int, ids: range, mode: str) -> None:
    server, started, client = process_cpu_seconds(backend), perf_counter(), process_time()
    for row in ids:
        connection.execute(
            f"UPDATE {TABLE} SET status = %s, detail = %s, attempts = %s, message_id = %s, "
            "settled_at = now() WHERE id = %s",
            ("sent", "250 OK", 1, f"<{row}@bench.example.org>", row),
        )
    wall, client = perf_counter() - started, process_time() - client
    server = process_cpu_seconds(backend) - server
    per = 1e6 / len(ids)
    print(
        f"synchronous_commit {mode}: {len(ids):,} single-row UPDATEs, each its own transaction: "
        f"{wall * per:.0f} µs wall, {client * per:.0f} µs client CPU, "
        f"{server * per:.0f} µs server CPU each",
        flush=True,
    )


if __name__ == "__main__":
    main()
