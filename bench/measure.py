"""What the benchmarks share: the databases they measure, a figure next to its floor, and a
measured step run in a child process of its own (bench.phases), so its peak RSS is its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Databases:
    """Kith's database and the floor's, each as a SQLAlchemy URL and as a raw driver target."""

    backend: str
    kith_url: str
    kith_raw: str
    floor_url: str
    floor_raw: str


@dataclass
class Figure:
    name: str
    seconds: float
    floor_seconds: float
    floor: str
    peak_rss_mb: float
    floor_peak_rss_mb: float
    target_seconds: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    target_rss_mb: float | None = None
    # Whether the figure ran at the size its targets are set for; None: judged by the run's
    # sizes (1,000,000 members and 10,000,000 events)
    full_size: bool | None = None

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds if self.floor_seconds > 0 else float("inf")


def child_environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}


def run_phase(phase: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a child process; its result, with the child's peak RSS."""
    with tempfile.TemporaryDirectory(prefix="kith-bench-") as folder:
        config_path = Path(folder) / "config.json"
        result_path = Path(folder) / "result.json"
        config_path.write_text(json.dumps({**config, "phase": phase}))
        completed = subprocess.run(
            [sys.executable, "-m", "bench.phases", str(config_path), str(result_path)],
            cwd=REPO,
            env=child_environment(),
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"bench phase {phase} {config} failed (exit {completed.returncode})")
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result


class AnonymousMemory:
    """The peak of this process's anonymous resident memory (RssAnon), sampled every 20 ms.

    Peak RSS (VmHWM) also counts the file pages SQLite reads through its memory map, which are
    the operating system's page cache; this is the memory the process itself holds.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        status = Path("/proc/self/status")
        while True:
            for line in status.read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_mb = max(self.peak_mb, int(line.split()[1]) / 1024)
            time.sleep(0.02)


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc; OSError when it has
    gone or there is no /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def postgres_cpu_seconds() -> float | None:
    """The CPU time so far of a PostgreSQL server on this machine: every `postgres` process's
    own, and that of its children that ended (a backend's, once its connection closed). None
    when no server runs here. Whatever the server did for others in the meantime counts too."""
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:  # the process ended meanwhile
            continue
        if head.partition("(")[2] != "postgres":
            continue
        fields = rest.split()
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        found = True
    return total / os.sysconf("SC_CLK_TCK") if found else None


def say(message: str) -> None:
    print(message, flush=True)
