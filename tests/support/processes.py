"""Lease holders for tests: the name of a process of this host that has exited."""

from __future__ import annotations

import socket
import subprocess
import sys


def dead_holder() -> str:
    """A holder name (`host:pid:thread`) whose process ran on this host and is gone."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return f"{socket.gethostname()}:{process.pid}:1"
