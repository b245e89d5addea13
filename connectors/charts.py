"""Report charts as inline SVG written from the figures: bars are ``<rect>`` elements, labels
``<text>``, no drawing library (issue 17 item 3).

Why not matplotlib any more: drawing the page's five charts with it took ≈ 0.5–0.75 s of a core
(p95 1.3 s at load 5, over the issue's 500 ms), so a page whose figures had changed since the last
view was slow. Writing the same bars as SVG elements takes about a millisecond, so charts are made
for every view, for every filter (tenant, dates) a page can ask for: nothing to draw ahead, to
store, to share between workers or machines, or to go stale after a rollup refresh
(docs/scale.md, "Where each bottleneck moves", point 5).

Inline SVG needs nothing from the network: no CDN, no script, no web font. Text is the browser's
own (system-ui), so Vietnamese diacritics come from the reader's fonts, and a screen reader or a
search finds the labels. Each chart is ``role="img"`` with a ``<title>`` and a ``<desc>`` pointing
to the table below it that holds every figure (WCAG 2.2 SC 1.1.1: the text alternative); each bar
carries its exact value in its own ``<title>`` (a tooltip). The ``viewBox`` lets the chart shrink
to a 360 px phone (the page's CSS: ``max-width: 100%; height: auto``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Final

from connectors.reports import Breakdown, Group

RATES: Final = (("completion_rate", "Hoàn thành / Completion", "#2e7d32"),
                ("pass_rate", "Đạt / Pass", "#1565c0"),
                ("verified_rate", "Lượt thi xác thực / Verified attempts", "#ef6c00"))
MAX_GROUPS: Final = 25  # more bars than this are unreadable; the tables below the charts list all
MAX_WEEKS: Final = 60
HIDDEN: Final = "ẩn / suppressed"
WIDTH: Final = 640
LABELS: Final = 236  # the left column of horizontal charts (labels are cut to fit, full in the tables)
FONT: Final = 'font-family="system-ui, Segoe UI, Roboto, Noto Sans, sans-serif" font-size="12" fill="#1b1b1b"'
GRID: Final = "#d0d0d0"
NO_DATA: Final = "Không có dữ liệu / No data"


def _short(text: str, width: int = 38) -> str:
    # Control characters and lone surrogates (legacy rows) have no glyph and no UTF-8: shown as U+FFFD.
    text = "".join("\ufffd" if ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF else c for c in text[:width + 1])
    return text if len(text) <= width else text[: width - 1] + "…"


def _label(g: Group, width: int = 38) -> str:
    suffix = f" ({HIDDEN})" if g.suppressed else ""
    return _short(g.label, max(width - len(suffix), 8)) + suffix


def _shown(groups: Sequence[Group]) -> list[Group]:
    if len(groups) <= MAX_GROUPS:
        return list(groups)
    # The largest groups; suppressed ones sort last (their size is not known, by design).
    return sorted(groups, key=lambda g: -(g.enrolments or -1))[:MAX_GROUPS]


def _svg(ident: str, title: str, height: float, body: list[str], note: str) -> str:
    """The chart's frame: its size, its accessible name (``title``) and description (``note``)."""
    h = math.ceil(height)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {h}" width="{WIDTH}" height="{h}" '
            f'role="img" aria-labelledby="{ident}-title {ident}-desc" {FONT}>'
            f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(note)}</desc>'
            f'<rect width="{WIDTH}" height="{h}" fill="#fff"/>'
            f'<text x="4" y="18" font-size="15" font-weight="600">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def _empty(ident: str, title: str) -> str:
    return _svg(ident, title, 90, [f'<text x="{WIDTH / 2}" y="60" text-anchor="middle">{NO_DATA}</text>'], NO_DATA)


def _note(b: Breakdown, shown: int) -> str:
    more = f" Biểu đồ vẽ {shown} nhóm lớn nhất / the chart draws the {shown} largest groups." \
        if shown < len(b.groups) else ""
    return (f"{len(b.groups)} nhóm; số liệu đầy đủ trong bảng “{b.title}” bên dưới / {len(b.groups)} groups; "
            f"every figure is in the table below.{more}")


