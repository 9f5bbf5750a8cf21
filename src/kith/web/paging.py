"""A page of a query's rows for the admin pages' tables, with where it stands among the pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

PAGE_SIZE = 50
Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    total: int
    number: int
    pages: int


def page_of(
    session: Session, query: Select[tuple[Row]], *order: Any, number: int, size: int = PAGE_SIZE
) -> Page[Row]:
    """Page `number` (from 1, clamped to the pages there are) of `query` in `order`."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    rows = session.scalars(query.order_by(*order).offset((number - 1) * size).limit(size))
    return Page(list(rows), total, number, pages)


def page_of_list(rows: list[Row], *, number: int, size: int = PAGE_SIZE) -> Page[Row]:
    """Page `number` of rows already read, for lists worked out outside SQL."""
    pages = max(1, -(-len(rows) // size))
    number = min(max(1, number), pages)
    return Page(rows[(number - 1) * size : number * size], len(rows), number, pages)
