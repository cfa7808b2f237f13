"""The report's figures as one self-contained HTML page: inline SVG charts drawn here.

Readable offline and by anyone: no script, no stylesheet, font or image fetched from
anywhere (the page holds no URL at all), every text HTML-escaped. Each chart is an
``<svg role="img">`` with a ``<title>`` (WCAG 2.2 SC 1.1.1, non-text content), a
``<table>`` of the same figures, and a one-sentence summary, so a screen reader or a
printout loses nothing. A hidden count ("<10") is drawn as no bar and says so.
"""
from __future__ import annotations

from html import escape
import re
from typing import Any

from consentlib.records.report import ACTIONS, HIDDEN

LABELS = {"accept_all": "Accept all", "reject_all": "Reject all", "customised": "Customised"}
# Each at least 4.5:1 against white (WCAG 2.2 SC 1.4.3); colour is never the only cue
# (SC 1.4.1): bars are labelled, and each line has its own dash, shown in the legend.
COLOURS = {"accept_all": "#1b7837", "reject_all": "#b2182b", "customised": "#9c4a00"}
DASHES = {"accept_all": "", "reject_all": "7 3", "customised": "2 3"}
BAR = "#2166ac"

_STYLE = """
body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111}
figure{margin:2rem 0}table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #999;padding:.2rem .6rem;text-align:right}th:first-child,td:first-child{text-align:left}
figcaption{font-weight:600}svg text{font:12px system-ui,sans-serif}p.note{color:#444}
"""


def _ident(title: str) -> str:
    """An id for the chart's <title> (each chart's title is unique on the page)."""
    return "chart-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def percent(value: float | None) -> str:
    return "hidden (under 10)" if value is None else f"{value * 100:.1f}%"


def _count(value: Any) -> str:
    return "under 10" if value == HIDDEN else str(value)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th scope=\"col\">{escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _figure(title: str, summary: str, svg: str, table: str) -> str:
    return (f"<figure><figcaption>{escape(title)}</figcaption><p>{escape(summary)}</p>{svg}{table}</figure>")


Bar = tuple[str, float | None, str, str]  # label, length 0..1 (None: hidden), colour, the figure as text


def bar_chart(title: str, bars: list[Bar]) -> str:
    """Horizontal bars, each with its label and its figure written beside it."""
    ident = _ident(title)
    row, left, width = 28, 200, 360
    height = row * len(bars) + 10
    parts = [f'<svg role="img" aria-labelledby="{ident}" width="{left + width + 80}" height="{height}" '
             f'viewBox="0 0 {left + width + 80} {height}">'
             f'<title id="{ident}">{escape(title)}</title>']
    for i, (label, value, colour, text) in enumerate(bars):
        y = 5 + i * row
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        if value is not None:
            parts.append(f'<rect x="{left}" y="{y + 4}" width="{max(value, 0) * width:.1f}" height="{row - 8}" '
                         f'fill="{escape(colour)}"/>')
        parts.append(f'<text x="{left + (value or 0) * width + 6:.1f}" y="{y + 17}">{escape(text)}</text>')
    return "".join(parts) + "</svg>"