def _ticks(top: float) -> list[float]:
    """Round axis values from 0 to at least ``top`` (steps of 1, 2 or 5 × 10ⁿ, four or five of them)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.1f}"


def _hbars(ident: str, title: str, b: Breakdown, series: Sequence[tuple[str, str, str]], unit: str,
           scale: float | None) -> str:
    """Horizontal bars, one row per group and one bar per series (attribute, label, colour) in it.
    ``scale``: the axis end (100 for rates, shown ×100); None: from the largest value."""
    groups = _shown(b.groups)
    if not groups:
        return _empty(ident, title)
    factor = 100.0 if scale == 100 else 1.0
    values = [[(getattr(g, attr) or 0) * factor for attr, _, _ in series] for g in groups]
    ticks = _ticks(scale if scale is not None else max(max(v) for v in values))
    left, right, top = LABELS + 8, WIDTH - 16, 34 + (22 if len(series) > 1 else 0)
    bar = 9.0 if len(series) > 1 else 16.0
    row = max(bar * len(series) + 10, min(160 / len(groups), 60))  # one or two groups: not a sliver
    body: list[str] = []
    if len(series) > 1:  # the legend, under the title
        x = 4.0
        for _, label, color in series:
            body.append(f'<rect x="{x:.0f}" y="32" width="12" height="12" fill="{color}"/>'
                        f'<text x="{x + 16:.0f}" y="42" font-size="11">{escape(label)}</text>')
            x += 24 + 6.2 * len(label)
    bottom = top + row * len(groups)

    def at(v: float) -> float:
        return left + (right - left) * v / ticks[-1]

    for t in ticks:
        body.append(f'<line x1="{at(t):.1f}" x2="{at(t):.1f}" y1="{top}" y2="{bottom}" stroke="{GRID}"/>'
                    f'<text x="{at(t):.1f}" y="{bottom + 15}" text-anchor="middle" font-size="11">{_num(t)}</text>')
    body.append(f'<text x="{(left + right) / 2}" y="{bottom + 32}" text-anchor="middle" font-size="11">'
                f'{escape(unit)}</text>')
    for i, (g, vals) in enumerate(zip(groups, values, strict=True)):
        y = top + i * row + (row - bar * len(series)) / 2
        body.append(f'<text x="{LABELS}" y="{top + i * row + row / 2 + 4:.1f}" text-anchor="end" font-size="11">'
                    f'{escape(_label(g))}</text>')
        for j, ((attr, label, color), v) in enumerate(zip(series, vals, strict=True)):
            if g.suppressed or getattr(g, attr) is None:
                continue
            shown = f"{v:.1f} %" if factor == 100 else _num(v)
            body.append(f'<rect x="{left}" y="{y + j * bar:.1f}" width="{max(at(v) - left, 0.5):.1f}" '
                        f'height="{bar - 1}" fill="{color}"><title>{escape(g.label)} — {escape(label)}: '
                        f'{shown}</title></rect>')
    body.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{bottom}" stroke="#555"/>')
    return _svg(ident, title, bottom + 40, body, _note(b, len(groups)))


def rates_chart(b: Breakdown, title: str, ident: str = "rates") -> str:
    """Completion, pass and verified-attempt rates per group, as grouped horizontal bars (percent)."""
    return _hbars(ident, title, b, RATES, "%", 100)


def value_chart(b: Breakdown, attr: str, title: str, unit: str, *, vertical: bool = False,
                color: str = "#5e35b1", ident: str = "values") -> str:
    """One figure per group (enrolments, minutes per enrolment, ...); suppressed groups get no bar."""
    if not vertical:
        return _hbars(ident, title, b, ((attr, unit, color),), unit, None)
    groups = list(b.groups)[-MAX_WEEKS:]  # the most recent weeks
    if not groups:
        return _empty(ident, title)
    values = [getattr(g, attr) or 0 for g in groups]
    ticks = _ticks(max(values))
    left, right, top, bottom = 56, WIDTH - 8, 34, 214
    slot = (right - left) / max(len(groups), 6)  # a few weeks do not stretch into slabs

    def at(v: float) -> float:
        return bottom - (bottom - top) * v / ticks[-1]

    body: list[str] = []
    for t in ticks:
        body.append(f'<line x1="{left}" x2="{right}" y1="{at(t):.1f}" y2="{at(t):.1f}" stroke="{GRID}"/>'
                    f'<text x="{left - 6}" y="{at(t) + 4:.1f}" text-anchor="end" font-size="11">{_num(t)}</text>')
    body.append(f'<text transform="translate(14 {(top + bottom) / 2}) rotate(-90)" text-anchor="middle" '
                f'font-size="11">{escape(unit)}</text>')
    step = max(1, math.ceil(len(groups) / 30))  # every label while they fit, else every n-th
    for i, (g, v) in enumerate(zip(groups, values, strict=True)):
        x = left + i * slot + slot * 0.2
        if not g.suppressed and getattr(g, attr) is not None:
            body.append(f'<rect x="{x:.1f}" y="{at(v):.1f}" width="{slot * 0.6:.1f}" '
                        f'height="{max(bottom - at(v), 0.5):.1f}" fill="{color}"><title>{escape(g.label)}: '
                        f'{_num(v)} {escape(unit)}</title></rect>')
        if i % step == 0:
            cx = x + slot * 0.3
            body.append(f'<text transform="translate({cx:.1f} {bottom + 10}) rotate(-45)" text-anchor="end" '
                        f'font-size="10">{escape(_label(g, 16))}</text>')
    body.append(f'<line x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}" stroke="#555"/>')
    return _svg(ident, title, bottom + 76, body, _note(b, len(groups)))


def report_charts(breakdowns: dict[str, Breakdown]) -> list[tuple[str, str]]:
    """(id, svg) of every chart on the report page, in page order: written from the figures for
    each view (≈ 1 ms together; the figures come from the rollups)."""
    return [
        ("enrolments-by-week", value_chart(breakdowns["week"], "enrolments",
                                           "Ghi danh theo tuần / Enrolments by week", "ghi danh / enrolments",
                                           vertical=True, ident="enrolments-by-week-svg")),
        ("rates-by-tenant", rates_chart(breakdowns["tenant"], "Theo bộ, ngành / By ministry",
                                        "rates-by-tenant-svg")),
        ("rates-by-course", rates_chart(breakdowns["course"], "Theo khoá học / By course", "rates-by-course-svg")),
        ("rates-by-province", rates_chart(breakdowns["province"], "Theo tỉnh, thành / By province",
                                          "rates-by-province-svg")),
        ("time-by-course", value_chart(breakdowns["course"], "minutes_per_enrolment",
                                       "Thời gian học / Time spent per enrolment", "phút / minutes",
                                       color="#00838f", ident="time-by-course-svg")),
    ]
