"""The statistical report as JSON, CSV and HTML, each read from one `StatisticsReport`.

Every format renders the same model, so they cannot disagree. The CSV is one long table
(one number a row) because spreadsheets and scripts filter long tables more easily than
nested ones. The HTML is a single standalone page (inline CSS, inline SVG charts, no
script, nothing fetched) so it can be mailed, archived and printed on A4 as it is.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import date
from html import escape

import matplotlib
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from domain.vocabulary import CrimeType, Step
from reports.model import (
    Breakdown,
    Cell,
    Definition,
    Dimension,
    Indicator,
    StatisticsReport,
    StepDuration,
    Variant,
)

matplotlib.use("Agg")  # a server has no display: charts only ever become SVG text

MEDIA_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8; header=present",
    "html": "text/html; charset=utf-8",
}
CSV_COLUMNS = ("section", "crime_type", "item", "category", "value")
LONG_TABLE = 20  # rows past which a breakdown's table flows in three columns
CHART_TOP = 10  # categories a chart shows; the rest are one bar, so 200 nationalities stay fast

CRIME_LABELS: Mapping[CrimeType, str] = {
    CrimeType.TRAFFICKING: "Trafficking in persons",
    CrimeType.SMUGGLING: "Migrant smuggling",
}
DIMENSION_LABELS: Mapping[Dimension, str] = {
    Dimension.SEX: "sex",
    Dimension.AGE_GROUP: "age group",
    Dimension.NATIONALITY: "nationality",
    Dimension.EXPLOITATION_TYPE: "type of exploitation",
}
STEP_LABELS: Mapping[Step, str] = {
    Step.IDENTIFICATION: "Identification",
    Step.SHELTER: "Shelter",
    Step.HEALTH: "Health",
    Step.LEGAL: "Legal assistance",
    Step.DOCUMENTATION: "Documentation",
    Step.RETURN_REINTEGRATION: "Return and reintegration",
}
_PERSONS = {CrimeType.TRAFFICKING: "Identified victims", CrimeType.SMUGGLING: "Smuggled persons"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
NO_VALUE = "\u2014"  # an em dash: nothing to show (no figure, or not in the report)


# --- JSON and CSV -------------------------------------------------------------------------


def to_json(report: StatisticsReport) -> str:
    """The model as JSON: what the API serves and what CSV and HTML must agree with."""
    return report.model_dump_json(indent=2)


def to_csv(report: StatisticsReport) -> str:
    """One long table, `section,crime_type,item,category,value`: meta rows first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_rows(report))
    return out.getvalue()


def _csv_rows(report: StatisticsReport) -> Iterator[tuple[str, str, str, str, str]]:
    # Meta values as the JSON writes them (dates, "Z"), so both formats read the same.
    meta = report.model_dump(mode="json")
    for key in ("title", "period_from", "period_to", "timezone", "variant", "generated_at"):
        yield "meta", "", key, "", str(meta[key])
    for figures in report.figures:
        for indicator in Indicator:
            if indicator in figures.values:
                value = _csv_value(figures.values[indicator])
                yield "indicator", figures.crime_type, indicator, "", value
    for breakdown in report.breakdowns:
        for category, cell in breakdown.counts.items():
            crime, dimension = breakdown.crime_type, breakdown.dimension
            yield "breakdown", crime, dimension, category, _csv_value(cell)
    for duration in report.step_durations:
        for measure in ("completed", "median_days", "p90_days"):
            value = _csv_value(getattr(duration, measure))
            yield "step_duration", duration.crime_type, duration.step, measure, value


def _csv_value(value: Cell | float | None) -> str:
    # str() of a float is its shortest round-trip form; None (no figure) is an empty cell.
    return "" if value is None else str(value)


# --- HTML ---------------------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 15mm }
body { font: 10pt/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111;
       max-width: 180mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 4pt } h2 { font-size: 13pt; margin: 14pt 0 4pt }
