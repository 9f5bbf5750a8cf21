"""Kill trials, run by hand: `kith worker` processes killed (SIGKILL) at random moments of syncs
and sends, each followed by the rerun an operator starts; how many recovered, and how soon.

    .venv/bin/python -m bench.kill_trials [--trials 24] [--backend postgresql|sqlite]
        [--members 3000] [--seed N]

Issue 21's bar: after a kill, the rerun starts within 30 s and ends exact (the group holds
exactly its members; every recipient got the mailing, at most one message per SMTP connection
twice). Each trial is tests/support/kill_trials.py's, which tests/integration/test_jobs.py runs
a few times: two workers, the one doing the work killed a random moment into it (up to the
time the same work took without a kill), a replacement started after each rerun. PostgreSQL
comes from KITH_BENCH_POSTGRES_URL (default: the local server) with Redis from
KITH_TEST_REDIS_URL; `--backend sqlite` uses SQLite files and the SQLite queue.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import traceback
from pathlib import Path

from tests.conftest import POSTGRES_URL, PostgresServer
from tests.support.kill_trials import CONNECTIONS, KillTrials, Trial, cluster_world
from tests.support.smtp_sink import SmtpSink
from tests.support.worker_cluster import running_workers

KINDS = ("sync", "send")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=24, help="kills of each kind (default 24)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--members", type=int, default=3000, help="community members (3000)")
    parser.add_argument("--seed", type=int, default=None, help="the random moments' seed")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    postgres = PostgresServer(os.environ.get("KITH_BENCH_POSTGRES_URL", POSTGRES_URL))
    done: dict[str, list[Trial]] = {kind: [] for kind in KINDS}
    failed: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="kith-kills-") as folder, SmtpSink() as sink:
            smtp_url = sink.url() + f"&connections={CONNECTIONS}&backoff=0"
            with cluster_world(
                args.backend,
                Path(folder),
                smtp_url,
                members=args.members,
                postgres=postgres.new_database,
            ) as cluster:
                world = cluster.world
                logs = Path(folder) / "logs"
                with running_workers(world.settings, world.marketing, logs) as workers:
                    trials = KillTrials(cluster, workers, sink, random.Random(seed), keep_alive=2)
                    trials.calibrate(*KINDS)
                    print(
                        f"kill trials: {args.backend}, {args.members:,} members, seed {seed}; "
                        f"without a kill a sync took {trials.durations['sync']:.2f} s, "
                        f"a send {trials.durations['send']:.2f} s",
                        flush=True,
                    )
                    for number in range(1, args.trials + 1):
                        for kind in KINDS:
                            try:
                                trial = trials.trial(kind)
                            except AssertionError as error:
                                failed.append(f"{kind} trial {number}: {error}")
                                traceback.print_exc()
                                trials.keep_workers()
                                continue
                            done[kind].append(trial)
                            print(_line(number, trial), flush=True)
    finally:
        postgres.drop_all()
    print()
    print(_figures(done, args.trials))
    for failure in failed:
        print(f"NOT RECOVERED {failure}")
    return 1 if failed else 0


def _line(number: int, trial: Trial) -> str:
    moment = "mid-work" if trial.mid_work else "after the end"
    twice = f", {trial.duplicates} sent twice" if trial.kind == "send" else ""
    return (
        f"{trial.kind} {number:3}: killed {trial.delay:.2f} s in ({moment}), "
        f"rerun started {trial.recovery:.2f} s after{twice}"
    )


def _figures(done: dict[str, list[Trial]], trials: int) -> str:
    rows = [("kind", "trials", "mid-work", "recovered", "to rerun p50 s", "max s", "sent twice")]
    for kind, results in done.items():
        seconds = [trial.recovery for trial in results if trial.mid_work]
        twice = sum(trial.duplicates for trial in results)
        rows.append(
            (
                kind,
                str(trials),
                str(sum(trial.mid_work for trial in results)),
                str(len(results)),
                f"{statistics.median(seconds):.2f}" if seconds else "-",
                f"{max(seconds):.2f}" if seconds else "-",
                f"{twice} (at most {max((t.duplicates for t in results), default=0)} a send)"
                if kind == "send"
                else "-",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)


if __name__ == "__main__":
    sys.exit(main())
