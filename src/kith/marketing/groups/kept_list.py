"""A community group's kept list (kith.connection.list_mirror) as it stands: the rows its last
full sync kept (CommunityListMember), less those a delta sync changed since, which stand in
their place (CommunityListRecent, unless `gone`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Select, Table, false, select

from kith.marketing.models import CommunityListMember, CommunityListRecent

# A group's kept list: as its last full sync kept it, and the rows delta syncs changed since
KEPT_MODELS = (CommunityListMember, CommunityListRecent)
# Their tables, for statements the ORM would slow down (it fetches the rows a statement
# changes, to keep a session's objects in step, and no session holds these)
KEPT_LIST, RECENT = (model.metadata.tables[model.__tablename__] for model in KEPT_MODELS)


def kept_rows(
    group_id: int, columns: Sequence[str], where: Callable[[Table], Any] | None = None
) -> CompoundSelect[Any]:
    """The group's kept list as it stands, `columns` of the rows `where` (given a table of kept
    rows, a condition on it) selects: those a delta changed since the last full sync, and the
    others as that sync kept them."""

    def rows(table: Table, *conditions: Any) -> Select[Any]:
        chosen = () if where is None else (where(table),)
        selected = (table.c[name] for name in columns)
        return select(*selected).where(table.c.group_id == group_id, *chosen, *conditions)

    newer = select(RECENT.c.contact_key).where(
        RECENT.c.group_id == group_id, RECENT.c.contact_key == KEPT_LIST.c.contact_key
    )
    return rows(RECENT, RECENT.c.gone == false()).union_all(rows(KEPT_LIST, ~newer.exists()))
