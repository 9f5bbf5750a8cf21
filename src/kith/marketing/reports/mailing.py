"""A mailing's report (kith.marketing.mailings.report) as a report with a chart, CSV and page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from kith.marketing.mailings.report import FIGURES, mailing_report
from kith.marketing.reports.charts import Series, bar_chart
from kith.marketing.reports.render import CsvRow


@dataclass(frozen=True)
class MailingReport:
    """What was sent and what recipients did, overall and by community-activity segment."""

    figures: dict[str, Any]  # mailing_report's structure, as the mailings command shows it
    generated_at: datetime

    kind = "mailing"

    @property
    def title(self) -> str:
        return f"Mailing {self.figures['mailing']}: {self.figures['name']}"

    def as_json(self) -> dict[str, Any]:
        return {"report": self.kind, "generated_at": self.generated_at.isoformat(), **self.figures}

    def csv_rows(self) -> Iterator[CsvRow]:
        for name, value in self.figures["totals"].items():
            yield "totals", name, "all", value
        for segment, counts in self.figures["by_community_activity"].items():
            for name, value in counts.items():
                yield "by_community_activity", name, segment, value

    def charts(self) -> dict[str, str]:
        segments = self.figures["by_community_activity"]
        names = ["recipients", *FIGURES]
        return {
            "segments": bar_chart(
                "Recipients by community activity",
                [name.replace("_", " ") for name in names],
                [Series(segment, [row[n] for n in names]) for segment, row in segments.items()],
                x_label="figure",
                y_label="people",
                stacked=False,
            )
        }


def mailing_report_of(session: Session, mailing_id: int, *, now: datetime) -> MailingReport:
    return MailingReport(mailing_report(session, mailing_id, now=now), now)
