"""Who holds a lease: a name for this process's thread, and whether a named holder is gone.

Leases (a mailing's send, the scheduler's tick) name their holder `host:pid:thread`, so that a
process of the same host can tell that the holder died and take over before the lease runs out.
"""

from __future__ import annotations

import os
import socket
import threading


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