def line_chart(title: str, labels: list[str], series: dict[str, list[Any]]) -> str:
    """Counts per week, one line per action; a hidden count breaks the line there."""
    ident = _ident(title)
    left, top, width, height = 50, 10, 560, 200
    numbers = [v for values in series.values() for v in values if isinstance(v, int)]
    peak = max(numbers, default=0) or 1
    step = width / max(len(labels) - 1, 1)
    parts = [f'<svg role="img" aria-labelledby="{ident}" width="{left + width + 140}" height="{height + 60}" '
             f'viewBox="0 0 {left + width + 140} {height + 60}">'
             f'<title id="{ident}">{escape(title)}</title>',
             f'<line x1="{left}" y1="{top + height}" x2="{left + width}" y2="{top + height}" stroke="#999"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
             f'<text x="{left - 6}" y="{top + height}" text-anchor="end">0</text>']
    every = max(1, -(-70 // max(int(step), 1)))  # a label each 70 px at least: they never overlap
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text x="{left + i * step:.1f}" y="{top + height + 18}" text-anchor="middle">'
                         f'{escape(label)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour, dash = COLOURS.get(name, BAR), DASHES.get(name, "")
        stroke = f'stroke="{colour}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "")
        segment: list[str] = []
        for i, value in enumerate([*values, None]):
            if isinstance(value, int):
                segment.append(f"{left + i * step:.1f},{top + height - value / peak * height:.1f}")
                continue
            if segment:
                if len(segment) == 1:
                    cx, cy = segment[0].split(",")
                    parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
                else:
                    parts.append(f'<polyline fill="none" {stroke} points="{" ".join(segment)}"/>')
            segment = []
        row = top + 14 + n * 18
        parts.append(f'<line x1="{left + width + 12}" y1="{row - 4}" x2="{left + width + 36}" y2="{row - 4}" {stroke}/>'
                     f'<text x="{left + width + 42}" y="{row}">{escape(LABELS.get(name, name))}</text>')
    return "".join(parts) + "</svg>"


def _share_bar(label: str, value: float | None, colour: str) -> Bar:
    return label, value, colour, percent(value)


def _action_bars(actions: list[dict[str, Any]]) -> list[Bar]:
    return [_share_bar(LABELS[a["action"]], a["share"], COLOURS[a["action"]]) for a in actions]


def _actions_summary(actions: list[dict[str, Any]], visitors: Any) -> str:
    parts = ", ".join(f"{percent(a['share'])} {LABELS[a['action']].lower()}" for a in actions)
    return f"Of {_count(visitors)} visitors (each counted once, by their latest choice): {parts}."


def _grouped(report: dict[str, Any], key: str, name: str) -> str:
    groups = report[key]
    bars = [_share_bar(f"{name} {g[name.lower()]}: {LABELS[a['action']].lower()}", a["share"], COLOURS[a["action"]])
            for g in groups for a in g["actions"]]
    rows = [[g[name.lower()], _count(g["visitors"]),
             *(f"{_count(a['visitors'])} ({percent(a['share'])})" for a in g["actions"])] for g in groups]
    summary = "; ".join(f"{name} {g[name.lower()]}: " + ", ".join(
        f"{percent(a['share'])} {LABELS[a['action']].lower()}" for a in g["actions"]) for g in groups) + "."
    return _figure(f"Choices by {name.lower()} (visitors)", summary, bar_chart(f"Choices by {name.lower()}", bars),
                   _table([name, "visitors", *(LABELS[a] for a in ACTIONS)], rows))


def render_html(report: dict[str, Any]) -> str:
    """The whole page."""
    figures = [_figure(
        "What visitors chose", _actions_summary(report["actions"], report["visitors"]),
        bar_chart("Share of visitors by choice", _action_bars(report["actions"])),
        _table(["choice", "visitors", "share"],
               [[LABELS[a["action"]], _count(a["visitors"]), percent(a["share"])] for a in report["actions"]]))]

    categories = report["categories"]
    figures.append(_figure(
        "Grant rate of each category (visitors)",
        "Share of visitors whose latest choice granted each category: " + ", ".join(
            f"{c['category']} {percent(c['rate'])}{' (required)' if c['required'] else ''}" for c in categories) + ".",
        bar_chart("Grant rate by category", [_share_bar(c["category"], c["rate"], BAR) for c in categories]),
        _table(["category", "granted", "of visitors", "rate", "required"],
               [[c["category"], _count(c["granted"]), _count(c["visitors"]), percent(c["rate"]),
                 "yes" if c["required"] else "no"] for c in categories])))

    for key, name in (("by_revision", "Revision"), ("by_region", "Region"), ("by_language", "Language")):
        if report[key]:  # region and language only when receipts carry them
            figures.append(_grouped(report, key, name))

    gpc = report["gpc"]
    figures.append(_figure(
        "Global Privacy Control (visitors)",
        f"{_count(gpc['visitors'])} visitors ({percent(gpc['share'])}) sent the GPC signal with their latest choice.",
        bar_chart("Share of visitors sending GPC", [_share_bar("GPC sent", gpc["share"], BAR)]),
        _table(["signal", "visitors", "share"], [["GPC", _count(gpc["visitors"]), percent(gpc["share"])]])))

    weeks = report["by_week"]
    figures.append(_figure(
        "Choices per week (receipts)",
        f"{_count(report['receipts'])} choices were recorded over {len(weeks)} week(s); "
        "each line counts the receipts of one kind per ISO week.",
        line_chart("Receipts per week by choice", [w["week"] for w in weeks], {a: [w[a] for w in weeks]
                                                                                for a in ACTIONS}),
        _table(["week", "starts", "receipts", *(LABELS[a] for a in ACTIONS)],
               [[w["week"], w["start"], _count(w["receipts"]), *(_count(w[a]) for a in ACTIONS)] for w in weeks])))

    mail = report["mail"]
    if mail:
        opens = [v for c in mail for v in (c["human_opens"], c["machine_opens"])]
        scale = max([v for v in opens if isinstance(v, int)], default=0) or 1
        bars = [(f"{c['campaign']}: {who}", c[key] / scale if isinstance(c[key], int) else None, colour,
                 _count(c[key]))
                for c in mail for who, key, colour in (("people", "human_opens", BAR),
                                                         ("mail proxies", "machine_opens", "#888888"))]
        figures.append(_figure(
            "Email campaigns",
            "Opens by people (each person once) against fetches by mail proxies, per campaign: " + "; ".join(
                f"{c['campaign']}: {_count(c['human_opens'])} people, {_count(c['machine_opens'])} proxy fetches"
                for c in mail) + ". Bars are relative to the largest figure.",
            bar_chart("Email opens by people and by mail proxies", bars),
            _table(["campaign", "sent", "opened by people", "proxy fetches", "clicks by people", "scanner clicks",
                    "unsubscribes"],
                   [[c["campaign"], *(_count(c[k]) for k in ("sent", "human_opens", "machine_opens", "human_clicks",
                                                             "scanner_clicks", "unsubscribes"))] for c in mail])))

    since = f"from {report['since'][:10]}" if report["since"] else "all receipts kept"
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Consent report</title><style>{_STYLE}</style></head><body>"
            f"<h1>Consent report</h1><p>Period: {escape(since)}; made {escape(report['generated'][:16])} UTC. "
            f"Shares count visitors (each consent id once, by its latest receipt in the period); the weekly "
            f"trend counts receipts. Any figure under {report['min_count']} reads \u201cunder 10\u201d.</p>"
            + "".join(figures) + "</body></html>\n")
