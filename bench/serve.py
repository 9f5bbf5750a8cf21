"""The community app served over HTTP on loopback, in a process of its own, for the sync benchmark.

Usage (by bench.connection): python -m bench.serve CONFIG.json READY.json RESULT.json

It serves kith's community database with uvicorn (kith.web.loopback) until its standard input
closes, writes the base URL to READY as soon as it listens, and its peak RSS (and anonymous
memory) and CPU seconds to RESULT when it stops. Apart from the syncing process, the
community's work shows in its own figures (CPU, memory), as it would with a community on
another machine.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from bench.measure import AnonymousMemory
from bench.phases import peak_rss_mb
from kith.community.app import create_community_app
from kith.config import Settings
from kith.db import Database
from kith.web.loopback import serve_on_loopback


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    memory = AnonymousMemory()
    config = json.loads(Path(sys.argv[1]).read_text())
    ready, result = Path(sys.argv[2]), Path(sys.argv[3])
    db = Database(config["kith_url"])
    settings = Settings(data_dir=Path(config["data_dir"]), secret_key=config["secret_key"])
    with serve_on_loopback(create_community_app(db, settings)) as base_url:
        written = ready.with_suffix(".tmp")  # renamed, so the benchmark never reads half of it
        written.write_text(json.dumps({"base_url": base_url}))
        written.replace(ready)
        sys.stdin.read()  # until the benchmark closes our standard input
    db.dispose()
    result.write_text(
        json.dumps(
            {
                "peak_rss_mb": peak_rss_mb(),
                "peak_anonymous_mb": memory.peak_mb,
                "cpu_seconds": cpu_seconds(),
            }
        )
    )


if __name__ == "__main__":
    main()
