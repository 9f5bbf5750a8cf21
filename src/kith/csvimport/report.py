"""What an import did: rows imported, updated, skipped as duplicates, and each rejected row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Self, TypedDict

from kith.errors import InvalidInput


class RejectedRow(TypedDict):
    line: int
    reason: str


@dataclass
class ImportReport:
    """Counts of an import plus every rejected row, by file line (the header is line 1)."""

    imported: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append({"line": line, "reason": reason})

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
        }

    def summary(self) -> str:
        """One line for people: what the import did."""
        text = f"{self.imported} imported, {self.updated} updated"
        if self.duplicates:
            text += f", {self.duplicates} duplicates skipped"
        return f"{text}, {len(self.rejected)} rejected"

    def settle(self, *, strict: bool) -> Self:
        """The report to return, or ImportRejected when strict and any row was rejected."""
        self.rejected.sort(key=lambda row: row["line"])
        if strict and self.rejected:
            raise ImportRejected(replace(self, imported=0, updated=0, duplicates=0))
        return self


class ImportRejected(InvalidInput):
    """A strict import met bad rows: raised so that the caller's transaction rolls back.

    `report` lists every rejected row; its counts are zero because nothing was imported.
    """

    def __init__(self, report: ImportReport) -> None:
        count = len(report.rejected)
        super().__init__(
            f"nothing imported: {count} row{'' if count == 1 else 's'} rejected (strict mode)"
        )
        self.report = report