h3 { font-size: 11pt; margin: 10pt 0 4pt } h4 { font-size: 10pt; margin: 8pt 0 2pt }
h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid }
table { border-collapse: collapse; margin: 2pt 0 8pt }
th, td { border: 0.5pt solid #888; padding: 1.5pt 5pt; text-align: left; vertical-align: top }
thead { display: table-header-group } thead th { background: #e8edf3 }
td.n { text-align: right; font-variant-numeric: tabular-nums }
tr, figure, dt, dd { break-inside: avoid; page-break-inside: avoid }
figure { margin: 2pt 0 8pt } figcaption { font-size: 8.5pt; color: #444 }
svg { display: block; max-width: 100%; height: auto }
dt { font-weight: bold } dd { margin: 0 0 4pt 12pt }
.columns { columns: 3; column-gap: 8mm } .columns table { margin-top: 0 }
.meta { color: #333 } .empty { color: #555; font-style: italic }
"""


def to_html(report: StatisticsReport) -> str:
    """One standalone page that prints on A4: tables show every figure, charts the top ones."""
    body = "\n".join(
        [
            f"<h1>{escape(report.title)}</h1>",
            _meta_html(report),
            "<h2>Indicators</h2>",
            _indicators_html(report),
            "<h2>Definitions</h2>",
            _definitions_html(report.definitions),
            *_breakdowns_html(report),
            *_durations_html(report),
            "<h2>Notes</h2>",
            _list_html(report.notes),
        ]
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(report.title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _meta_html(report: StatisticsReport) -> str:
    period = f"{_day(report.period_from)} to {_day(report.period_to)}"
    if report.variant is Variant.PUBLIC:
        variant = "public: counts from 1 to 4 are shown as &lt;5"
    else:
        variant = "full: every count as recorded, not for publication"
    generated = report.generated_at.isoformat(sep=" ", timespec="minutes")
    return (
        f'<p class="meta">Period: {escape(period)} (days in {escape(report.timezone)}).<br>'
        f"Variant: {variant}.<br>Generated: {escape(generated)}.</p>"
    )


def _indicators_html(report: StatisticsReport) -> str:
    definitions = {d.indicator: d for d in report.definitions}
    head = "".join(f'<th scope="col">{escape(_crime(f.crime_type))}</th>' for f in report.figures)
    rows = []
    for indicator in Indicator:
        label = _indicator_label(definitions.get(indicator), indicator)
        cells = "".join(
            f'<td class="n">{_cell(f.values.get(indicator))}</td>' for f in report.figures
        )
        rows.append(f'<tr><th scope="row">{escape(label)}</th>{cells}</tr>')
    return _table(f'<th scope="col">Indicator</th>{head}', rows, "indicators")


def _definitions_html(definitions: Sequence[Definition]) -> str:
    if not definitions:
        return '<p class="empty">No definitions given.</p>'
    items = (
        f"<dt>{escape(_indicator_label(d, d.indicator))}</dt><dd>{escape(d.definition)}</dd>"
        for d in definitions
    )
    return f"<dl>{''.join(items)}</dl>"


def _breakdowns_html(report: StatisticsReport) -> Iterator[str]:
    if not report.breakdowns:
        return
    yield "<h2>Victims and smuggled persons of the period</h2>"
    persons = _persons_labels(report.definitions)
    for crime in _crime_types(report.breakdowns):
        yield f"<h3>{escape(_crime(crime))}</h3>"
        for breakdown in (b for b in report.breakdowns if b.crime_type == crime):
            dimension = DIMENSION_LABELS.get(breakdown.dimension, breakdown.dimension)
            title = f"{persons.get(crime, _PERSONS.get(crime, 'Persons'))} by {dimension}"
            yield f"<h4>{escape(title)}</h4>"
            yield _breakdown_html(breakdown, title)


def _breakdown_html(breakdown: Breakdown, title: str) -> str:
    if not breakdown.counts:
        return '<p class="empty">Nobody in the period.</p>'
    rows = [
        f'<tr><td>{escape(category)}</td><td class="n">{_cell(cell)}</td></tr>'
        for category, cell in breakdown.counts.items()
    ]
    table = _table('<th scope="col">Category</th><th scope="col">Persons</th>', rows, "")
    if len(rows) > LONG_TABLE:  # in columns: 200 nationalities fit on a page or two
        table = f'<div class="columns">{table}</div>'
    return _breakdown_chart(breakdown, title) + table


def _breakdown_chart(breakdown: Breakdown, title: str) -> str:
    # Only numeric cells are plotted: a bar for "<5" would show what the table hides.
    numeric = [(c, v) for c, v in breakdown.counts.items() if isinstance(v, int)]
    hidden = len(breakdown.counts) - len(numeric)
    notes = []
    if hidden:
        notes.append(f"{hidden} categor{'y' if hidden == 1 else 'ies'} &lt;5 not plotted.")
    if not numeric:
        return f'<p class="empty">No chart: {" ".join(notes)}</p>'
    numeric.sort(key=lambda item: -item[1])  # stable: ties keep the report's order
    rest = len(numeric) > CHART_TOP + 1
    if rest:
        others = numeric[CHART_TOP:]
        notes.insert(0, f"Top {CHART_TOP} of {len(numeric)} categories; the rest in one grey bar.")
        numeric = [*numeric[:CHART_TOP], (f"{len(others)} more", sum(v for _, v in others))]
    key = f"{breakdown.crime_type}-{breakdown.dimension}"
    labels, values = [c for c, _ in numeric], [v for _, v in numeric]
    svg = _bar_svg(key, title, labels, [values], _count, rest=rest)
    return _figure(svg, " ".join(notes))


def _durations_html(report: StatisticsReport) -> Iterator[str]:
    if not report.step_durations:
        return
    yield "<h2>Duration of protection steps</h2>"
    for crime in _crime_types(report.step_durations):
        durations = [d for d in report.step_durations if d.crime_type == crime]
        yield f"<h3>{escape(_crime(crime))}</h3>"
        yield _duration_chart(crime, durations)
        head = "".join(
            f'<th scope="col">{h}</th>'
            for h in ("Step", "Completed", "Median days", "90th percentile days")
        )
        rows = [
            f"<tr><td>{escape(_step(d.step))}</td><td class='n'>{_cell(d.completed)}</td>"
            f"<td class='n'>{_days(d.median_days)}</td><td class='n'>{_days(d.p90_days)}</td></tr>"
            for d in durations
        ]
        yield _table(head, rows, "")


def _duration_chart(crime: CrimeType, durations: Sequence[StepDuration]) -> str:
    # Days, not counts, are plotted; steps with a suppressed count are left out all the same.
    def plotted(d: StepDuration) -> bool:
        return isinstance(d.completed, int) and d.median_days is not None

    shown = [d for d in durations if plotted(d)]
    left_out = [_step(d.step) for d in durations if not plotted(d)]
    caption = (
        "Days from a step's opening to its completion: median (dark), 90th percentile (light)."
    )
    if left_out:
        caption += f" Not plotted, without figures: {', '.join(left_out)}."
    if not shown:
        return f'<p class="empty">No chart: no step has figures.</p><p>{escape(caption)}</p>'
    series = [[d.median_days for d in shown], [d.p90_days for d in shown]]
    title = f"Duration of protection steps, {_crime(crime).lower()}"
    svg = _bar_svg(f"{crime}-steps", title, [_step(d.step) for d in shown], series, _days)
    return _figure(svg, escape(caption))


# --- charts -------------------------------------------------------------------------------

_CHART_LOCK = threading.Lock()  # rcParams and matplotlib's text caches are process-global
_CHART_WIDTH = 6.5  # inches: 165 mm, inside A4's 180 mm between 15 mm margins
_COLOURS = ("#2f5d8a", "#9bb7d4")
_REST_COLOUR = "#a6a6a6"
_SVG_REFS = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _bar_svg(
    key: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Sequence[float | None]],
    fmt: Callable[[float | None], str],
    rest: bool = False,
) -> str:
    """Horizontal bars, one row a label, one bar per series; values written at the bars; with
    `rest`, the last row (the categories past the top ones) in grey.

    Without axes and ticks (the values are labelled): ticks cost most of matplotlib's time.
    """
    with _CHART_LOCK, _chart_rc():
        figure = _draw_bars(labels, series, fmt, rest)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return _inline_svg(out.getvalue(), key, title)


def _draw_bars(
    labels: Sequence[str],
    series: Sequence[Sequence[float | None]],
    fmt: Callable[[float | None], str],
    rest: bool,
) -> Figure:
    per_row = 0.08 + 0.17 * len(series)
    height = 0.15 + per_row * len(labels)
    figure = Figure(figsize=(_CHART_WIDTH, height))
    shown = [_shorten(label) for label in labels]
    left = 0.3  # the same in every chart, so their bars line up down the page
    axes = figure.add_axes((left, 0.05 / height, 0.86 - left, 1 - 0.1 / height))
    axes.set_axis_off()
    top = max((v for values in series for v in values if v is not None), default=0.0)
    axes.set_xlim(0, top * 1.2 or 1)
    axes.set_ylim(len(labels) - 0.5, -0.5)
    bar = 0.8 / len(series)
    for index, values in enumerate(series):
        offset = (index - (len(series) - 1) / 2) * bar
        bars = [(row + offset, v) for row, v in enumerate(values) if v is not None]
        colours = [_COLOURS[index % 2]] * len(values)
        if rest:
            colours[-1] = _REST_COLOUR
        axes.barh([y for y, _ in bars], [v for _, v in bars], height=bar * 0.9,
                  color=[colours[round(y - offset)] for y, _ in bars])  # fmt: skip
        for y, value in bars:
            axes.text(value, y, f" {fmt(value)}", va="center", parse_math=False)
    labels_at = blended_transform_factory(axes.transAxes, axes.transData)
    for row, label in enumerate(shown):
        axes.text(-0.01, row, label, transform=labels_at, ha="right", va="center",
                  parse_math=False)  # fmt: skip
    return figure


def _chart_rc() -> AbstractContextManager[None]:
    # Text stays text (smaller, faster, selectable); a fixed salt makes the ids repeatable.
    return matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "amparo", "font.size": 8})


def _inline_svg(svg: str, key: str, title: str) -> str:
    # Inline SVGs share one id space: prefix each chart's ids; drop the XML prolog and RDF.
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    svg = _SVG_REFS.sub(lambda m: f"{m[1]}{key}-{m[2]}", svg)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" ', 1)


def _shorten(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "\u2026"


# --- small pieces -------------------------------------------------------------------------


def _table(head: str, rows: Sequence[str], css_class: str) -> str:
    cls = f' class="{css_class}"' if css_class else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure(svg: str, caption_html: str) -> str:
    caption = f"<figcaption>{caption_html}</figcaption>" if caption_html else ""
    return f"<figure>{svg}{caption}</figure>"


def _list_html(items: Sequence[str]) -> str:
    if not items:
        return '<p class="empty">No notes.</p>'
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _cell(value: Cell | None) -> str:
    if value is None:
        return NO_VALUE
    return f"{value:,}" if isinstance(value, int) else escape(value)


def _count(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.0f}"


def _days(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:,.1f}"


def _day(day: date) -> str:
    # Month names by hand: strftime's %B follows the server's locale.
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _crime(crime: CrimeType) -> str:
    return CRIME_LABELS.get(crime, str(crime))


def _step(step: Step) -> str:
    return STEP_LABELS.get(step, str(step).replace("_", " ").capitalize())


def _indicator_label(definition: Definition | None, indicator: Indicator) -> str:
    """The seed's row name; where the crime types name it differently, both names."""
    if definition is None:
        return str(indicator).replace("_", " ").capitalize()
    if definition.label == definition.smuggling_label:
        return definition.label
    return f"{definition.label} / {definition.smuggling_label}"


def _persons_labels(definitions: Sequence[Definition]) -> dict[CrimeType, str]:
    victims = next((d for d in definitions if d.indicator is Indicator.VICTIMS), None)
    if victims is None:
        return {}
    return {CrimeType.TRAFFICKING: victims.label, CrimeType.SMUGGLING: victims.smuggling_label}


def _crime_types(rows: Sequence[Breakdown] | Sequence[StepDuration]) -> list[CrimeType]:
    return list(dict.fromkeys(row.crime_type for row in rows))


# --- one entry point ----------------------------------------------------------------------

_RENDERERS: Mapping[str, Callable[[StatisticsReport], str]] = {
    "json": to_json,
    "csv": to_csv,
    "html": to_html,
}


def render(report: StatisticsReport, fmt: str) -> tuple[str, str]:
    """(body, media type) for `fmt` in json, csv, html: what an HTTP handler sends."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown report format {fmt!r}: one of {', '.join(_RENDERERS)}")
    return renderer(report), MEDIA_TYPES[fmt]
