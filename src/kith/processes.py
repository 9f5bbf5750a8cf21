"""Leases and their holders: a name for this process's thread, and whether a lease still binds.

Leases (a mailing's send, the scheduler's tick, a sync run) name their holder `host:pid:thread`,
so that a process of the same host can tell that the holder died and take over at once rather
than when the lease runs out (which is all another host can go by).
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime


def this_thread() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def holder_is_dead(holder: str | None) -> bool:
    """Whether a lease's holder was a process of this host that no longer runs."""
    host, _, rest = (holder or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's: its lease runs out on its own
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_held(holder: str | None, until: datetime | None, *, now: datetime) -> bool:
    """Whether a lease binds: someone holds it, it has not run out, and its holder is not a
    process of this host that died."""
    return bool(holder) and until is not None and until > now and not holder_is_dead(holder)
