"""Report charts as inline SVG, drawn by matplotlib with the Agg backend and no pyplot.

Inline SVG needs nothing from the network: no CDN, no script, no web font. Text is drawn as paths
(``svg.fonttype = "path"``), so the page looks the same on a machine without the font, and
Vietnamese diacritics come from the DejaVu Sans glyphs matplotlib ships with.

``matplotlib.figure.Figure`` is used directly rather than pyplot: no global figure registry, so
the web process can draw charts for two requests at once.
"""

from __future__ import annotations

import io
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

import matplotlib

matplotlib.use("Agg")  # before anything could pick an interactive backend
from matplotlib.figure import Figure

from connectors.reports import Breakdown, Group

matplotlib.rcParams.update({
    "svg.fonttype": "path",          # glyphs as paths: no font file is needed by the viewer
    "svg.hashsalt": "hocvu-report",  # deterministic element ids: the same report gives the same page
    "font.family": "DejaVu Sans",
    "font.size": 9,
    # Labels are tenants' course ids and names: "$...$" in one must be text, not TeX that fails to
    # parse and takes the whole dashboard down with it (issue 13: one tenant's data, every view).
    "text.parse_math": False,
})
RATES: Final = (("completion_rate", "Hoàn thành / Completion", "#2e7d32"),
                ("pass_rate", "Đạt / Pass", "#1565c0"),
                ("verified_rate", "Lượt thi xác thực / Verified attempts", "#ef6c00"))
MAX_GROUPS: Final = 25  # more bars than this are unreadable; the tables below the charts list all
HIDDEN: Final = "ẩn / suppressed"


def _short(text: str, width: int = 42) -> str:
    # Control characters and lone surrogates (legacy rows) have no glyph and no UTF-8: shown as U+FFFD.
    text = "".join("\ufffd" if ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF else c for c in text[:width + 1])
    return text if len(text) <= width else text[: width - 1] + "…"


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element for inlining: no XML prolog, DOCTYPE or comments."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments repeat labels; nothing needs them


def _shown(groups: Sequence[Group]) -> list[Group]:
    if len(groups) <= MAX_GROUPS:
        return list(groups)
    # The largest groups; suppressed ones sort last (their size is not known, by design).
    return sorted(groups, key=lambda g: -(g.enrolments or -1))[:MAX_GROUPS]


def _empty(fig: Figure, ax: object) -> None:
    ax.text(0.5, 0.5, "Không có dữ liệu / No data", ha="center", va="center", transform=ax.transAxes)  # type: ignore[attr-defined]
    ax.set_axis_off()  # type: ignore[attr-defined]


def rates_chart(b: Breakdown, title: str) -> str:
    """Completion, pass and verified-attempt rates per group, as grouped horizontal bars (percent)."""
    groups = _shown(b.groups)
    fig = Figure(figsize=(7.5, 1.2 + 0.55 * max(len(groups), 1)))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    if not groups:
        _empty(fig, ax)
        return to_svg(fig)
    height = 0.8 / len(RATES)
    for i, (attr, label, color) in enumerate(RATES):
        ys = [n + (i - 1) * height for n in range(len(groups))]
        values = [(getattr(g, attr) or 0) * 100 for g in groups]
        ax.barh(ys, values, height=height, color=color, label=label)
    ax.set_yticks(range(len(groups)), [_short(g.label) + (f" ({HIDDEN})" if g.suppressed else "") for g in groups])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    # Under the axis label, so it never covers the title or a bar.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (0.77 * fig.get_figheight())), ncols=3,
              frameon=False, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return to_svg(fig)


def value_chart(b: Breakdown, attr: str, title: str, unit: str, *, vertical: bool = False,
                color: str = "#5e35b1") -> str:
    """One figure per group (enrolments, minutes per enrolment, ...); suppressed groups get no bar."""
    groups = list(b.groups) if vertical else _shown(b.groups)
    if vertical and len(groups) > 60:
        groups = groups[-60:]  # the most recent weeks
    fig = Figure(figsize=(7.5, 3.2) if vertical else (7.5, 1.0 + 0.4 * max(len(groups), 1)))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    if not groups:
        _empty(fig, ax)
        return to_svg(fig)
    values = [getattr(g, attr) or 0 for g in groups]
    labels = [_short(g.label) + (f" ({HIDDEN})" if g.suppressed else "") for g in groups]
    if vertical:
        ax.bar(range(len(groups)), values, color=color, width=0.6)
        ax.set_xlim(-0.75, max(len(groups), 6) - 0.25)  # a few weeks do not stretch into slabs
        ax.set_xticks(range(len(groups)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    else:
        ax.barh(range(len(groups)), values, color=color)
        ax.set_yticks(range(len(groups)), labels)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        ax.grid(axis="x", alpha=0.3)
    return to_svg(fig)


_CACHE: OrderedDict[tuple[object, ...], list[tuple[str, str]]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHED: Final = 32


def _drawn(b: Breakdown) -> tuple[object, ...]:
    """What the charts show of a breakdown, at the precision they draw it (0.1 % of a rate, 0.1
    minute): two reports that differ by less draw the same charts."""
    def r(v: float | None, digits: int) -> float | None:
        return None if v is None else round(v, digits)

    return tuple((g.label, g.suppressed, g.enrolments, r(g.completion_rate, 3), r(g.pass_rate, 3),
                  r(g.verified_rate, 3), r(g.minutes_per_enrolment, 1)) for g in b.groups)


def report_charts(breakdowns: dict[str, Breakdown]) -> list[tuple[str, str]]:
    """(id, svg) of every chart on the report page, in page order. Drawing takes most of the page's
    time (matplotlib, glyphs as paths); the last few chart sets are kept, keyed by what they show,
    so repeated views of the same figures are not drawn again."""
    key = tuple(_drawn(breakdowns[d]) for d in ("week", "tenant", "course", "province"))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is not None:
            _CACHE.move_to_end(key)
            return found
    charts = _draw(breakdowns)
    with _CACHE_LOCK:
        _CACHE[key] = charts
        while len(_CACHE) > CACHED:
            _CACHE.popitem(last=False)
    return charts


def _draw(breakdowns: dict[str, Breakdown]) -> list[tuple[str, str]]:
    return [
        ("enrolments-by-week", value_chart(breakdowns["week"], "enrolments",
                                           "Ghi danh theo tuần / Enrolments by week", "ghi danh / enrolments",
                                           vertical=True)),
        ("rates-by-tenant", rates_chart(breakdowns["tenant"], "Theo bộ, ngành / By ministry")),
        ("rates-by-course", rates_chart(breakdowns["course"], "Theo khoá học / By course")),
        ("rates-by-province", rates_chart(breakdowns["province"], "Theo tỉnh, thành / By province")),
        ("time-by-course", value_chart(breakdowns["course"], "minutes_per_enrolment",
                                       "Thời gian học / Time spent per enrolment", "phút / minutes",
                                       color="#00838f")),
    ]
