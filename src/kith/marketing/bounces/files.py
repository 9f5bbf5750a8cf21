"""Bounce messages from files, for `kith bounces process`: one message (.eml), a directory of
them (a Maildir's cur/ and new/ included), or an mbox file (messages after "From " lines)."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from kith.errors import InvalidInput


def iter_message_files(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) of each message under `path`, in name order."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and not child.name.startswith("."):
                yield from iter_message_files(child)
        return
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file or directory")
    with path.open("rb") as file:
        start = file.read(5)
    if start == b"From ":
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), 1):
                yield f"{path} #{number}", box.get_bytes(key)
        finally:
            box.close()
        return
    yield str(path), path.read_bytes()
