"""Names of the records Super Admins keep (lists, automation rules): trimmed, bounded, unique
in any case."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kith.errors import Conflict, InvalidInput

MAX_NAME_LENGTH = 300


def unique_name(
    session: Session, model: Any, name: str, *, what: str, key: str, renaming: Any = None
) -> str:
    """`name` trimmed, refused when empty, too long, or held (any case) by another `model`
    record than `renaming`; `what` names the kind of record, `key` its key attribute."""
    a = "an" if what[0].lower() in "aeiou" else "a"
    name = name.strip()
    if not name:
        raise InvalidInput(f"{a} {what} needs a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{a} {what} name has at most {MAX_NAME_LENGTH} characters")
    clash = session.scalar(select(model).where(func.lower(model.name) == name.lower()))
    if clash is not None and clash is not renaming:
        raise Conflict(f"{a} {what} named {clash.name!r} already exists ({getattr(clash, key)})")
    return name
