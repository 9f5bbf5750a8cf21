"""A report's three forms: JSON, CSV (one tidy table) and an HTML page with its SVG charts.

Every report is one computed structure; these functions only write it out, so the three forms
always agree. The CSV has the columns section, label, series, value: a row per figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from fastapi import Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from kith.csvexport import csv_text

CSV_COLUMNS = ("section", "label", "series", "value")
CsvRow = tuple[str, str, str, Any]

_pages = Environment(
    loader=PackageLoader("kith.marketing.reports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class Report(Protocol):
    """What each report (community, sync, mailing) offers its renderers."""

    @property
    def kind(self) -> str: ...

    @property
    def title(self) -> str: ...

    def as_json(self) -> dict[str, Any]: ...

    def csv_rows(self) -> Iterator[CsvRow]: ...

    def charts(self) -> dict[str, str]: ...


def weekly_rows(
    section: str, weeks: Sequence[str], counts: Mapping[str, Sequence[Any]]
) -> Iterator[CsvRow]:
    """A row per week and series: (section, week, series, value)."""
    for series, values in counts.items():
        for week, value in zip(weeks, values, strict=True):
            yield section, week, series, value


def report_json(report: Report) -> dict[str, Any]:
    return report.as_json()


def report_csv(report: Report) -> str:
    return csv_text(CSV_COLUMNS, report.csv_rows())


def render_html(report: Report) -> str:
    """The report as a whole HTML page (charts inline as SVG; no scripts, no external files)."""
    return _rendered(report, "report.html")


def render_html_part(report: Report) -> Markup:
    """The report's sections, for a page of the admin (which gives the heading and the menu);
    the page's head needs report_style()."""
    return Markup(_rendered(report, "report_part.html"))


def report_style() -> Markup:
    """The rules a report's sections are drawn with (their tables, figures and charts)."""
    return Markup(_pages.get_template("_report.css").render())


def _rendered(report: Report, layout: str) -> str:
    template = _pages.get_template(f"{report.kind}.html")
    return template.render(
        layout=layout, report=report, data=report.as_json(), charts=report.charts()
    )


def csv_download(report: Report) -> Response:
    """The report's CSV as a file download, as the API and the report pages answer it."""
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{report.kind}-report.csv"'},
    )
