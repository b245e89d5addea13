"""The report as one self-contained HTML page: the charts inline as SVG, the tables, the definitions.

The same page is the dashboard (``connectors.http_reports``, with its filter form) and the file
``hocvu report`` writes. Nothing on it loads from elsewhere: no script, no stylesheet or font file,
no image URL; the dashboard's Content-Security-Policy says so to the browser as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from connectors.charts import report_charts
from connectors.reports import Report

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


_ENV.filters.update(percent=_percent, number=_number)


def render(report: Report, *, dashboard: dict[str, Any] | None = None) -> str:
    """The page. ``dashboard``: the web filter form's values (tenant, since, until, tenants it may
    choose from, export links); None for the standalone file."""
    charts = [(chart_id, Markup(svg)) for chart_id, svg in report_charts(report.breakdowns)]  # our own SVG
    return _ENV.get_template("reports/dashboard.html").render(report=report, charts=charts, dashboard=dashboard)

